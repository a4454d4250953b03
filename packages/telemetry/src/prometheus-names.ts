// Names as the Prometheus exposition needs them, and the naming rules `promtool check metrics`
// enforces (its lint, from Prometheus's naming conventions): snake_case, no ':', counters end in
// `_total` and nothing else does, base units (seconds, bytes...) spelled out, no metric type in
// the name, no `le` or `quantile` labels outside histograms and summaries.

/** `http.requestDuration` → `http_request_duration`; undefined when nothing usable is left. */
export function toPrometheusName(name: string): string | undefined {
  const snake = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
  return /^[a-z][a-z0-9_]*$/.test(snake) ? snake : undefined;
}

/** A tag name as a label name (same conversion; labels starting with `__` are reserved). */
export function toLabelName(tag: string): string | undefined {
  return toPrometheusName(tag);
}

const NON_BASE_UNITS: ReadonlyMap<string, string> = new Map(Object.entries({
  minutes: 'seconds',
  hours: 'seconds',
  days: 'seconds',
  weeks: 'seconds',
  kelvin: 'celsius',
  kelvins: 'celsius',
  fahrenheit: 'celsius',
  rankine: 'celsius',
  inches: 'meters',
  yards: 'meters',
  miles: 'meters',
  bits: 'bytes',
  calories: 'joules',
  pounds: 'grams',
  ounces: 'grams',
}));
const BASE_UNITS = ['amperes', 'bytes', 'celsius', 'grams', 'joules', 'meters', 'metres', 'seconds', 'volts'];
const UNIT_PREFIXES = ['pico', 'nano', 'micro', 'milli', 'centi', 'deci', 'deca', 'hecto', 'kilo', 'kibi', 'mega', 'mibi', 'giga', 'gibi', 'tera', 'tebi', 'peta', 'pebi'];
const ABBREVIATED_UNITS = ['s', 'ms', 'us', 'ns', 'sec', 'b', 'kb', 'mb', 'gb', 'tb', 'pb', 'm', 'h', 'd'];
const TYPE_WORDS = ['counter', 'gauge', 'summary', 'histogram', 'gauge_histogram'];
const SUFFIXES_OF_OTHER_TYPES = ['_total', '_count', '_sum', '_bucket'];

function hasToken(name: string, token: string): boolean {
  return name.includes(`_${token}_`) || name.endsWith(`_${token}`);
}

/**
 * What `promtool check metrics` would object to in a family named `family` (already converted
 * by `toPrometheusName`, with `_total` for counters). Empty when the name is clean.
 */
export function prometheusNameProblems(family: string, isCounter: boolean): string[] {
  const problems: string[] = [];
  // A counter's family always ends in _total; other families must not end in a type suffix.
  for (const suffix of isCounter ? [] : SUFFIXES_OF_OTHER_TYPES) {
    if (family.endsWith(suffix)) problems.push(`must not end in "${suffix}" (the exposition adds type suffixes itself)`);
  }
  for (const token of family.split('_')) {
    const base = NON_BASE_UNITS.get(token);
    if (base !== undefined) problems.push(`uses "${token}": use the base unit "${base}" and scale the measurement`);
    for (const prefix of UNIT_PREFIXES) {
      if (token.startsWith(prefix)) {
        const unit = token.slice(prefix.length);
        if (BASE_UNITS.includes(unit) || NON_BASE_UNITS.has(unit)) {
          problems.push(`uses "${token}": use the base unit "${NON_BASE_UNITS.get(unit) ?? unit}" and scale the measurement (scale: 0.001 turns ms into seconds)`);
        }
      }
    }
  }
  for (const word of TYPE_WORDS) if (hasToken(family, word)) problems.push(`must not contain the metric type "${word}"`);
  for (const unit of ABBREVIATED_UNITS) if (hasToken(family, unit)) problems.push(`must not contain the abbreviated unit "${unit}"`);
  return problems;
}

/** Label names the exposition reserves. */
export function labelNameProblem(label: string): string | undefined {
  if (label === 'le' || label === 'quantile') return `"${label}" is reserved for histogram buckets and summary quantiles`;
  return undefined;
}
