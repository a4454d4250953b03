// Running a Standard Schema validator over a whole candidate config, synchronously, and turning
// its issues into a ConfigValidationError that names the path, the issues and where the values
// came from.
import { ConfigSchemaError } from '../errors/config-schema-error';
import type { ConfigIssue } from '../errors/config-validation-error';
import { ConfigValidationError } from '../errors/config-validation-error';
import type { StandardSchemaIssue, StandardSchemaResult, StandardSchemaV1 } from '../standard-schema';

/**
 * Issue codes that mean "a value outside its range", by vendor: zod (`too_big`, `too_small`),
 * valibot (`min_value`, `max_value`, `gt_value`, `lt_value`...), arktype (`min`, `max`...).
 * When every issue has one of these, the error is 1.x `range_error` (1203).
 */
const RANGE_CODES = new Set([
  'too_big',
  'too_small',
  'min_value',
  'max_value',
  'gt_value',
  'lt_value',
  'min_length',
  'max_length',
  'min_size',
  'max_size',
  'min',
  'max',
  'after',
  'before',
  'minLength',
  'maxLength',
  'exclusiveMin',
  'exclusiveMax',
]);

/** Checks that `schema` is a Standard Schema v1 validator. */
export function checkSchema(schema: unknown): StandardSchemaV1 | undefined {
  if (schema === undefined) return undefined;
  const props: unknown = schema !== null && (typeof schema === 'object' || typeof schema === 'function') ? (schema as { '~standard'?: unknown })['~standard'] : undefined;
  if (props === undefined || props === null || typeof props !== 'object') {
    throw new ConfigSchemaError('not a Standard Schema v1 validator (no "~standard" property); zod 3.24+, valibot 1+ and arktype 2+ are');
  }
  const { version, validate } = props as { version?: unknown; validate?: unknown };
  if (version !== 1) throw new ConfigSchemaError(`Standard Schema version ${String(version)} is not supported (only 1)`);
  if (typeof validate !== 'function') throw new ConfigSchemaError('"~standard".validate is not a function');
  return schema as StandardSchemaV1;
}

function issueCode(issue: StandardSchemaIssue): string | undefined {
  const record = issue as unknown as Record<string, unknown>;
  for (const field of ['code', 'kind', 'type']) {
    const value = record[field];
    if (typeof value === 'string' && value.length <= 100) return value;
  }
  return undefined;
}

function issuePath(issue: StandardSchemaIssue): string[] {
  const path = issue.path ?? [];
  return path.map((segment) => {
    const key = typeof segment === 'object' && segment !== null ? (segment as { key: PropertyKey }).key : segment;
    return typeof key === 'symbol' ? key.toString() : String(key);
  });
}

/** A source that set the value at `path` (all of it: a later one replaces it at and below its own path). */
export interface ValueOrigin {
  readonly path: readonly string[];
  readonly label: string;
}

export interface SchemaRunContext {
  /** The path being updated, if any. */
  readonly path?: readonly string[] | undefined;
  /** Where values came from, for messages, in the order the sources set them. */
  readonly origins?: readonly ValueOrigin[] | undefined;
}

const keyOf = (path: readonly string[], length = path.length): string => path.slice(0, length).join('\u0000');

/**
 * The labels of the sources that gave the values the issues are about. The value at an issue's
 * path came from the last source that set it or a path above it (none: the defaults); values
 * below it from the sources that set paths below it. A source whose value a later one replaced
 * whole (at its path or above) gave nothing that is left.
 */
function originsFor(issues: readonly ConfigIssue[], context: SchemaRunContext): string[] {
  if (context.origins === undefined || context.origins.length === 0) return [];
  const setBy = new Map<string, string>(); // path → the label of the source whose value is there
  const below = new Map<string, Set<string>>(); // path → labels of the sources whose values are beneath it
  const replaced = new Set<string>();
  for (let position = context.origins.length - 1; position >= 0; position -= 1) {
    const { path, label } = context.origins[position]!;
    let gone = false;
    for (let length = 0; length <= path.length && !gone; length += 1) gone = replaced.has(keyOf(path, length));
    replaced.add(keyOf(path));
    if (gone) continue;
    setBy.set(keyOf(path), label);
    for (let length = 0; length < path.length; length += 1) {
      const key = keyOf(path, length);
      let labels = below.get(key);
      if (labels === undefined) below.set(key, (labels = new Set()));
      labels.add(label);
    }
  }
  const labels = new Set<string>();
  for (const issue of issues) {
    for (let length = issue.path.length; length >= 0; length -= 1) {
      const label = setBy.get(keyOf(issue.path, length));
      if (label !== undefined) {
        labels.add(label);
        break;
      }
    }
    for (const label of below.get(keyOf(issue.path)) ?? []) labels.add(label);
  }
  return [...labels];
}

/**
 * The schema's output for `candidate`, or a ConfigValidationError. A schema that answers with a
 * promise is refused (ConfigSchemaError): config reads and updates are synchronous.
 */
export function runSchema(schema: StandardSchemaV1 | undefined, candidate: unknown, context: SchemaRunContext = {}): unknown {
  if (schema === undefined) return candidate;
  let result: StandardSchemaResult<unknown> | Promise<StandardSchemaResult<unknown>>;
  try {
    result = schema['~standard'].validate(candidate);
  } catch (error) {
    const path = context.path ?? [];
    throw new ConfigValidationError({
      path: context.path,
      issues: [{ path, message: `the validator threw: ${error instanceof Error ? error.message : String(error)}` }],
      cause: error,
    });
  }
  if (typeof (result as { then?: unknown }).then === 'function') {
    // Nobody will await it; keep its rejection from surfacing as an unhandled one.
    (result as Promise<unknown>).then(undefined, () => undefined);
    throw new ConfigSchemaError(
      `the ${schema['~standard'].vendor} schema validated asynchronously (an async refinement or transform?); config validation must be synchronous`,
    );
  }
  const settled = result as StandardSchemaResult<unknown>;
  if (settled.issues === undefined) return settled.value;
  const issues: ConfigIssue[] = settled.issues.map((issue) => {
    const code = issueCode(issue);
    return { path: issuePath(issue), message: String(issue.message), ...(code === undefined ? {} : { code }) };
  });
  if (issues.length === 0) issues.push({ path: context.path ?? [], message: 'the validator failed without naming an issue' });
  const range = issues.every((issue) => issue.code !== undefined && RANGE_CODES.has(issue.code));
  const origins = originsFor(issues, context);
  throw new ConfigValidationError({ path: context.path, issues, range, ...(origins.length === 0 ? {} : { origins }) });
}
