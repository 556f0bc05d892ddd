// Who a call is for. Anything ocirun takes from the process that asked (its
// cwd for relative paths, its environment, its descriptors, its umask, its
// signals) comes from here, never from `process`: the Node CLI and the
// library are their own caller (localCaller), while the daemon serves callers
// that are other processes (src/daemon/caller.ts) and runs many at once.
import { native, type ExitStatus, type HookCommand, type SpawnOptions, type SpawnResult, type StartedHook } from './native/binding.js';
import { waitExit } from './lifecycle/process.js';

/** What SignalForwarder and AttachedTerminal listen on: `process`, or a remote caller's signals. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
}

export interface Caller {
  /** The caller's working directory: relative paths (bundle, pid file, sockets) resolve against it. */
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The caller's pid: the helper's parent (LISTEN_PID, and the cgroups exec compares with). */
  readonly pid: number;
  /** Mode for files made for the caller (pid files); undefined: this process's umask decides. */
  readonly fileMode?: number;
  /** The caller's stdin, stdout and stderr, as descriptors of this process. */
  readonly stdio: readonly [number, number, number];
  /** This process's descriptor for the caller's fd n (--preserve-fds, LISTEN_FDS); -1 when not open. */
  fd(n: number): number;
  /** Starts the init helper as the caller's child (native spawnContainer, or through the front end). */
  spawn(opts: SpawnOptions): Promise<SpawnResult>;
  /**
   * Starts a runtime hook (prestart, createRuntime, poststart, poststop) as
   * the caller's child, so it has the caller's credentials, cgroup, rlimits,
   * umask and session, as runc's hooks have runc's (src/hooks/run.ts).
   */
  startHook(cmd: HookCommand): Promise<StartedHook>;
  /** Waits for the caller's child `pid` (pidfd names it here) and returns how it ended. */
  waitExit(pid: number, pidfd: number): Promise<ExitStatus>;
  readonly signals: SignalSource;
  /** Served by the daemon for a front end: commands that need a process of their own run in Node instead. */
  readonly remote: boolean;
}

/** This process as its own caller: the Node CLI and the library. */
export function localCaller(): Caller {
  return {
    get cwd() { return process.cwd(); },
    get env() { return process.env; },
    pid: process.pid,
    stdio: [0, 1, 2],
    fd: (n) => n,
    spawn: (opts) => native().spawnContainer(opts),
    startHook: async (cmd) => native().startHook(cmd.path, cmd.argv, cmd.env, cmd.state),
    waitExit: (_pid, pidfd) => waitExit(pidfd),
    signals: process,
    remote: false,
  };
}
