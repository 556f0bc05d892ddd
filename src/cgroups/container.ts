// The cgroup side of the lifecycle: what create decides before claiming the
// ID, makes before spawning, finishes once the init is inside; what delete
// and kill --all do to everything in it.
import { existsSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RuntimeContext } from '../context.js';
import { OciError } from '../errors.js';
import type { LinuxResources, Spec } from '../oci/types.js';
import { managerFor, planCgroupRecord, type CgroupPlacement, type CgroupRecord } from './index.js';
import { CGROUP_ROOT, hostLayout, membershipOf, type CgroupLayout } from './layout.js';
import { resolveCgroupDirs } from './path.js';
import { v1Unsupported, v1Writes } from './v1-resources.js';
import { v2Unsupported, v2Writes } from './v2-resources.js';
import { readOptional } from './files.js';
import { rootlessCgroup, rootlessV2Dir } from './rootless.js';
import { planSystemdCgroup, stopScope, updateScope } from './systemd.js';

/** Limits other than device rules (which runc's own default config always carries). */
const hasLimits = (r: LinuxResources | undefined): boolean =>
  Object.entries(r ?? {}).some(([k, v]) => k !== 'devices' && v !== undefined && !(Array.isArray(v) && v.length === 0));

/**
 * Before the ID is claimed: where the container's cgroup will be, or
 * undefined with --cgroup-manager=disabled. Refuses, naming the field, what
 * this host's cgroups cannot do, so that nothing is made for a config that
 * would fail anyway.
 */
export function planContainerCgroup(ctx: RuntimeContext, spec: Spec, id: string, layout: CgroupLayout = hostLayout()): CgroupRecord | undefined {
  const resources = spec.linux?.resources;
  if (ctx.cgroupManager === 'disabled') {
    if (hasLimits(resources)) ctx.logger.warn('linux.resources: ignored with --cgroup-manager=disabled');
    return undefined;
  }
  if (ctx.cgroupManager === 'systemd') {
    const record = planSystemdCgroup(ctx, spec, id, layout);
    if (resources) checkHostSupport(resources, 2, layout);
    return record;
  }
  // A relative cgroupsPath is below the caller's cgroup (the daemon's is the top one).
  const caller = (): Map<string, string> => membershipOf(ctx.caller.pid);
  const planned = planCgroupRecord(spec.linux?.cgroupsPath, id, layout, caller);
  if (resources) checkHostSupport(resources, planned.version, layout);
  const record = ctx.rootless ? rootlessCgroup(rootlessDefault(planned, spec, id, layout, caller), spec, layout) : planned;
  if (!record) {
    ctx.logger.debug('rootless: no cgroup this user may write; the container runs without one');
    return undefined;
  }
  // Refused here, before anything is made: a failed create must not touch someone else's processes.
  // A taken ID is left to the claim, whose "already exists" says more than its busy cgroup would.
  const unfit = ctx.store.exists(id) ? undefined : managerFor(record).unfit();
  if (unfit) throw new OciError('ERR_INVALID_CONFIG', `linux.cgroupsPath: ${unfit}`);
  keepRealtimeSchedulable(record, spec);
  return record;
}

/** Rootless on a unified host, without a cgroupsPath: beside our own cgroup, where delegation puts a user's. */
function rootlessDefault(record: CgroupRecord, spec: Spec, id: string, layout: CgroupLayout, self: () => Map<string, string>): CgroupRecord {
  const dir = record.version === 2 && !spec.linux?.cgroupsPath ? rootlessV2Dir(id, layout, self) : undefined;
  return dir ? { version: 2, dirs: { '': dir }, created: existsSync(dir) ? [] : [dir] } : record;
}

/** The host's cgroup version and controllers against the config. */
export function checkHostSupport(r: LinuxResources, version: 1 | 2, layout: CgroupLayout): void {
  if (version === 2) {
    const bad = v2Unsupported(r)[0];
    if (bad) throw new OciError('ERR_NOT_SUPPORTED', `${bad}: not supported on cgroup v2`);
    const root = layout.hierarchies[0]?.mountPoint;
    const available = new Set((readOptional(`${root}/cgroup.controllers`) ?? '').trim().split(/\s+/));
    for (const w of v2Writes(r)) {
      if (w.controller !== null && !available.has(w.controller)) {
        throw new OciError('ERR_NOT_SUPPORTED', `${w.field}: the ${w.controller} controller is not available on this host`);
      }
    }
    return;
  }
  const bad = v1Unsupported(r)[0];
  if (bad) throw new OciError('ERR_NOT_SUPPORTED', `${bad}: requires cgroup v2 (this host uses cgroup v1 controllers)`);
  const mounted = new Set(layout.hierarchies.flatMap((h) => h.controllers));
  const needed = v1Writes(r).map((w) => ({ controller: w.controller, field: w.field }));
  if (r.devices !== undefined) needed.push({ controller: 'devices', field: 'linux.resources.devices' });
  for (const n of needed) {
    if (!mounted.has(n.controller)) throw new OciError('ERR_NOT_SUPPORTED', `${n.field}: the ${n.controller} cgroup controller is not mounted on this host`);
  }
}

