// Local names, as the BEAM's register/whereis/unregister: a name stands for one live process, a
// process has at most one name, and a name dies with its process.
import type { Pid } from '../core/pid';
import { NameTakenError } from '../errors/name-taken-error';
import { DEAD } from './lifecycle';
import type { ProcessRecord } from './process-record';

export class NameRegistry {
  private readonly byName = new Map<string, ProcessRecord>();

  /** The process registered under `name`. */
  get(name: string): ProcessRecord | undefined {
    return this.byName.get(name);
  }

  /** Throws NameTakenError when a live process holds `name`. */
  checkFree(name: string): void {
    const holder = this.byName.get(name);
    if (holder !== undefined && holder.status !== DEAD) throw new NameTakenError(name, holder.pid.toString(), 'name-taken');
  }

  /** Gives `record` the name (checked free beforehand). */
  claim(name: string, record: ProcessRecord): void {
    this.byName.set(name, record);
    record.name = name;
  }

  /** `register(name, pid)` for a live local process; registering its own name again is a no-op. */
  register(name: string, record: ProcessRecord, pid: Pid): void {
    if (record.name === name) return;
    this.checkFree(name);
    if (record.name !== undefined) throw new NameTakenError(record.name, pid.toString(), 'already-named');
    this.claim(name, record);
  }

  unregister(name: string): void {
    const record = this.byName.get(name);
    if (record === undefined) return;
    this.byName.delete(name);
    record.name = undefined;
  }

  whereis(name: string): Pid | undefined {
    return this.byName.get(name)?.pid;
  }

  registered(): string[] {
    return [...this.byName.keys()];
  }

  /** The process has exited: its name is free again. */
  release(record: ProcessRecord): void {
    if (record.name !== undefined && this.byName.get(record.name) === record) this.byName.delete(record.name);
  }
}
