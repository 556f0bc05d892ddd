// The cgroup v2 manager: one directory, controllers enabled in every
// ancestor's cgroup.subtree_control, limits written from v2-resources, the
// device list as an eBPF program, cgroup.freeze and cgroup.kill.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { OciError, SystemError } from '../errors.js';
import { native } from '../native/binding.js';
import type { LinuxResources } from '../oci/types.js';
import { deviceFilterProgram, effectiveRules, emulate } from './devices.js';
import {
  cgroupTree, parseKeyed, parseNumber, readOptional, readPids, removeTree, sleep, treePids, writeCgroupFile,
} from './files.js';
import type { ApplyOptions, CgroupManager, CgroupPlacement, CgroupRecord } from './index.js';
import { CGROUP_ROOT, hostLayout, membershipOf, ownV2Dir } from './layout.js';
import { v2Stats, type Stats } from './stats.js';
import { signalPid, WAIT_MS, waitEmpty } from './processes.js';
import { v2Ignored, v2Unsupported, v2Writes } from './v2-resources.js';

/** Where a nested runtime's own processes go so that their cgroup can delegate controllers (crun's name). */
export const LEAF_FOR_PROCESSES = 'init';


export class V2Cgroup implements CgroupManager {
  readonly dir: string;
  private readonly mount: string;

  constructor(readonly record: CgroupRecord, mount = CGROUP_ROOT) {
    const dirs = Object.values(record.dirs);
    if (dirs.length !== 1) throw new OciError('ERR_STATE_CORRUPT', 'cgroup v2 record must name exactly one directory');
    this.dir = dirs[0];
    this.mount = mount;
  }

  exists(): boolean {
    return existsSync(this.dir);
  }

  create(callerPid: number = process.pid): void {
    const parts = this.dir.slice(this.mount.length).split('/').filter(Boolean);
    const own = ownV2Dir(hostLayout(), () => membershipOf(callerPid));
    let cur = this.mount;
    for (const part of parts) {
      // Only our own cgroup's processes are ours to move (the nested case); the root is exempt anyway.
      enableControllers(cur, cur !== this.mount && cur === own);
      cur = join(cur, part);
      mkdirQuiet(cur);
    }
  }

  unfit(): string | undefined {
    // The whole subtree: delete kills everything in it, so it must all be the container's.
    if (treePids(this.dir).length > 0) return `cgroup ${this.dir} already has processes`;
    if (this.frozen()) return `cgroup ${this.dir} is frozen`;
    return undefined;
  }

  apply(r: LinuxResources, opts: ApplyOptions = {}): string[] {
    const unsupported = v2Unsupported(r);
    if (unsupported.length > 0) throw new OciError('ERR_NOT_SUPPORTED', `${unsupported[0]}: not supported on cgroup v2`);
    const available = new Set((readOptional(join(this.dir, 'cgroup.controllers')) ?? '').trim().split(/\s+/));
    for (const w of v2Writes(r, { skipPids: opts.skipPids })) {
      if (w.controller !== null && !available.has(w.controller)) {
        throw new OciError('ERR_NOT_SUPPORTED', `${w.field}: the ${w.controller} controller is not available in ${this.dir}`);
      }
      let file = join(this.dir, w.file);
      let value = w.value;
      if (w.fallback && !existsSync(file)) {
        file = join(this.dir, w.fallback.file);
        value = w.fallback.value;
      }
      writeCgroupFile(file, value, w.field);
    }
    const rules = opts.skipDevices ? undefined : effectiveRules(r.devices, opts.devices);
    if (rules) {
      try {
        native().attachDeviceFilter(this.dir, deviceFilterProgram(emulate(rules)));
      } catch (err) {
        const e = SystemError.from(err, 'bpf');
        if (!(e instanceof SystemError)) throw err;
        throw new SystemError({
          code: e.code, errno: e.errno, syscall: e.syscall, path: e.path, cause: err,
          message: `linux.resources.devices: cannot attach the device filter to ${this.dir}: ${e.message}`,
        });
      }
    }
    return v2Ignored(r).map((f) => `${f}: ignored on cgroup v2`);
  }