/**
 * With real-time group scheduling (v1 cpu.rt_runtime_us) a new cpu cgroup has
 * no real-time budget, so SCHED_FIFO/SCHED_RR would be refused in it. Without
 * cpu limits to apply, the container then stays in the runtime's cpu cgroup,
 * which keeps real-time policies working as they do without cgroups; with
 * limits but no budget, the config is refused naming what is missing.
 */
function keepRealtimeSchedulable(record: CgroupRecord, spec: Spec): void {
  const policy = spec.process?.scheduler?.policy;
  if (record.version !== 1 || (policy !== 'SCHED_FIFO' && policy !== 'SCHED_RR')) return;
  const cpu = Object.keys(record.dirs).find((n) => n.split(',').includes('cpu'));
  if (cpu === undefined || !existsSync(join(CGROUP_ROOT, cpu, 'cpu.rt_runtime_us'))) return;
  const c = spec.linux?.resources?.cpu;
  if (c?.realtimeRuntime) return;
  if (c && (c.shares || c.quota || c.period || c.burst !== undefined || c.idle !== undefined)) {
    throw new OciError('ERR_INVALID_CONFIG',
      `process.scheduler.policy: ${policy} with cpu limits needs linux.resources.cpu.realtimeRuntime on this host (real-time group scheduling)`);
  }
  const dir = record.dirs[cpu];
  delete record.dirs[cpu];
  record.created = record.created.filter((d) => d !== dir);
}

export function cgroupPlacement(record: CgroupRecord, spec: Spec): CgroupPlacement {
  // The scope does not exist before the init does: systemd makes it with the init's pid (ScopePlacement).
  if (record.systemd) return { procs: [], byRuntime: true };
  const joinsCgroupNs = (spec.linux?.namespaces ?? []).some((ns) => ns.type === 'cgroup' && ns.path);
  return managerFor(record).placement(joinsCgroupNs);
}

/**
 * After the claim, before the helper: makes the cgroup and writes every limit
 * but pids.max. Returns warnings. Rootless, device rules are skipped as runc
 * skips them: only root may program the device controller.
 */
export function setupCgroup(record: CgroupRecord, spec: Spec, callerPid?: number, rootless = false): string[] {
  if (record.systemd) return [];  // at the helper's pause, once the scope is there
  const m = managerFor(record);
  m.create(callerPid);
  return m.apply(spec.linux?.resources ?? {}, { skipPids: true, skipDevices: rootless, devices: spec.linux?.devices });
}

/** Once the init is inside: pids.max, which a limit of 0 would have kept it out of. */
export function finishCgroup(record: CgroupRecord, spec: Spec): void {
  const pids = spec.linux?.resources?.pids;
  if (pids) managerFor(record).apply({ pids }, { skipDevices: true });
}

/** Kills whatever is left in the cgroup and removes what create made. */
export async function removeCgroup(record: CgroupRecord | undefined): Promise<void> {
  if (!record) return;
  // Leftover processes are killed through the cgroup first, with either driver.
  const m = managerFor(record);
  if (record.systemd) {
    if (m.exists() && m.pids().length > 0) await m.signalAll(9);
    await stopScope(record);
    return;
  }
  await m.destroy();
}

/** update: the new limits (systemd told first, with that driver), written to the files; returns warnings. */
export async function applyLimits(record: CgroupRecord, resources: LinuxResources): Promise<string[]> {
  if (record.systemd) await updateScope(record, resources);
  return managerFor(record).apply(resources, { skipDevices: true });
}

/**
 * delete --force of a container whose state.json is lost: the cgroup it had
 * is unknown, but if it had the default one, that is removed once empty.
 * Only rmdir, never a kill: with no record, the processes might be another
 * root's container of the same ID.
 */
export function removeDefaultCgroupIfEmpty(id: string): void {
  let dirs: Record<string, string>;
  try {
    dirs = resolveCgroupDirs(undefined, id);
  } catch {
    return;
  }
  for (const dir of Object.values(dirs)) {
    try {
      rmdirSync(dir);
    } catch {
      // absent, or busy: not ours to empty
    }
  }
}

/** Signals every process of the container (kill --all; delete of a live container). */
export async function signalCgroup(record: CgroupRecord, signal: number): Promise<void> {
  const m = managerFor(record);
  if (m.exists()) await m.signalAll(signal);
}

export function requireCgroup(record: { id: string; cgroup?: CgroupRecord }): CgroupRecord {
  if (!record.cgroup) {
    throw new OciError('ERR_NOT_SUPPORTED', `container "${record.id}" has no cgroup (it was created with --cgroup-manager=disabled, or rootless without a writable cgroup)`);
  }
  return record.cgroup;
}
