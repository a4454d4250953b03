// The lock table inside the replicated state machine. Every decision is a function of the
// command and the table, so every node decides the same: time enters only as the proposer's
// clock reading carried in the command. The fencing token of a grant is the log index of the
// command that granted it, so tokens only ever grow.

export type LockCommand =
  | { readonly op: 'acquire'; readonly name: string; readonly owner: string; readonly leaseMs: number; readonly now: number }
  | { readonly op: 'renew'; readonly name: string; readonly token: number; readonly leaseMs: number; readonly now: number }
  | { readonly op: 'release'; readonly name: string; readonly token: number };

export interface LockState {
  readonly name: string;
  readonly owner: string;
  readonly token: number;
  readonly expiresAt: number;
}

export type LockResult =
  | { readonly op: 'acquire'; readonly acquired: true; readonly lock: LockState }
  | { readonly op: 'acquire'; readonly acquired: false; readonly holder: LockState }
  | { readonly op: 'renew'; readonly renewed: boolean; readonly lock: LockState | null }
  | { readonly op: 'release'; readonly released: boolean };

export class LockTable {
  private readonly locks = new Map<string, LockState>();

  apply(command: LockCommand, index: number): LockResult {
    // The log may hold anything a proposer sent: refuse what would corrupt the table (a NaN or
    // infinite expiry never passes, so it would hold the lock for good; two finite numbers can
    // add up to Infinity). The state machine turns the throw into a refusal on every replica alike.
    if (typeof command.name !== 'string') throw new TypeError('lock command without a name');
    // An op not known here would fall through the switch below and answer with no value at all.
    if (command.op !== 'acquire' && command.op !== 'renew' && command.op !== 'release') throw new TypeError('lock command with an unknown op');
    if (command.op !== 'release' && (!Number.isFinite(command.leaseMs) || command.leaseMs <= 0 || !Number.isFinite(command.now) || !Number.isFinite(command.now + command.leaseMs))) {
      throw new TypeError('lock command with an invalid lease or time');
    }
    if (command.op === 'acquire' && typeof command.owner !== 'string') throw new TypeError('lock command without an owner');
    const current = this.locks.get(command.name);
    switch (command.op) {
      case 'acquire': {
        const free = current === undefined || command.now >= current.expiresAt;
        if (!free && current.owner !== command.owner) return { op: 'acquire', acquired: false, holder: current };
        const lock = { name: command.name, owner: command.owner, token: index, expiresAt: command.now + command.leaseMs };
        this.locks.set(command.name, lock);
        return { op: 'acquire', acquired: true, lock };
      }
      case 'renew': {
        if (current === undefined || current.token !== command.token) return { op: 'renew', renewed: false, lock: current ?? null };
        const lock = { ...current, expiresAt: Math.max(current.expiresAt, command.now + command.leaseMs) };
        this.locks.set(command.name, lock);
        return { op: 'renew', renewed: true, lock };
      }
      case 'release': {
        if (current === undefined || current.token !== command.token) return { op: 'release', released: false };
        this.locks.delete(command.name);
        return { op: 'release', released: true };
      }
    }
  }

  get(name: string): LockState | null {
    return this.locks.get(name) ?? null;
  }

  entries(): LockState[] {
    return [...this.locks.values()];
  }

  /** The leases held, without a copy of the list (do not apply commands while iterating). */
  values(): IterableIterator<LockState> {
    return this.locks.values();
  }

  restore(locks: readonly LockState[]): void {
    this.locks.clear();
    for (const lock of locks) this.locks.set(lock.name, lock);
  }
}
