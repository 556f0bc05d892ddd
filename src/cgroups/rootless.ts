// runc's rootless cgroup rules (libcontainer/cgroups/fs and fs2 with
// Rootless set), decided before anything is made:
//   - without linux.cgroupsPath, a hierarchy whose cgroup this user may not
//     make or join is left out; the container runs without it;
//   - a limit that needs a hierarchy left out is an error ("cannot set ...");
//   - device rules are skipped: without root there is no device cgroup to write;
//   - an explicit linux.cgroupsPath the user may not use is an error.
// On a unified host a relative path (and the default one) goes below the
// parent of this process's own cgroup, as with runc: under systemd's
// user@.service that is a subtree delegated to the user.
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OciError } from '../errors.js';
import type { LinuxResources, Spec } from '../oci/types.js';
import type { CgroupRecord } from './index.js';
import { ownV2Dir, type CgroupLayout } from './layout.js';
import { v1Writes } from './v1-resources.js';
import { v2Writes } from './v2-resources.js';

const writable = (path: string): boolean => {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

/** Whether this user may put a process in dir: join it if it is there, else make it. */
export function usableCgroupDir(dir: string): boolean {
  if (existsSync(dir)) return writable(join(dir, 'cgroup.procs'));
  let parent = dirname(dir);
  while (!existsSync(parent)) parent = dirname(parent);
  return writable(parent);
}

/**
 * The default v2 directory of a rootless container: beside the caller's
 * cgroup (`self`: the daemon's own is not where the user called from), as
 * runc's fs2 defaultDirPath puts one beside runc's scope.
 */
export function rootlessV2Dir(id: string, layout: CgroupLayout, self?: () => Map<string, string>): string | undefined {
  const own = ownV2Dir(layout, self);
  return own === undefined || own === layout.hierarchies[0]?.mountPoint ? undefined : join(dirname(own), id);
}

const uid = (): number => process.geteuid?.() ?? 0;

/** The controllers the limits need, each with the first field that needs it. */
function neededControllers(r: LinuxResources, version: 1 | 2): Map<string, string> {
  const out = new Map<string, string>();
  const writes = version === 1 ? v1Writes(r) : v2Writes(r);
  for (const w of writes) {
    const c = w.controller ?? 'cgroup';
    if (!out.has(c)) out.set(c, w.field);
  }
  return out;
}

/**
 * The record, cut down to what this user may use, or undefined for no cgroup
 * at all. `record` is what a root runtime would make.
 */
export function rootlessCgroup(record: CgroupRecord, spec: Spec, layout: CgroupLayout): CgroupRecord | undefined {
  const explicit = Boolean(spec.linux?.cgroupsPath);
  const resources = spec.linux?.resources ?? {};
  const dirs: Record<string, string> = {};
  for (const [name, dir] of Object.entries(record.dirs)) {
    if (usableCgroupDir(dir)) dirs[name] = dir;
    else if (explicit) {
      throw new OciError('ERR_INVALID_CONFIG',
        `linux.cgroupsPath: ${dir} is not writable by uid ${uid()} (rootless: this cgroup was not delegated to the user)`);
    }
  }
  for (const [controller, field] of neededControllers(resources, record.version)) {
    const has = record.version === 2
      ? Object.keys(dirs).length > 0
      : Object.keys(dirs).some((n) => n.split(',').includes(controller));
    if (!has) {
      throw new OciError('ERR_INVALID_CONFIG',
        `${field}: cannot set the ${controller} limit: rootless, and no cgroup of ${controller} is writable by uid ${uid()} (no delegation)`);
    }
  }
  if (Object.keys(dirs).length === 0) return undefined;
  const kept = new Set(Object.values(dirs));
  return { ...record, dirs, created: record.created.filter((d) => kept.has(d)) };
}
