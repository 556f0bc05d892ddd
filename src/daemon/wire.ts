// Frames on the engine socket: native/engine/wire.h defines them (a unit
// test compares these numbers with it); the addon reads and writes them.
import { closeSync } from 'node:fs';
import { native } from '../native/binding.js';

export const F_REQUEST = 1;
export const F_SPAWNED = 2;
export const F_HOOKS = 3;
export const F_EXITED = 4;
export const F_SIGNAL = 5;
export const F_HOOK = 6;
export const D_ACK = 10;
export const D_SPAWN = 11;
export const D_WAIT = 12;
export const D_SIGNALS = 13;
export const D_EXIT = 14;
export const D_FALLBACK = 15;
export const D_HOOK = 16;

export interface Frame {
  type: number;
  payload: Buffer;
  /** Descriptors that came with it, now this process's (CLOEXEC); the receiver owns them. */
  fds: number[];
}

/**
 * One front end's connection: frames in order as they arrive (next(), or
 * next(accept) for the first one a waiter wants: a spawn waits for its
 * answer while the hooks it paused for wait for theirs), and the end of the
 * connection, which rejects whatever waits for a frame.
 */
export class Connection {
  private readonly reader: unknown;
  private readonly watch: { close(): void };
  private readonly queue: Frame[] = [];
  private readonly waiters: Array<{ accept: (f: Frame) => boolean; resolve: (f: Frame) => void; reject: (e: Error) => void }> = [];
  private ended?: Error;
  private readonly listeners = new Set<(f: Frame) => boolean>();

  constructor(readonly fd: number) {
    const addon = native();
    this.reader = addon.frameReader(fd);
    this.watch = addon.watchReadable(fd, () => this.pump());
  }

  /** Frames of one type go to `listener` as they come (F_SIGNAL); return true to take the frame. */
  onFrame(listener: (f: Frame) => boolean): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The next frame not taken by a listener (and that `accept` wants); rejects once the connection is gone. */
  next(accept: (f: Frame) => boolean = () => true): Promise<Frame> {
    const i = this.queue.findIndex(accept);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => { this.waiters.push({ accept, resolve, reject }); });
  }

  /** A payload that is not JSON (D_HOOK). */
  sendRaw(type: number, payload: Buffer): void {
    native().sendFrame(this.fd, type, payload, []);
  }

  send(type: number, body: unknown, fds: number[] = [], raw?: Buffer): void {
    const json = Buffer.from(JSON.stringify(body ?? {}));
    let payload = json;
    if (raw) {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(json.length);
      payload = Buffer.concat([len, json, raw]);
    }
    native().sendFrame(this.fd, type, payload, fds);
  }

  get closed(): boolean {
    return this.ended !== undefined;
  }

  close(): void {
    this.end(new Error('connection closed'));
  }

  private pump(): void {
    if (this.ended) return;
    const r = native().readFrames(this.reader);
    for (const f of r.frames) this.deliver(f);
    if (r.end === 'eof') this.end(new Error('the front end closed the connection'));
    else if (r.end === 'error') this.end(new Error(`engine socket: ${r.error}`));
  }

  private deliver(f: Frame): void {
    for (const l of this.listeners) if (l(f)) return;
    const i = this.waiters.findIndex((w) => w.accept(f));
    if (i >= 0) this.waiters.splice(i, 1)[0].resolve(f);
    else this.queue.push(f);
  }

  private end(err: Error): void {
    if (this.ended) return;
    this.ended = err;
    this.watch.close();
    for (const f of this.queue.splice(0)) closeFds(f.fds);
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}

export function closeFds(fds: number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}
