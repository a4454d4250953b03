// The series of one metric, keyed by their tag values through nested maps (one level per tag),
// so recording into an existing series allocates nothing. Bounded: past `limit` series, a new
// one is refused and the caller drops the sample.

type Level<S> = Map<string, Level<S> | S>;

export interface SeriesEntry<S> {
  readonly tags: readonly string[];
  readonly series: S;
}

export class SeriesTable<S> {
  readonly #depth: number;
  readonly #limit: number;
  readonly #root: Level<S> = new Map();
  readonly #entries: SeriesEntry<S>[] = [];
  #single: S | undefined;

  constructor(depth: number, limit: number) {
    this.#depth = depth;
    this.#limit = limit;
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The series for `tags` (one value per tag), if it exists. */
  get(tags: readonly string[]): S | undefined {
    if (this.#depth === 0) return this.#single;
    let level: Level<S> | undefined = this.#root;
    for (let index = 0; index < this.#depth - 1 && level !== undefined; index += 1) level = level.get(tags[index]!) as Level<S> | undefined;
    return level?.get(tags[this.#depth - 1]!) as S | undefined;
  }

  /** Adds `series` for `tags` (which must be new); false past the limit. */
  add(tags: readonly string[], series: S): boolean {
    if (this.#entries.length >= this.#limit) return false;
    if (this.#depth === 0) {
      this.#single = series;
    } else {
      let level = this.#root;
      for (let index = 0; index < this.#depth - 1; index += 1) {
        let next = level.get(tags[index]!) as Level<S> | undefined;
        if (next === undefined) {
          next = new Map();
          level.set(tags[index]!, next);
        }
        level = next;
      }
      level.set(tags[this.#depth - 1]!, series);
    }
    this.#entries.push({ tags: Object.freeze([...tags]), series });
    return true;
  }

  entries(): readonly SeriesEntry<S>[] {
    return this.#entries;
  }
}
