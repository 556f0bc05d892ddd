// The systemd cgroup driver (runc's --systemd-cgroup): the container's cgroup
// is a transient scope that systemd creates with the init's pid in it, in the
// slice the cgroupsPath names (systemd makes missing slices and their parents).
// Delegate=yes makes the scope's cgroup ours, so everything after creation
// (limits in files, freezer, cgroup.kill, stats, device program) is the v2
// manager's work on the scope's directory; only create, update and delete
// also go through systemd. Cgroup v2 only; root only.
import { existsSync, statSync } from 'node:fs';
import type { RuntimeContext } from '../context.js';
import { OciError } from '../errors.js';
import type { LinuxResources, Spec } from '../oci/types.js';
import { HelperPause } from '../native/helper-pause.js';
import { removeTree, sleep } from './files.js';
import type { CgroupRecord } from './index.js';
import type { CgroupLayout } from './layout.js';
import { WAIT_MS } from './processes.js';
import { withSystemd } from './systemd-bus.js';
import { resourceProperties, scopeProperties } from './systemd-props.js';
import { parseSystemdPath, scopeDir } from './systemd-unit.js';
import { V2Cgroup } from './v2.js';

/** In CgroupRecord (state.json): the container's cgroup is this unit's, and systemd's to create and remove. */
export interface SystemdUnitRecord {
  unit: string;
  slice: string;
}

function systemdRunning(): boolean {
  try {
    return statSync('/run/systemd/system').isDirectory();
  } catch {
    return false;
  }
}

/** Before the ID is claimed: the scope's name and directory, or why this host cannot have it. */
export function planSystemdCgroup(ctx: RuntimeContext, spec: Spec, id: string, layout: CgroupLayout): CgroupRecord {
  const refuse = (why: string): OciError => new OciError('ERR_NOT_SUPPORTED', `--systemd-cgroup (--cgroup-manager systemd): ${why}`);
  if (ctx.rootless) throw refuse('not supported rootless yet (it needs the user\'s systemd over the session bus); use the cgroupfs driver');
  if (layout.mode !== 'unified') throw refuse(`needs a unified cgroup v2 host; this one has ${layout.mode} cgroups`);
  if (!systemdRunning()) throw refuse('systemd is not running on this host (no /run/systemd/system)');
  const u = parseSystemdPath(spec.linux?.cgroupsPath, id);
  const dir = scopeDir(u, layout.hierarchies[0].mountPoint);
  // An active scope of that name has its cgroup: refused before anything is made (systemd would say UnitExists).
  if (existsSync(dir) && !ctx.store.exists(id)) throw new OciError('ERR_INVALID_CONFIG', `linux.cgroupsPath: systemd unit ${u.unit} already exists`);
  return { version: 2, dirs: { '': dir }, created: [], systemd: { unit: u.unit, slice: u.slice } };
}

/**
 * The helper's first pause (stage 0, right after the init's pid is known):
 * the scope is made with that pid in it, the limits are written to its files,
 * then the helper may release the init. A failure answers 'a', and is what
 * create reports instead of the helper's "the runtime did not place...".
 */
export class ScopePlacement {
  private readonly pause = new HelperPause();
  private done = false;

  constructor(private readonly record: CgroupRecord, private readonly spec: Spec, private readonly warn: (m: string) => void,
    private readonly rootless: boolean) {}

  /** Whether the next pause is ours (the first one); the helper's hook pause comes after. */
  takes(): boolean {
    if (this.done) return false;
    this.done = true;
    return true;
  }

  readonly onPause = (pid: number, fd: number): void => {
    this.pause.answer(fd, async () => {
      await startScope(this.record, this.spec, pid);
      const m = new V2Cgroup(this.record);
      // What systemd does not enable for a scope (hugetlb, misc...), enabled down to it as runc's fs2 does.
      m.create();
      const r = this.spec.linux?.resources ?? {};
      for (const w of m.apply(r, { skipPids: true, skipDevices: this.rootless, devices: this.spec.linux?.devices })) this.warn(w);
    });
  };

  failure(): Promise<unknown> {
    return this.pause.failure();
  }
}

async function startScope(record: CgroupRecord, spec: Spec, pid: number): Promise<void> {
  const sd = record.systemd!;
  const dir = record.dirs[''];
  await withSystemd(async (bus) => {
    const version = await bus.systemdVersion();
    const props = [
      ...scopeProperties({ slice: sd.slice, pid, description: `ocirun container ${sd.unit}` }),
      ...resourceProperties(spec.linux?.resources ?? {}, version),
    ];
    // Once systemd has it, the unit is ours: a failure from here on stops it.
    await bus.startUnit(sd.unit, props, () => { record.created = [dir]; });
  });
  if (!existsSync(dir)) throw new OciError('ERR_SYSTEM', `systemd: unit ${sd.unit} started, but its cgroup ${dir} is not there`);
}

/** update: systemd is told the new limits (so it keeps them), then the files get them as with cgroupfs. */
export async function updateScope(record: CgroupRecord, resources: LinuxResources): Promise<void> {
  const unit = record.systemd!.unit;
  await withSystemd(async (bus) => bus.setUnitProperties(unit, resourceProperties(resources, await bus.systemdVersion())));
}

/** delete, or a failed create: StopUnit, its job, ResetFailedUnit, and the cgroup gone. */
export async function stopScope(record: CgroupRecord): Promise<void> {
  const dir = record.dirs[''];
  if (!record.created.includes(dir)) return;
  await withSystemd((bus) => bus.stopUnit(record.systemd!.unit));
  // systemd removes the scope's cgroup when the unit stops; what we made below it (Delegate) too, or we do.
  const end = Date.now() + WAIT_MS;
  while (existsSync(dir) && !removeTree(dir)) {
    if (Date.now() > end) throw new OciError('ERR_SYSTEM', `cannot remove cgroup ${dir}: still busy after stopping ${record.systemd!.unit}`);
    await sleep(10);
  }
}
