/**
 * Codes of @foundation/config. The 1.x config codes (1201, 1203, 1301, 1401, 1101) are reused
 * where 1.x defined them; codes of this package's own (range 5400–5499) cover what 1.x had no
 * code for.
 */
export const CONFIG_ERROR_CODES = Object.freeze({
  /** 1.x `invalid_config_structure`: defaults or a source whose root is not a plain object. */
  invalidStructure: 1101,
  /** 1.x `invalid_config_value`: a value the validator (or the plain-data rules) rejected. */
  invalidValue: 1201,
  /** 1.x `range_error`: every issue the validator reported is an out-of-range value. */
  rangeError: 1203,
  /** 1.x `config_path_not_found`: the path leads nowhere in the current config. */
  pathNotFound: 1301,
  /** 1.x `config_update_forbidden`: the path is not on the update allow-list. */
  updateForbidden: 1401,
  /** A path segment or value that could reach a prototype, or a value that is not plain data. */
  securityViolation: 5401,
  /** The JSON file or the environment could not be read or parsed. */
  sourceFailed: 5402,
  /** The schema is not a Standard Schema v1, or it validated asynchronously. */
  schemaUnsupported: 5403,
  /** A subscriber threw (or its promise rejected); reported, never propagated to the updater. */
  subscriberFailed: 5404,
  /** `update` or `reset` was called from inside the schema's own validation. */
  reentrantUpdate: 5405,
  /** A path that is not a path: empty, too long, or with an empty or malformed segment. */
  invalidPath: 5406,
});

export type ConfigErrorCode = (typeof CONFIG_ERROR_CODES)[keyof typeof CONFIG_ERROR_CODES];
