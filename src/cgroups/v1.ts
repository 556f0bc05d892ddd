// The cgroup v1 manager (hybrid and legacy hosts): one directory per mounted
// hierarchy, limits written from v1-resources, devices.allow/deny, the
// freezer for pause and for killing everything without racing forks.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { OciError } from '../errors.js';
import type { LinuxResources } from '../oci/types.js';
import { effectiveRules, emulate, v1DeviceWrites } from './devices.js';
import { parseKeyed, parseNumber, readOptional, removeIfEmpty, removeTree, sleep, treePids, writeCgroupFile } from './files.js';
import type { ApplyOptions, CgroupManager, CgroupPlacement, CgroupRecord } from './index.js';
import { CGROUP_ROOT, hostLayout } from './layout.js';
import { v1Stats, type Stats } from './stats.js';
import { v1Ignored, v1Unsupported, v1Writes } from './v1-resources.js';
import { signalPid, waitEmpty } from './processes.js';

const FREEZE_MS = 10_000;

export class V1Cgroup implements CgroupManager {
  constructor(readonly record: CgroupRecord) {}

  /** The directory of the hierarchy that has `controller` ('memory', 'name=systemd'...). */
  dirOf(controller: string): string | undefined {
    for (const [name, dir] of Object.entries(this.record.dirs)) {
      if (name.split(',').includes(controller) || (controller === 'name=systemd' && name === 'systemd')) return dir;
    }
    return undefined;
  }

  /** The hierarchy to list processes from: one every container process is sure to be in. */
  private procsDir(): string {
    return this.dirOf('freezer') ?? this.dirOf('pids') ?? this.dirOf('memory') ?? Object.values(this.record.dirs)[0];
  }

  exists(): boolean {
    return Object.values(this.record.dirs).some((d) => existsSync(d));
  }

  create(): void {
    for (const [name, dir] of Object.entries(this.record.dirs)) {
      mkdirSync(dir, { recursive: true });
      if (name.split(',').includes('cpuset')) inheritCpuset(join(CGROUP_ROOT, name), dir);
    }
  }

  unfit(): string | undefined {
    // The whole subtree: delete kills everything in it, so it must all be the container's.
    // A directory create is about to make has none.
    const busy = Object.values(this.record.dirs).find((dir) => !this.record.created.includes(dir) && treePids(dir).length > 0);
    if (busy) return `cgroup ${busy} already has processes`;
    if (this.frozen()) return `cgroup ${this.dirOf('freezer')} is frozen`;
    return undefined;
  }

  apply(r: LinuxResources, opts: ApplyOptions = {}): string[] {
    const unsupported = v1Unsupported(r);
    if (unsupported.length > 0) throw new OciError('ERR_NOT_SUPPORTED', `${unsupported[0]}: requires cgroup v2 (this host uses cgroup v1 controllers)`);
    const memory = this.dirOf('memory');
    const currentMemoryLimit = memory ? parseNumber(readOptional(join(memory, 'memory.limit_in_bytes'))) : undefined;
    for (const w of v1Writes(r, { skipPids: opts.skipPids, currentMemoryLimit })) {
      const dir = this.controllerDir(w.controller, w.field);
      let file = join(dir, w.file);
      let value = w.value;
      if (w.fallback && !existsSync(file)) {
        file = join(dir, w.fallback.file);
        value = w.fallback.value;
      }
      writeCgroupFile(file, value, w.field);
    }
    const rules = opts.skipDevices ? undefined : effectiveRules(r.devices, opts.devices);
    if (rules) {
      const dir = this.controllerDir('devices', 'linux.resources.devices');
      for (const w of v1DeviceWrites(emulate(rules))) writeCgroupFile(join(dir, w.file), w.value, 'linux.resources.devices');
    }
    return v1Ignored(r).map((f) => `${f}: ignored (deprecated by the kernel)`);
  }

  private controllerDir(controller: string, field: string): string {
    const dir = this.dirOf(controller);
    if (!dir) throw new OciError('ERR_NOT_SUPPORTED', `${field}: the ${controller} cgroup controller is not mounted on this host`);
    return dir;
  }

