// What a container process gets besides stdio: its terminal and extra fds.
//
// Terminal (process.terminal): the helper allocates a pty inside the container
// and sends the master over a connected unix socket (native/init/console.cc).
// Detached (create, run -d, exec -d) that socket is the caller's
// --console-socket; attached (run or exec in the foreground) it is one end of
// a socketpair whose other end we keep, so the master comes back to us.
//
// Extra fds (runc's order): with socket activation (LISTEN_FDS=n for this
// process) fds 3..3+n-1 first, with LISTEN_FDS=n and LISTEN_PID=1 added to the
// process's environment, then --preserve-fds N more. They reach the process
// as 3, 4, ... and nothing else of ours does.
import { closeSync, fstatSync } from 'node:fs';
import { resolve } from 'node:path';
import { native } from '../native/binding.js';
import type { HelperPlan } from '../native/plan-schema.js';
import type { Process } from '../oci/types.js';
import { OciError } from '../errors.js';
import { localCaller, type Caller } from '../caller.js';

export interface ProcessIoOptions {
  /** --console-socket: AF_UNIX stream socket that receives the pty master. */
  consoleSocket?: string;
  /** The caller waits for the process (run, exec without -d): it keeps the master itself. */
  attached?: boolean;
  /** --preserve-fds: how many fds after the LISTEN_FDS ones to pass on. */
  preserveFds?: number;
  /** Socket activation: fds 3..3+n-1 are passed on as LISTEN_FDS. */
  listenFds?: number;
}

/** go-systemd's activation.Files, as runc uses it: only when LISTEN_PID is this process. */
export function listenFdsFromEnv(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number {
  if (env.LISTEN_PID === undefined || Number(env.LISTEN_PID) !== pid) return 0;
  const n = Number(env.LISTEN_FDS);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/** runc's checkTerminal, in ocirun's words. */
export function checkTerminal(terminal: boolean, attached: boolean, consoleSocket: string | undefined): void {
  if (terminal && !attached && consoleSocket === undefined) {
    throw new OciError('ERR_INVALID_ARGUMENT',
      'cannot allocate a terminal for a detached process without --console-socket (process.terminal is true)');
  }
  if (consoleSocket !== undefined && (attached || !terminal)) {
    throw new OciError('ERR_INVALID_ARGUMENT', attached
      ? '--console-socket is only for detached processes (create, run -d, exec -d); in the foreground the terminal is attached'
      : '--console-socket given but the process has no terminal (process.terminal is false)');
  }
}

function checkCount(value: number | undefined, flag: string): number {
  const n = value ?? 0;
  if (!Number.isSafeInteger(n) || n < 0) throw new OciError('ERR_INVALID_ARGUMENT', `${flag}: must be a non-negative integer, not ${value}`);
  return n;
}

/**
 * Plans the terminal and extra fds of one process. Construction only checks
 * (nothing is opened), so it belongs before anything is created; open()
 * opens what the helper needs, close() releases it whatever happened.
 */
export class ProcessIo {
  private readonly userFds: number[];
  private readonly terminal: boolean;
  private readonly size?: { rows: number; cols: number };
  private helperEnd = -1;
  private ourEnd = -1;

  constructor(process: Process, private readonly opts: ProcessIoOptions, private readonly caller: Caller = localCaller()) {
    this.terminal = process.terminal === true;
    checkTerminal(this.terminal, opts.attached ?? false, opts.consoleSocket);
    if (process.consoleSize) this.size = { rows: process.consoleSize.height, cols: process.consoleSize.width };
    const listen = checkCount(opts.listenFds, 'LISTEN_FDS');
    const preserve = checkCount(opts.preserveFds, '--preserve-fds');
    // The caller's fds 3, 4, ...: in the daemon these are the copies the front end sent.
    this.userFds = Array.from({ length: listen + preserve }, (_, i) => caller.fd(3 + i));
    for (const [i, fd] of this.userFds.entries()) {
      try {
        if (fd < 0) throw new Error('not open');
        fstatSync(fd);
      } catch {
        const n = 3 + i;
        const what = n < 3 + listen ? `LISTEN_FDS: fd ${n} (of ${listen})` : `--preserve-fds: fd ${n} (of ${preserve})`;
        throw new OciError('ERR_INVALID_ARGUMENT', `${what} is not open`);
      }
    }
  }

  /** Adds the console records and the LISTEN_FDS environment to the plan. */
  applyTo(plan: HelperPlan): void {
    if (this.terminal) plan.console = { socketFd: 4 + this.userFds.length, ...this.size };
    const listen = this.opts.listenFds ?? 0;
    if (listen > 0) plan.process.env.push(`LISTEN_FDS=${listen}`, 'LISTEN_PID=1');
  }

  /** The extra fds for spawnContainer, in the order applyTo() numbered them. */
  open(): number[] {
    if (!this.terminal) return this.userFds;
    const addon = native();
    if (this.opts.consoleSocket !== undefined) {
      this.helperEnd = addon.connectUnix(resolve(this.caller.cwd, this.opts.consoleSocket));
    } else {
      [this.ourEnd, this.helperEnd] = addon.socketPair();
    }
    return [...this.userFds, this.helperEnd];
  }

  /**
   * Attached mode: the pty master the helper sent back (it is sent before the
   * helper reports ready). The caller owns it.
   */
  takeMaster(): number | undefined {
    if (this.ourEnd < 0) return undefined;
    const got = native().recvFd(this.ourEnd);
    if (!got) throw new OciError('ERR_SYSTEM', 'the init helper did not send the terminal');
    return got.fd;
  }

  close(): void {
    for (const fd of [this.helperEnd, this.ourEnd]) if (fd >= 0) closeSync(fd);
    this.helperEnd = this.ourEnd = -1;
  }
}

/** --pidfd-socket: one message carrying a pidfd of the process, as runc sends it. */
export function sendPidfd(socketPath: string, pidfd: number): void {
  const addon = native();
  const sock = addon.connectUnix(socketPath);
  try {
    if (pidfd < 0) throw new OciError('ERR_NOT_SUPPORTED', '--pidfd-socket: this kernel gave no pidfd');
    addon.sendFd(sock, pidfd, 'pidfd');
  } finally {
    closeSync(sock);
  }
}
