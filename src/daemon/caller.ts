// A front end as the caller of a call the daemon runs (src/caller.ts): its
// cwd, environment and umask from the request, its descriptors as the copies
// it sent, and the helper started, waited for and signalled in the front end,
// so the container stays the caller's child as with runc.
import { constants as osConstants } from 'node:os';
import type { Caller, SignalSource } from '../caller.js';
import { OciError } from '../errors.js';
import { signalName } from '../lifecycle/process.js';
import { native, type ExitStatus, type HookCommand, type SpawnOptions, type SpawnResult, type StartedHook } from '../native/binding.js';
import { closeFds, D_HOOK, D_SIGNALS, D_SPAWN, D_WAIT, F_EXITED, F_HOOK, F_HOOKS, F_SIGNAL, F_SPAWNED, type Connection, type Frame } from './wire.js';

/** The request's fields, checked (src/daemon/request.ts). */
export interface CallRequest {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  umask: number;
  /** The caller's descriptor numbers, in the order their copies came. */
  fds: number[];
}

class RemoteSignals implements SignalSource {
  private readonly listeners = new Map<NodeJS.Signals, Set<() => void>>();

  constructor(private readonly conn: Connection) {
    conn.onFrame((f) => {
      if (f.type !== F_SIGNAL) return false;
      const name = signalName(json(f).signo as number);
      for (const l of (name && this.listeners.get(name)) || []) l();
      return true;
    });
  }

  on(signal: NodeJS.Signals, listener: () => void): this {
    const set = this.listeners.get(signal) ?? new Set();
    const added = set.size === 0;
    set.add(listener);
    this.listeners.set(signal, set);
    // The front end catches only what someone here listens for; the rest keep their default action there.
    if (added && !this.conn.closed) this.conn.send(D_SIGNALS, { signals: [...this.listeners.keys()].map((s) => osConstants.signals[s]) });
    return this;
  }

  off(signal: NodeJS.Signals, listener: () => void): this {
    this.listeners.get(signal)?.delete(listener);
    return this;
  }
}

function json(f: Frame): Record<string, unknown> {
  return JSON.parse(f.payload.toString('utf8')) as Record<string, unknown>;
}

export class RemoteCaller implements Caller {
  readonly remote = true;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly fileMode: number;
  readonly stdio: readonly [number, number, number];
  readonly signals: SignalSource;
  private readonly fdMap = new Map<number, number>();

  /** `pid` is the peer's from SO_PEERCRED, not the request's word for it. */
  constructor(private readonly conn: Connection, req: CallRequest, received: number[], readonly pid: number) {
    this.cwd = req.cwd;
    this.env = req.env;
    this.fileMode = 0o666 & ~req.umask;
    req.fds.forEach((n, i) => this.fdMap.set(n, received[i]));
    this.stdio = [this.fd(0), this.fd(1), this.fd(2)];
    this.signals = new RemoteSignals(conn);
  }

  fd(n: number): number {
    return this.fdMap.get(n) ?? -1;
  }

  /** Every descriptor the front end sent, for closing once the call is over. */
  received(): number[] {
    return [...this.fdMap.values()];
  }

  async spawn(opts: SpawnOptions): Promise<SpawnResult> {
    this.conn.send(D_SPAWN, { timing: opts.timing === true }, [...opts.stdio, ...(opts.extraFds ?? [])], opts.plan);
    for (;;) {
      const f = await this.conn.next((g) => g.type === F_HOOKS || g.type === F_SPAWNED);
      if (f.type === F_HOOKS) {
        const [fd] = f.fds;
        opts.onHooks?.(json(f).pid as number, fd);
        if (!opts.onHooks) closeFds(f.fds);
        continue;
      }
      const r = json(f) as {
        ok: boolean; pid: number; pidfd: boolean; warnings: string[]; timings: Array<[number, string]>;
        error?: { errno: number; syscall: string; path: string; message: string };
      };
      if (!r.ok) throw native().systemError(r.error ?? { message: 'the front end could not start the helper' });
      const [pidfd, controlFd] = r.pidfd ? f.fds : [-1, f.fds[0]];
      return {
        pid: r.pid, pidfd, controlFd, warnings: r.warnings,
        ...(opts.timing ? { timings: r.timings.map(([p, ns]) => [p, BigInt(ns)] as [number, bigint]) } : {}),
      };
    }
  }

  /** The front end starts it (D_HOOK); its exit comes by waitExit, like the init's. */
  async startHook(cmd: HookCommand): Promise<StartedHook> {
    const strings = [cmd.path, ...cmd.argv, ...cmd.env];
    if (strings.some((s) => s.includes('\0'))) throw new OciError('ERR_INVALID_ARGUMENT', `hook ${cmd.path}: NUL in an argument or env entry`);
    const counts = Buffer.alloc(8);
    counts.writeUInt32LE(cmd.argv.length, 0);
    counts.writeUInt32LE(cmd.env.length, 4);
    this.conn.sendRaw(D_HOOK, Buffer.concat([counts, ...strings.map((s) => Buffer.from(`${s}\0`)), cmd.state]));
    const f = await this.conn.next((g) => g.type === F_HOOK);
    const r = json(f) as { ok: boolean; pid: number; error?: { errno: number; syscall: string; path: string; message: string } };
    if (!r.ok) {
      closeFds(f.fds);
      throw native().systemError(r.error ?? { message: 'the front end could not start the hook' });
    }
    return { pid: r.pid, pidfd: -1, output: f.fds[0] };
  }

  async waitExit(pid: number): Promise<ExitStatus> {
    this.conn.send(D_WAIT, { pid });
    const f = await this.conn.next((g) => g.type === F_EXITED && json(g).pid === pid);
    const r = json(f) as { pid: number; exitCode: number | null; signal: number | null; unknown?: boolean };
    return { exitCode: r.exitCode, signal: r.signal, known: r.unknown !== true };
  }
}
