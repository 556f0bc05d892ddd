// The cgroups an exec'd process joins: exactly those of the container's init,
// read from /proc/<pid>/cgroup, so it works whoever placed the init (ocirun's
// cgroup manager, an engine, or nobody) and on v1, v2 and hybrid hosts.
import { readFileSync } from 'node:fs';

interface CgroupMount { root: string; mountPoint: string; fstype: string; superOptions: string[] }

// mountinfo escapes space, tab, newline and backslash as \ooo.
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

function cgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(' ');
    const [fstype, , superOpts = ''] = line.slice(dash + 3).split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    out.push({ root: unescape(left[3]), mountPoint: unescape(left[4]), fstype, superOptions: superOpts.split(',') });
  }
  return out;
}

/** "hierarchy-id:controllers:path" lines, keyed by controllers ("" for the v2 hierarchy). */
function membership(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

function mountFor(mounts: CgroupMount[], controllers: string, path: string): CgroupMount | undefined {
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
 * mount namespace does not mount are skipped: there is nothing to write to.
 */
export function execCgroupProcs(initPid: number, selfPid = process.pid): string[] {
  let theirs: string;
  try {
    theirs = readFileSync(`/proc/${initPid}/cgroup`, 'utf8');
  } catch {
    return [];  // the init is gone; joining its namespaces will say so
  }
  return cgroupProcsToJoin(theirs, readFileSync(`/proc/${selfPid}/cgroup`, 'utf8'), readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** execCgroupProcs on the texts of /proc/<init>/cgroup, /proc/self/cgroup and /proc/self/mountinfo. */
export function cgroupProcsToJoin(initCgroups: string, ownCgroups: string, mountinfo: string): string[] {
  const theirs = membership(initCgroups);
  const ours = membership(ownCgroups);
  const mounts = cgroupMounts(mountinfo);
  const out: string[] = [];
  for (const [controllers, path] of theirs) {
    if (ours.get(controllers) === path) continue;
    const m = mountFor(mounts, controllers, path);
    if (!m) continue;
    const rel = m.root === '/' ? path : path.slice(m.root.length);
    out.push(`${m.mountPoint}${rel === '/' ? '' : rel}/cgroup.procs`);
  }
  return out;
}
