// Public entry of @foundation/config: everything users may import is exported here, by name.
export { createConfig } from './config';
export type { ConfigOptions, ConfigOptionsWithSchema, ConfigOptionsWithoutSchema } from './config';
export type {
  Config,
  ConfigChange,
  ConfigListener,
  ConfigNotification,
  ConfigOptionsBase,
  ConfigPathOf,
  ConfigResult,
  ConfigSources,
  ConfigStatus,
  ConfigValueAt,
  ConfigWrite,
  ConfigWriteListener,
  DeepPartial,
  DeepReadonly,
} from './types';
export { formatPath } from './format-path';
export { parsePath } from './path';
export type { ConfigPath } from './path';
export type { EnvironmentSourceOptions } from './sources/environment';
export type { FileSourceOptions } from './sources/json-file';
export type {
  InferSchemaInput,
  InferSchemaOutput,
  StandardSchemaFailure,
  StandardSchemaIssue,
  StandardSchemaPathSegment,
  StandardSchemaProps,
  StandardSchemaResult,
  StandardSchemaSuccess,
  StandardSchemaTypes,
  StandardSchemaV1,
} from './standard-schema';
export type { AppliedEntry, ConfigCommand, ConsensusLog, ConsensusLogCallOptions } from './ports/consensus-log';
export { CONFIG_ERROR_CODES } from './errors/config-error-codes';
export type { ConfigErrorCode } from './errors/config-error-codes';
export { ConfigPathNotFoundError } from './errors/config-path-not-found-error';
export { ConfigUpdateForbiddenError } from './errors/config-update-forbidden-error';
export { ConfigValidationError } from './errors/config-validation-error';
export type { ConfigIssue, ConfigValidationErrorOptions } from './errors/config-validation-error';
export { ConfigSecurityError } from './errors/config-security-error';
export type { ConfigSecurityReason } from './errors/config-security-error';
export { ConfigPathError } from './errors/config-path-error';
export { ConfigStructureError } from './errors/config-structure-error';
export { ConfigSourceError } from './errors/config-source-error';
export type { ConfigSourceKind } from './errors/config-source-error';
export { ConfigSchemaError } from './errors/config-schema-error';
export { ConfigSubscriberError } from './errors/config-subscriber-error';
export { ConfigReentrantUpdateError } from './errors/config-reentrant-update-error';