  placement(joinsCgroupNamespace: boolean): CgroupPlacement {
    // Not the pid to cgroup.procs from stage 0: that takes the kernel's global
    // cgroup_threadgroup_rwsem for writing, which waits for an RCU grace
    // period (~10 ms here) whenever no other write came just before. The init
    // writing "0" to `tasks` moves only itself and takes no such lock; the v2
    // hierarchy of a hybrid host takes it at birth (CLONE_INTO_CGROUP), unless
    // a joined cgroup namespace may not see it (as on a unified host).
    const versions = new Map(hostLayout().hierarchies.map((h) => [h.name, h.version]));
    const out: Required<Omit<CgroupPlacement, 'byRuntime'>> = { dir: '', procs: [], tasks: [] };
    for (const [name, dir] of Object.entries(this.record.dirs)) {
      if (versions.get(name) !== 2) out.tasks.push(join(dir, 'tasks'));
      else if (joinsCgroupNamespace || out.dir) out.procs.push(join(dir, 'cgroup.procs'));
      else out.dir = dir;
    }
    return { ...(out.dir ? { dir: out.dir } : {}), procs: out.procs, tasks: out.tasks };
  }

  async freeze(): Promise<void> {
    const dir = this.controllerDir('freezer', 'pause');
    const end = Date.now() + FREEZE_MS;
    // A task in the middle of a fork can leave the cgroup FREEZING; writing FROZEN again retries it (runc does the same).
    for (let i = 0; ; i++) {
      if (i % 100 === 0) writeCgroupFile(join(dir, 'freezer.state'), 'FROZEN');
      if (readOptional(join(dir, 'freezer.state'))?.trim() === 'FROZEN') return;
      if (Date.now() > end) throw new OciError('ERR_SYSTEM', `cgroup ${dir} did not freeze within ${FREEZE_MS / 1000} s`);
      await sleep(1);
    }
  }

  async thaw(): Promise<void> {
    writeCgroupFile(join(this.controllerDir('freezer', 'resume'), 'freezer.state'), 'THAWED');
  }

  frozen(): boolean {
    const dir = this.dirOf('freezer');
    const state = dir ? readOptional(join(dir, 'freezer.state'))?.trim() : undefined;
    return state !== undefined && state !== 'THAWED';
  }

  pids(): number[] {
    return treePids(this.procsDir());
  }

  async signalAll(signal: number): Promise<void> {
    // Frozen, nothing can fork between listing and signalling; a frozen task
    // only acts on SIGKILL once thawed, so a kill always thaws.
    const freezer = this.dirOf('freezer') !== undefined && existsSync(this.dirOf('freezer')!);
    const wasFrozen = this.frozen();
    if (freezer && !wasFrozen) await this.freeze();
    try {
      for (const pid of this.pids()) signalPid(pid, signal);
    } finally {
      if (freezer && (!wasFrozen || signal === 9)) await this.thaw();
    }
  }

  stats(): Stats {
    return v1Stats((c) => this.dirOf(c));
  }

  oomKills(): number {
    const memory = this.dirOf('memory');
    return memory ? Number(parseKeyed(readOptional(join(memory, 'memory.oom_control'))).get('oom_kill') ?? 0n) : 0;
  }

  memoryUsage(): bigint | undefined {
    const memory = this.dirOf('memory');
    return memory ? parseNumber(readOptional(join(memory, 'memory.usage_in_bytes'))) : undefined;
  }

  async destroy(): Promise<void> {
    // Usually the container has stopped and every cgroup it made is empty:
    // then rmdir succeeds at once and nothing needs listing. Only when each
    // of its cgroups is one create made (else a pre-existing one could hold
    // processes delete must end) and all of them went.
    // The hierarchy pids() lists first: once it is gone, no process is left to end.
    const dirs = [this.procsDir(), ...Object.values(this.record.dirs).filter((d) => d !== this.procsDir())];
    if (dirs.every((d) => this.record.created.includes(d)) && dirs.every((d) => removeIfEmpty(d))) {
      const busy = this.record.created.filter((dir) => !dirs.includes(dir) && !removeTree(dir));
      if (busy.length > 0) throw new OciError('ERR_SYSTEM', `cannot remove cgroup ${busy[0]}: still busy`);
      return;
    }
    if (!this.exists()) return;
    if (this.pids().length > 0) {
      await this.signalAll(9);
      await waitEmpty(() => this.pids(), this.procsDir());
    }
    const busy = this.record.created.filter((dir) => !removeTree(dir));
    if (busy.length > 0) throw new OciError('ERR_SYSTEM', `cannot remove cgroup ${busy[0]}: still busy`);
  }
}

/** A new cpuset cgroup starts with no CPUs and no memory nodes: give it its parent's, top down. */
function inheritCpuset(mount: string, dir: string): void {
  let parent = mount;
  for (const part of dir.slice(mount.length).split('/').filter(Boolean)) {
    const child = join(parent, part);
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      if ((readOptional(join(child, file)) ?? '').trim() !== '') continue;
      writeCgroupFile(join(child, file), (readOptional(join(parent, file)) ?? '').trim() || '\n');
    }
    parent = child;
  }
}
