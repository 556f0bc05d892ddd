// Typed view of the native addon (native/addon). Everything that needs a
// syscall Node does not offer goes through here; nothing here decides policy.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OciError, SystemError } from '../errors.js';

export interface SpawnOptions {
  /** Absolute path of the ocirun-init executable; copied into a sealed memfd once per process. */
  helper: string;
  /** The encoded plan (encodePlan). */
  plan: Buffer;
  /** fds that become the container's 0, 1, 2 (unmodified pass-through). */
  stdio: [number, number, number];
  /** Extra fds that become 3, 4, ... in the container (--preserve-fds, LISTEN_FDS). */
  extraFds?: number[];
  /** Return `timings` (the plan's `timing` asks the helper for its phases too). */
  timing?: boolean;
  /**
   * Called when the helper stops at the createRuntime point (the plan's
   * hooks.pauseForRuntimeHooks) with the init's pid and a socket fd that the callback
   * owns: it writes 'h' to let the helper go on or 'a' to make it give up,
   * then closes it. Must not throw; the promise settles only after the answer.
   */
  onHooks?: (pid: number, fd: number) => void;
}

export interface SpawnResult {
  /** The container init's pid in the runtime's pid namespace. */
  pid: number;
  /** A pidfd for the init (CLOEXEC), or -1 when the kernel gave none. The caller closes it. */
  pidfd: number;
  /**
   * Our end of the helper socket. The init waits, still bound to this process
   * by its parent-death signal, until commitContainer() writes to it: call that
   * once the container is recorded, or close the fd to abandon (and kill) it.
   */
  controlFd: number;
  /** Non-fatal warnings the helper reported. */
  warnings: string[];
  /** With `timing`: [phase (src/native/timing.ts), CLOCK_MONOTONIC ns], addon and helper marks. */
  timings?: Array<[number, bigint]>;
}

/** A runtime hook to start as a child of the calling process (native/spawn/hook.h). */
export interface HookCommand {
  /** Absolute. */
  path: string;
  /** Non-empty: argv[0] first. */
  argv: string[];
  /** Exactly the hook's environment. */
  env: string[];
  /** The state JSON: the hook's stdin. */
  state: Buffer;
}

export interface StartedHook {
  /** Also its process group's id. */
  pid: number;
  /** A pidfd (CLOEXEC) the caller closes, or -1 (none from the kernel, or the hook is another process's child). */
  pidfd: number;
  /** Read end of the pipe that is the hook's stdout and stderr; the caller closes it. */
  output: number;
}

export interface ExitStatus {
  /** Exit code when the process exited normally. */
  exitCode: number | null;
  /** Signal number when it was killed by a signal. */
  signal: number | null;
  /** False when the process was not our child, so its status is unknown. */
  known: boolean;
}

