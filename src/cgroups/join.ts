// The cgroups an exec'd process joins: exactly those of the container's init,
// read from /proc/<pid>/cgroup, so it works whoever placed the init (ocirun's
// cgroup manager, an engine, or nobody) and on v1, v2 and hybrid hosts.
import { readFileSync } from 'node:fs';
import { readMountinfo, visibleMounts, type MountEntry } from '../mountinfo.js';
import { parseMembership } from './layout.js';

function mountFor(mounts: readonly MountEntry[], controllers: string, path: string): MountEntry | undefined {
  const wanted = controllers === '' ? [] : controllers.split(',');
  return mounts.find((m) => {
    if (controllers === '' ? m.fstype !== 'cgroup2' : m.fstype !== 'cgroup') return false;
    if (!wanted.every((c) => m.superOptions.includes(c))) return false;
    // A bind of a subtree only reaches cgroups below its root.
    return m.root === '/' || path === m.root || path.startsWith(`${m.root}/`);
  });
}

/**
 * cgroup.procs files (host paths) of every hierarchy where the init is in a
 * cgroup other than ours; [] when it shares all of ours. Hierarchies this
 * mount namespace does not show (unmounted, or hidden by a mount over them)
 * are skipped: there is nothing to write to.
 */
export function execCgroupProcs(initPid: number, selfPid = process.pid): string[] {
  let theirs: string;
  try {
    theirs = readFileSync(`/proc/${initPid}/cgroup`, 'utf8');
  } catch {
    return [];  // the init is gone; joining its namespaces will say so
  }
  return cgroupProcsToJoin(theirs, readFileSync(`/proc/${selfPid}/cgroup`, 'utf8'), readMountinfo());
}

/** execCgroupProcs on the texts of /proc/<init>/cgroup and /proc/self/cgroup, and our mountinfo. */
export function cgroupProcsToJoin(initCgroups: string, ownCgroups: string, mountinfo: readonly MountEntry[]): string[] {
  const ours = parseMembership(ownCgroups);
  const mounts = visibleMounts(mountinfo);
  const out: string[] = [];
  for (const [controllers, path] of parseMembership(initCgroups)) {
    if (ours.get(controllers) === path) continue;
    const m = mountFor(mounts, controllers, path);
    if (!m) continue;
    const rel = m.root === '/' ? path : path.slice(m.root.length);
    out.push(`${m.mountPoint}${rel === '/' ? '' : rel}/cgroup.procs`);
  }
  return out;
}
