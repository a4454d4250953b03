// The application config every chaos node starts with, and the vocabulary the config writers draw
// from. Every node has the same layers and schema (the README's condition for cluster-wide values
// to replay to the same config everywhere); the updatable part is an object of a few keys and an
// array, and the schema refuses values by rules that span paths (a level above the cap, an item
// above the cap), so that a write checked as valid on its node can still be refused where it is
// applied, when another write committed just before it lowered the cap or shortened the array.
import type { StandardSchemaIssue, StandardSchemaV1 } from '@foundation/config';

export const CHAOS_MODES = ['fast', 'safe', 'off'] as const;
/** The highest cap, level and item the schema takes. */
export const CHAOS_VALUE_MAX = 100;
/** The most items the array may hold: appends past it are refused. */
export const CHAOS_ITEMS_MAX = 16;

// Type aliases rather than interfaces: startNode's config option takes a Record, which an
// interface (open to merging) is not.
export type ChaosTuning = {
  readonly cap: number;
  readonly level: number;
  readonly mode: (typeof CHAOS_MODES)[number];
  readonly label: string;
};

export type ChaosConfig = {
  readonly tuning: ChaosTuning;
  readonly items: readonly number[];
};

export const CHAOS_CONFIG_DEFAULTS: ChaosConfig = { tuning: { cap: 50, level: 10, mode: 'safe', label: 'start' }, items: [1, 2] };

/** The paths the config writers set (and everything beneath them). */
export const CHAOS_UPDATABLE_PATHS = ['tuning', 'items'] as const;

const isWhole = (value: unknown, min: number, max: number): value is number => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

/** The config's issues, empty when it is valid. */
export function chaosConfigIssues(value: unknown): StandardSchemaIssue[] {
  const issues: StandardSchemaIssue[] = [];
  if (typeof value !== 'object' || value === null) return [{ message: 'the config must be an object' }];
  const { tuning, items } = value as Record<string, unknown>;
  const keys = Object.keys(value);
  for (const key of keys) if (key !== 'tuning' && key !== 'items') issues.push({ message: `unknown key ${key}`, path: [key] });
  let cap = CHAOS_VALUE_MAX;
  if (typeof tuning !== 'object' || tuning === null || Array.isArray(tuning)) {
    issues.push({ message: 'tuning must be an object', path: ['tuning'] });
  } else {
    const { cap: givenCap, level, mode, label } = tuning as Record<string, unknown>;
    for (const key of Object.keys(tuning)) if (!['cap', 'level', 'mode', 'label'].includes(key)) issues.push({ message: `unknown key ${key}`, path: ['tuning', key] });
    if (isWhole(givenCap, 1, CHAOS_VALUE_MAX)) cap = givenCap;
    else issues.push({ message: `cap must be a whole number from 1 to ${CHAOS_VALUE_MAX}`, path: ['tuning', 'cap'] });
    if (!isWhole(level, 0, CHAOS_VALUE_MAX)) issues.push({ message: `level must be a whole number from 0 to ${CHAOS_VALUE_MAX}`, path: ['tuning', 'level'] });
    else if (level > cap) issues.push({ message: `level ${level} is above the cap ${cap}`, path: ['tuning', 'level'] });
    if (!(CHAOS_MODES as readonly unknown[]).includes(mode)) issues.push({ message: `mode must be one of ${CHAOS_MODES.join(', ')}`, path: ['tuning', 'mode'] });
    if (typeof label !== 'string' || label.length > 16) issues.push({ message: 'label must be a string of at most 16 characters', path: ['tuning', 'label'] });
  }
  if (!Array.isArray(items)) {
    issues.push({ message: 'items must be an array', path: ['items'] });
  } else {
    if (items.length > CHAOS_ITEMS_MAX) issues.push({ message: `at most ${CHAOS_ITEMS_MAX} items`, path: ['items'] });
    items.forEach((item: unknown, index) => {
      if (!isWhole(item, 0, CHAOS_VALUE_MAX)) issues.push({ message: `an item must be a whole number from 0 to ${CHAOS_VALUE_MAX}`, path: ['items', index] });
      else if (item > cap) issues.push({ message: `item ${item} is above the cap ${cap}`, path: ['items', index] });
    });
  }
  return issues;
}

/** A Standard Schema v1 validator of the chaos config (written out: the app takes no validator library). */
export const chaosConfigSchema: StandardSchemaV1<ChaosConfig> = {
  '~standard': {
    version: 1,
    vendor: 'chaos',
    validate(value) {
      const issues = chaosConfigIssues(value);
      return issues.length === 0 ? { value: value as ChaosConfig } : { issues };
    },
  },
};

/** startNode's `config` option for a chaos node. */
export function chaosConfigOptions(): { defaults: ChaosConfig; schema: StandardSchemaV1<ChaosConfig>; updatablePaths: string[]; namespace: string } {
  return { defaults: CHAOS_CONFIG_DEFAULTS, schema: chaosConfigSchema, updatablePaths: [...CHAOS_UPDATABLE_PATHS], namespace: 'chaos' };
}
