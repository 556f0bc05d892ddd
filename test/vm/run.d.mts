// Types for run.mjs (the VM harness; see docs/testing-vm.md).
import type { Writable } from 'node:stream';

export interface VmOptions {
  /** Seconds for the whole run, boot included (default 600; 0 = none). On expiry QEMU is killed and status is 124. */
  timeout?: number;
  /** Seconds for the VM to reach the command before it is killed and booted again (default 90). */
  bootTimeout?: number;
  /** How many times a VM that did not reach the command is booted again (default 1). */
  bootRetries?: number;
  /** Guest memory, e.g. '2G' or '1536M' (default 2G). */
  mem?: string;
  /** Guest CPUs (default 2). */
  cpus?: number;
  /** Working directory of the command in the guest (default process.cwd()). */
  cwd?: string;
  /** The command's whole environment (default guestEnv(): ours less host-only variables). */
  env?: Record<string, string>;
  /** How the guest sees the host's root (default virtiofs). */
  fs?: 'virtiofs' | '9p';
  /** QEMU machine (default microvm). */
  machine?: 'microvm' | 'q35';
  /**
   * Boot systemd as PID 1 (pure cgroup v2, the system D-Bus running); the
   * command runs in the delegated ocirun-vm-job.service, with OCIRUN_TEST_VM_SYSTEMD=1.
   */
  systemd?: boolean;
  /** Also receive the command's output as it comes. */
  stdout?: Writable;
  stderr?: Writable;
  /** Copy the guest's serial console to process.stderr. */
  verbose?: boolean;
  /** Kernel messages and a trace of /init on the console (implies verbose). */
  debug?: boolean;
  /** Aborting kills the VM (the promise rejects). */
  signal?: AbortSignal;
}

export interface VmTimings {
  /** From the call to the command's start in the guest. */
  bootMs: number | null;
  /** The guest's /proc/uptime when the command started. */
  guestUptimeAtStart: number | null;
  /** From the command's start to its exit status arriving. */
  commandMs: number | null;
  totalMs: number | null;
  /** VM boots used (more than 1 when a boot hung and was retried). */
  boots: number;
}

export interface VmResult {
  /** The command's exit status (128+N when killed by signal N); 124 on timeout. */
  status: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  timings: VmTimings;
  /** The guest's serial console (tail). */
  console: string;
}

export class VmError extends Error {
  stdout?: string;
  stderr?: string;
  console?: string;
  timings?: VmTimings;
}

export function runInVm(cmd: string[], opts?: VmOptions): Promise<VmResult>;
export function guestEnv(env?: NodeJS.ProcessEnv): Record<string, string>;
export function hostTscKhz(): number | null;
