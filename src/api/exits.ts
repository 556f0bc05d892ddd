// Exit tracking for the Runtime: one pidfd watch per container, started the
// moment the Runtime has the container (at create, or at the first wait() for
// a container someone else created), so an exit that happens before anybody
// asks is still collected and remembered. The watches run on the addon's epoll
// thread: waiting blocks neither the event loop nor the libuv pool.
import { closeSync } from 'node:fs';
import { native, type ExitStatus as RawStatus } from '../native/binding.js';
import { signalName } from '../oci/signals.js';
import type { ContainerRecord } from '../state/store.js';
import type { ExitEvent, ExitStatus } from './types.js';

export interface Tracked {
  readonly id: string;
  readonly pid: number;
  readonly startTime: string;
  /** Created by this process: its exit keeps the event loop alive and its status is known. */
  readonly owned: boolean;
  readonly exited: Promise<ExitStatus>;
  /** Set once the exit was observed. */
  status?: ExitStatus;
  /** Pending wait() calls, for containers we do not own (see release). */
  waiters: number;
  watch: number;
}

export const UNKNOWN_EXIT: Readonly<ExitStatus> = Object.freeze({ exitCode: null, signal: null, known: false });

/** The addon's status with the signal by name. */
export function toStatus(raw: RawStatus): ExitStatus {
  if (!raw.known) return { ...UNKNOWN_EXIT };
  const signal = raw.signal === null ? null : signalName(raw.signal) ?? `SIG${raw.signal}`;
  return { exitCode: raw.exitCode, signal, known: true };
}

export class ExitTracker {
  private readonly byId = new Map<string, Tracked>();
  private readonly listeners = new Set<(ev: ExitEvent) => void>();

  /**
   * Starts watching the process behind pidfd (which stays the caller's: the
   * addon watches its own duplicate). Replaces any entry under the same id.
   */
  track(record: ContainerRecord, pidfd: number, owned: boolean): Tracked {
    let settle!: (s: ExitStatus) => void;
    const exited = new Promise<ExitStatus>((resolve) => { settle = resolve; });
    const entry: Tracked = { id: record.id, pid: record.pid, startTime: record.pidStartTime, owned, exited, waiters: 0, watch: 0 };
    entry.watch = native().watchExit(pidfd, (raw) => {
      const status = toStatus(raw);
      entry.status = status;
      settle(status);
      this.emit({ type: 'exit', id: entry.id, pid: entry.pid, status, time: new Date() });
    });
    this.byId.set(record.id, entry);
    return entry;
  }

  /**
   * The entry for id, if it still describes the container that now has that
   * id (`record` undefined: the state is gone, e.g. deleted by the CLI).
   */
  get(id: string, record: ContainerRecord | undefined): Tracked | undefined {
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    if (record && (record.pid !== entry.pid || record.pidStartTime !== entry.startTime)) {
      // Deleted and re-created behind our back: this entry is history.
      this.forget(id);
      return undefined;
    }
    return entry;
  }

  /** Drops the entry; an owned container is still reaped when it exits. */
  forget(id: string): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    this.byId.delete(id);
    if (!entry.owned && entry.status === undefined) native().unwatchExit(entry.watch);
  }

  /** A wait() on a container we do not own gave up: stop watching if nobody else waits. */
  release(entry: Tracked): void {
    entry.waiters--;
    if (!entry.owned && entry.waiters === 0 && entry.status === undefined && this.byId.get(entry.id) === entry) {
      this.forget(entry.id);
    }
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  subscribe(fn: (ev: ExitEvent) => void): () => void {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }

  private emit(ev: ExitEvent): void {
    for (const fn of [...this.listeners]) fn(ev);
  }
}

/** Closes fd; one that is already closed is not an error here. */
export function closeQuietly(fd: number): void {
  if (fd < 0) return;
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