/** Every failure of a call below is a SystemError, or an OciError ERR_OCIRUN_HELPER when it has no errno. */
export interface NativeBinding {
  /** Called once at load: the classes the addon constructs its errors from. */
  setErrorClasses(system: typeof SystemError, oci: typeof OciError): void;
  /**
   * Starts the init helper, sends the plan, and resolves once the container is
   * created (helper blocked on exec.fifo). On failure the helper and the init
   * are killed and reaped before the promise rejects with a SystemError:
   * { code: 'ENOENT', errno: -2, syscall: 'mount', path: '/proc', message }.
   */
  spawnContainer(opts: SpawnOptions): Promise<SpawnResult>;
  /**
   * Starts a runtime hook as our child: stdin the state, stdout and stderr one
   * pipe, a process group of its own in our session. Throws a SystemError
   * (syscall 'execve', path) when it cannot be executed; the child is reaped then.
   */
  startHook(path: string, argv: string[], env: string[], state: Buffer): StartedHook;
  /**
   * Calls back once when the process behind pidfd exits. If it is our child it
   * is reaped and its status reported; otherwise known=false. Keeps the event
   * loop alive until then. One epoll thread serves every watch. Returns the
   * watch's id for unwatchExit.
   */
  watchExit(pidfd: number, callback: (status: ExitStatus) => void): number;
  /** Cancels a watch (its callback is never called); false if it already fired. */
  unwatchExit(id: number): boolean;
  /** pidfd_open(2); throws on error (ESRCH when the process is gone). */
  pidfdOpen(pid: number): number;
  /** pidfd_send_signal(2); throws on error. */
  pidfdSendSignal(pidfd: number, signal: number): void;
  /** Whether the mount table of an open /proc/<pid>/mountinfo changed since it was opened or last asked. */
  mountsChanged(fd: number): boolean;
  /** mkfifo(3). */
  mkfifo(path: string, mode: number): void;
  /** umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW). */
  detachMount(path: string): void;
  /** flock(2) with LOCK_NB: true if taken, false if EWOULDBLOCK; throws otherwise. */
  tryLock(fd: number, exclusive: boolean): boolean;
  /** flock(fd, LOCK_UN). */
  unlock(fd: number): void;
  // ---- terminal.cc / execwait.cc (src/io, src/lifecycle/exec.ts) ----
  /** connect(2) to an AF_UNIX SOCK_STREAM socket; a CLOEXEC fd. */
  connectUnix(path: string): number;
  /** socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC). */
  socketPair(): [number, number];
  /** One sendmsg: `name` as the payload, fd as SCM_RIGHTS (runc's SendFile). */
  sendFd(sock: number, fd: number, name: string): void;
  /** One non-blocking recvmsg of such a message; null when none is waiting. The fd is CLOEXEC. */
  recvFd(sock: number): { fd: number; name: string } | null;
  /** TIOCGWINSZ; null when fd is not a terminal. */
  getWinsize(fd: number): { rows: number; cols: number } | null;
  /** TIOCSWINSZ. */
  setWinsize(fd: number, rows: number, cols: number): void;
  /** cfmakeraw on a terminal; the saved state for restoreTermios, or null when fd is not a terminal. */
  makeRaw(fd: number): Buffer | null;
  restoreTermios(fd: number, saved: Buffer): void;
  /**
   * Copies input → master and master → output on a thread of its own until
   * the master reports that no slave is open any more, or stop() (after a
   * bounded drain of what is already there); then calls done once. Makes
   * master non-blocking. input -1: nothing to forward.
   */
  proxyTerminal(master: number, input: number, output: number, done: () => void): { stop(): void };
  /**
   * Takes ownership of an exec'd process's control fd (SpawnResult.controlFd,
   * after the commit byte): resolves at EOF (execve succeeded), rejects with
   * the helper's error when the process could not be started.
   */
  awaitExec(controlFd: number): Promise<void>;
  // ---- bpf.cc (src/cgroups/v2.ts) ----
  /**
   * Loads `insns` (struct bpf_insn records) as a BPF_PROG_TYPE_CGROUP_DEVICE
   * program and attaches it to the cgroup directory with BPF_F_ALLOW_MULTI.
   * Throws a SystemError (syscall 'bpf', the verifier's complaint as message).
   */
  attachDeviceFilter(cgroupDir: string, insns: Buffer): void;
  // ---- engine.cc (src/daemon) ----
  /** A listening AF_UNIX stream socket (non-blocking, CLOEXEC), made 0600. */
  listenUnix(path: string): number;
  /** One pending connection (non-blocking, CLOEXEC) and its peer's SO_PEERCRED; null when none waits. */
  /**
   * A pending connection, or null. With `namespaces` (/proc/<pid>/ns names), the
   * peer's as "name:dev:ino", read through its SO_PEERPIDFD (`nsVia` says how;
   * `nsError` why they could not be read, ns then empty).
   */
  acceptUnix(fd: number, namespaces?: readonly string[]): {
    fd: number; pid: number; uid: number; gid: number; ns?: string[]; nsVia?: 'pidfd' | 'proc+pidfd' | 'proc'; nsError?: string;
  } | null;
  /** Calls back on the event loop whenever fd is readable or hung up, until close(). */
  watchReadable(fd: number, callback: () => void): { close(): void };
  /** Frame parsing state for one connection (native/engine/wire.h). */
  frameReader(fd: number): unknown;
  /** Every whole frame that has arrived; `end` says why reading stopped. */
  readFrames(reader: unknown): { frames: Array<{ type: number; payload: Buffer; fds: number[] }>; end: 'again' | 'eof' | 'error'; error?: string };
  /** Sends one frame with `fds` as SCM_RIGHTS; blocks while the socket is full. */
  sendFrame(fd: number, type: number, payload: Buffer, fds: number[]): void;
  /** The Error spawnContainer rejects with, for a failure described as fields. */
  systemError(e: { errno?: number; syscall?: string; path?: string; message?: string }): Error;
}

let cached: NativeBinding | undefined;

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where the build puts things; Release first, Debug for developers. */
function buildDirs(): string[] {
  return ['Release', 'Debug'].map((d) => join(packageRoot, 'build', d));
}

export function native(): NativeBinding {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const dir of buildDirs()) {
    const file = join(dir, 'ocirun_native.node');
    tried.push(file);
    if (existsSync(file)) {
      const binding = require(file) as NativeBinding;
      binding.setErrorClasses(SystemError, OciError);
      cached = binding;
      return cached;
    }
  }
  throw new Error(`ocirun native addon not built (tried ${tried.join(', ')}); run "npm ci" or "npm run build"`);
}

export function helperPath(): string {
  const tried: string[] = [];
  for (const dir of buildDirs()) {
    const file = join(dir, 'ocirun-init');
    tried.push(file);
    if (existsSync(file)) return file;
  }
  throw new Error(`ocirun-init helper not built (tried ${tried.join(', ')}); run "npm ci" or "npm run build"`);
}
