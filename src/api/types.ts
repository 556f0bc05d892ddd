// Public types of the Runtime API (src/runtime.ts).
import type { Logger } from '../log.js';
import type { Process, Spec } from '../oci/types.js';
import type { ContainerState } from '../lifecycle/query.js';
import type { Mark } from '../native/timing.js';
import type { ExecProcessOverrides } from '../lifecycle/exec.js';

export type { ContainerState, Mark };

export interface RuntimeOptions {
  /**
   * State directory shared with the CLI's --root; default /run/ocirun, or
   * $XDG_RUNTIME_DIR/ocirun without root (the constructor throws if that is unset).
   */
  root?: string;
  /** The CLI's --rootless: cgroup permission errors follow runc's rootless rules; default 'auto' (docs/rootless.md). */
  rootless?: boolean | 'auto';
  /**
   * The CLI's --cgroup-manager: 'systemd' makes each container's cgroup a
   * transient scope through systemd's D-Bus API (runc's --systemd-cgroup;
   * docs/cgroups.md), 'disabled' makes none; default cgroupfs.
   */
  cgroupManager?: 'cgroupfs' | 'systemd' | 'disabled';
  /** Where warnings (and with `debug`, debug lines) go; default stderr in runc's text format. */
  logger?: Logger;
  debug?: boolean;
}

/** How a container's init ended. */
export interface ExitStatus {
  /** The exit code if the init exited normally, else null. */
  exitCode: number | null;
  /** The signal that killed the init ('SIGKILL'), else null. */
  signal: string | null;
  /**
   * False when this process could not learn the status: only the process that
   * created a container is its parent and can collect it. Containers created
   * by another process (the CLI, another agent) report exitCode and signal null.
   */
  known: boolean;
}

export interface CreateOptions {
  /** fds that become the container's stdin, stdout, stderr; default this process's 0, 1, 2. */
  stdio?: [number, number, number];
  /** Use this config instead of <bundle>/config.json; it is validated the same way. */
  config?: Spec;
  /** Write the init's pid to this file. */
  pidFile?: string;
  /** chroot instead of pivot_root (root filesystems on a ramdisk). */
  noPivot?: boolean;
  /** Return `timings`: where create spent its time, phase by phase. */
  timing?: boolean;
}

export interface CreatedContainer extends ContainerState {
  /** With `timing`: CLOCK_MONOTONIC marks (same clock as process.hrtime.bigint()), in order. */
  timings?: Mark[];
}

export interface RunOptions extends CreateOptions {
  /** Keep the stopped container instead of deleting it. */
  keep?: boolean;
  /** Aborting kills and deletes the container; run rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * One more process in a created or running container (see Runtime.exec): the
 * CLI's exec overrides, without a terminal (the library attaches none).
 */
export interface ExecOptions extends Omit<ExecProcessOverrides, 'tty' | 'apparmorProfile' | 'selinuxLabel'> {
  /** The whole process object instead of the container's process with the changes above. */
  process?: Process;
  /** fds that become the process's stdin, stdout, stderr; default this process's 0, 1, 2. */
  stdio?: [number, number, number];
  /** Aborting kills the process (SIGKILL) and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface WaitOptions {
  /** Aborting rejects the wait with the signal's reason; the container is left alone. */
  signal?: AbortSignal;
}

export interface DeleteOptions {
  /** Kill a running container first (a created one is always killed). */
  force?: boolean;
}

export interface EventsOptions {
  /** Aborting ends the iteration: the pending next() rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** A container's init exited (observed by this Runtime: see Runtime.events). */
export interface ExitEvent {
  type: 'exit';
  id: string;
  /** The init's pid (in the runtime's pid namespace) while it lived. */
  pid: number;
  status: ExitStatus;
  /** When the exit was observed. */
  time: Date;
}

/** Everything events() yields; OOM events will join this union. */
export type RuntimeEvent = ExitEvent;