  placement(joinsCgroupNamespace: boolean): CgroupPlacement {
    // clone3 checks CLONE_INTO_CGROUP against the caller's cgroup namespace; a joined one may not see ours.
    return joinsCgroupNamespace ? { procs: [join(this.dir, 'cgroup.procs')] } : { dir: this.dir, procs: [] };
  }

  async freeze(): Promise<void> {
    writeCgroupFile(join(this.dir, 'cgroup.freeze'), '1');
    const end = Date.now() + WAIT_MS;
    while (!/^frozen 1$/m.test(readOptional(join(this.dir, 'cgroup.events')) ?? 'frozen 1')) {
      if (Date.now() > end) throw new OciError('ERR_SYSTEM', `cgroup ${this.dir} did not freeze within ${WAIT_MS / 1000} s`);
      await sleep(5);
    }
  }

  async thaw(): Promise<void> {
    writeCgroupFile(join(this.dir, 'cgroup.freeze'), '0');
  }

  frozen(): boolean {
    return readOptional(join(this.dir, 'cgroup.freeze'))?.trim() === '1';
  }

  pids(): number[] {
    return treePids(this.dir);
  }

  async signalAll(signal: number): Promise<void> {
    if (signal === 9 && existsSync(join(this.dir, 'cgroup.kill'))) {
      writeCgroupFile(join(this.dir, 'cgroup.kill'), '1');
      return;
    }
    for (const pid of this.pids()) signalPid(pid, signal);
  }

  stats(): Stats {
    return v2Stats(this.dir);
  }

  oomKills(): number {
    return Number(parseKeyed(readOptional(join(this.dir, 'memory.events'))).get('oom_kill') ?? 0n);
  }

  memoryUsage(): bigint | undefined {
    return parseNumber(readOptional(join(this.dir, 'memory.current')));
  }

  async destroy(): Promise<void> {
    if (!this.exists()) return;
    if (this.pids().length > 0) {
      await this.signalAll(9);
      await waitEmpty(() => this.pids(), this.dir);
    }
    if (this.record.created.includes(this.dir) && !removeTree(this.dir)) {
      throw new OciError('ERR_SYSTEM', `cannot remove cgroup ${this.dir}: still busy (${cgroupTree(this.dir).length - 1} sub-cgroups)`);
    }
  }
}

function mkdirQuiet(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/**
 * Delegates every controller dir has to its children. A cgroup with processes
 * cannot (no internal processes; the root is exempt): in a nested setup (a CI
 * job's container) our own cgroup is such a one, and with `moveOwn` its
 * processes go to a leaf first, as crun does. First, not on EBUSY: a threaded
 * controller (cpuset, cpu, pids) would be let in and make the cgroup a thread
 * root, where domain controllers can never be enabled.
 */
export function enableControllers(dir: string, moveOwn: boolean): void {
  const available = (readOptional(join(dir, 'cgroup.controllers')) ?? '').trim().split(/\s+/).filter(Boolean);
  const enabled = new Set((readOptional(join(dir, 'cgroup.subtree_control')) ?? '').trim().split(/\s+/));
  const missing = available.filter((c) => !enabled.has(c));
  if (missing.length === 0) return;
  if (moveOwn && readPids(dir).length > 0) moveProcessesToLeaf(dir);
  for (const c of missing) {
    try {
      writeCgroupFile(join(dir, 'cgroup.subtree_control'), `+${c}`);
    } catch {
      // Reported, naming the setting, as "controller not available" if the container needs it.
    }
  }
}

export function moveProcessesToLeaf(dir: string): void {
  const leaf = join(dir, LEAF_FOR_PROCESSES);
  mkdirQuiet(leaf);
  // Processes may fork while we move them: go round until none is left.
  for (let round = 0; round < 10; round++) {
    const pids = readPids(dir);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        writeCgroupFile(join(leaf, 'cgroup.procs'), String(pid));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
  }
}
