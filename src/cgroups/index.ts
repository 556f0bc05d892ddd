// A container's cgroup: where it is (CgroupRecord, kept in state.json so that
// every later command finds it) and what can be done to it (CgroupManager),
// on a unified (pure v2) host or on a hybrid/legacy one through the v1
// controllers, as runc does.
import { existsSync } from 'node:fs';
import type { LinuxResources } from '../oci/types.js';
import { hostLayout, type CgroupLayout } from './layout.js';
import { resolveCgroupDirs } from './path.js';
import type { Stats } from './stats.js';
import { V1Cgroup } from './v1.js';
import { V2Cgroup } from './v2.js';

export interface CgroupRecord {
  version: 1 | 2;
  /** The container's directory in every hierarchy, by hierarchy name ('' on a unified host). */
  dirs: Record<string, string>;
  /** The directories create made, which delete removes; the others were there before. */
  created: string[];
  /** The systemd driver: the scope whose cgroup `dirs` names (src/cgroups/systemd.ts); absent with cgroupfs. */
  systemd?: import('./systemd.js').SystemdUnitRecord;
}

/** How the init gets into its cgroups before the user program runs (see native/init/cgroup.cc). */
export interface CgroupPlacement {
  /** v2: clone3(CLONE_INTO_CGROUP) into this directory. */
  dir?: string;
  /** cgroup.procs files the helper writes the init's pid to before releasing it. */
  procs: string[];
  /** v1 `tasks` files the init writes "0" to, moving itself before it runs anything else. */
  tasks?: string[];
  /** The runtime puts the init in place itself (a systemd scope) while the helper waits. */
  byRuntime?: boolean;
}

export interface ApplyOptions {
  /** Leave pids.max for later: a limit of 0 would keep the init itself out. */
  skipPids?: boolean;
  /** Leave the device rules alone (update: they cannot change). */
  skipDevices?: boolean;
  /** linux.devices: their nodes are allowed when the config lists device rules. */
  devices?: import('../oci/types.js').LinuxDevice[];
}

export interface CgroupManager {
  readonly record: CgroupRecord;
  /**
   * Makes the directories (enabling controllers on the way on v2). `callerPid`
   * is the process the container is for (the CLI, or the daemon's front end):
   * its own cgroup's processes are the ones v2 may move to a leaf.
   */
  create(callerPid?: number): void;
  /** Why an existing cgroup cannot take a new container (it has processes, or is frozen); undefined if it can. */
  unfit(): string | undefined;
  /** Writes the limits; returns warnings for settings this cgroup version ignores. */
  apply(resources: LinuxResources, opts?: ApplyOptions): string[];
  placement(joinsCgroupNamespace: boolean): CgroupPlacement;
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Paused (frozen or freezing). False when the cgroup is gone. */
  frozen(): boolean;
  /** Every process in the cgroup and its sub-cgroups. */
  pids(): number[];
  /** Signals every process (SIGKILL through cgroup.kill on v2, or with the cgroup frozen on v1). */
  signalAll(signal: number): Promise<void>;
  stats(): Stats;
  /** The kernel's count of OOM kills in the cgroup. */
  oomKills(): number;
  /** Current memory usage in bytes (memory.checkBeforeUpdate). */
  memoryUsage(): bigint | undefined;
  /** Kills what is left, waits for it to go, removes the directories create made. */
  destroy(): Promise<void>;
  exists(): boolean;
}

export function cgroupVersion(layout: CgroupLayout = hostLayout()): 1 | 2 {
  return layout.mode === 'unified' ? 2 : 1;
}

/** The record for a new container: nothing is created yet, only decided. */
export function planCgroupRecord(
  cgroupsPath: string | undefined, id: string, layout: CgroupLayout = hostLayout(), self?: () => Map<string, string>,
): CgroupRecord {
  const dirs = resolveCgroupDirs(cgroupsPath, id, layout, self);
  return { version: cgroupVersion(layout), dirs, created: Object.values(dirs).filter((d) => !existsSync(d)) };
}

export function managerFor(record: CgroupRecord): CgroupManager {
  return record.version === 2 ? new V2Cgroup(record) : new V1Cgroup(record);
}
