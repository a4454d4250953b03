// Events made by a store's `newEvent`: instances of this class carry, in a private field, a
// token of the store that made them. A store stores its own events without checking them again
// (they were checked and frozen when made); anything else, including a spread copy
// `{ ...event }` (which drops the private field), is checked as foreign. A private field cannot
// be forged or copied, and checking it costs far less than a WeakSet, whose entries burden the
// garbage collector. (The class is named FoundationEvent so that events print as such.)
export const MadeEvent = class FoundationEvent<Data> {
  readonly id: number;
  readonly type: string;
  readonly data: Data;
  readonly correlationId: string;
  readonly parentId: number | null;
  readonly timestamp: number;
  readonly wallTime: number;
  readonly node: string;
  readonly #maker: object;
  /** Whether the data holds a byte array (the one part of it freezing does not protect). */
  readonly #bytes: boolean;

  constructor(
    maker: object,
    id: number,
    type: string,
    data: Data,
    correlationId: string,
    parentId: number | null,
    timestamp: number,
    wallTime: number,
    node: string,
    bytes: boolean,
  ) {
    this.id = id;
    this.type = type;
    this.data = data;
    this.correlationId = correlationId;
    this.parentId = parentId;
    this.timestamp = timestamp;
    this.wallTime = wallTime;
    this.node = node;
    this.#maker = maker;
    this.#bytes = bytes;
    Object.freeze(this);
  }

  /** True when `value` was made (and so checked) by some store of this package. */
  static isMade(value: unknown): boolean {
    return typeof value === 'object' && value !== null && #maker in value;
  }

  /** For an event some store made, whether its data holds a byte array; undefined for any other value. */
  static holdsBytes(value: unknown): boolean | undefined {
    return typeof value === 'object' && value !== null && #bytes in value ? value.#bytes : undefined;
  }

  /** True when `value` was made by the store whose token is `maker`. */
  static madeBy(value: unknown, maker: object): boolean {
    return typeof value === 'object' && value !== null && #maker in value && value.#maker === maker;
  }
};
