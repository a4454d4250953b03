// The Standard Schema v1 interface (https://standardschema.dev), copied here as the spec asks
// libraries to do rather than depend on a package. zod (3.24+ and 4), valibot (1.0+) and arktype
// (2.0+) implement it, so any of them can validate a config. Flat names replace the spec's
// `StandardSchemaV1` namespace; the shapes are the spec's, so they match structurally.

/** A validator that follows Standard Schema v1. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaProps<Input, Output>;
}

export interface StandardSchemaProps<Input = unknown, Output = Input> {
  /** Always 1 for this version of the spec. */
  readonly version: 1;
  /** The library that implements the schema: `zod`, `valibot`, `arktype`... */
  readonly vendor: string;
  /** Validates `value`: synchronously for every schema this package accepts. */
  readonly validate: (value: unknown) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>;
  /** Type-only: the schema's input and output types. */
  readonly types?: StandardSchemaTypes<Input, Output> | undefined;
}

export type StandardSchemaResult<Output> = StandardSchemaSuccess<Output> | StandardSchemaFailure;

export interface StandardSchemaSuccess<Output> {
  readonly value: Output;
  readonly issues?: undefined;
}

export interface StandardSchemaFailure {
  readonly issues: readonly StandardSchemaIssue[];
}

export interface StandardSchemaIssue {
  readonly message: string;
  readonly path?: readonly (PropertyKey | StandardSchemaPathSegment)[] | undefined;
}

export interface StandardSchemaPathSegment {
  readonly key: PropertyKey;
}

export interface StandardSchemaTypes<Input = unknown, Output = Input> {
  readonly input: Input;
  readonly output: Output;
}

/** The type a schema accepts. */
export type InferSchemaInput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['input'];

/** The type a schema produces (the config's type when it validates one). */
export type InferSchemaOutput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['output'];
