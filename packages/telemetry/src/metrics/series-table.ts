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

  /** The series for `tags` (one value per tag), created with `create` if new; undefined past the limit. */
  getOrCreate(tags: readonly string[], create: () => S): S | undefined {
    if (this.#depth === 0) {
      if (this.#single === undefined) {
        this.#single = create();
        this.#entries.push({ tags: [], series: this.#single });
      }
      return this.#single;
    }
    let level = this.#root;
    for (let index = 0; index < this.#depth - 1; index += 1) {
      let next = level.get(tags[index]!) as Level<S> | undefined;
      if (next === undefined) {
        if (this.#entries.length >= this.#limit) return undefined;
        next = new Map();
        level.set(tags[index]!, next);
      }
      level = next;
    }
    const key = tags[this.#depth - 1]!;
    let series = level.get(key) as S | undefined;
    if (series === undefined) {
      if (this.#entries.length >= this.#limit) return undefined;
      series = create();
      level.set(key, series);
      this.#entries.push({ tags: Object.freeze([...tags]), series });
    }
    return series;
  }

  entries(): readonly SeriesEntry<S>[] {
    return this.#entries;
  }
}
