// How this host mounts cgroups, read from the one mountinfo parser: which
// hierarchies are visible under /sys/fs/cgroup (unified, hybrid or legacy),
// what each shows at its top, and which cgroups this process is in. A
// hierarchy hidden by a later mount (a tmpfs over /sys/fs/cgroup) does not
// count: nothing written through it would reach the cgroup it names.
import { openSync, readFileSync } from 'node:fs';
import { parseMountinfo, readMountinfo, visibleMounts, type MountEntry } from '../mountinfo.js';
import { native } from '../native/binding.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';

export interface Hierarchy {
  /** Key in CgroupRecord.dirs: the directory under /sys/fs/cgroup ('memory', 'cpu,cpuacct', 'unified'), '' for a unified host. */
  name: string;
  version: 1 | 2;
  mountPoint: string;
  /** The cgroup shown at the top of the mount: '/' unless it binds a subtree. */
  root: string;
  /** v1: the controllers (or 'name=systemd'); v2: []. */
  controllers: string[];
}

export interface CgroupLayout {
  mode: 'unified' | 'hybrid' | 'legacy';
  hierarchies: Hierarchy[];
}

const IGNORED = new Set(['rw', 'ro', 'nosuid', 'nodev', 'noexec', 'relatime', 'xattr', 'clone_children', 'noprefix', 'nsdelegate', 'memory_recursiveprot', 'memory_localevents', 'memory_hugetlb_accounting', 'favordynmods']);

/** The hierarchies from mountinfo entries (all of them: the hidden ones are dropped here). */
export function layoutOf(entries: readonly MountEntry[]): CgroupLayout {
  const cgroups = visibleMounts(entries).filter((m) => m.fstype === 'cgroup' || m.fstype === 'cgroup2');
  const unified = cgroups.find((m) => m.fstype === 'cgroup2' && m.mountPoint === CGROUP_ROOT);
  if (unified) {
    return { mode: 'unified', hierarchies: [{ name: '', version: 2, mountPoint: CGROUP_ROOT, root: unified.root, controllers: [] }] };
  }
  const hierarchies: Hierarchy[] = [];
  for (const m of cgroups) {
    if (!m.mountPoint.startsWith(`${CGROUP_ROOT}/`)) continue;
    const name = m.mountPoint.slice(CGROUP_ROOT.length + 1);
    if (name.includes('/') || hierarchies.some((h) => h.name === name)) continue;
    const controllers = m.fstype === 'cgroup2' ? []
      : m.superOptions.filter((o) => !IGNORED.has(o) && !o.startsWith('release_agent='));
    hierarchies.push({ name, version: m.fstype === 'cgroup2' ? 2 : 1, mountPoint: m.mountPoint, root: m.root, controllers });
  }
  return { mode: hierarchies.some((h) => h.version === 2) ? 'hybrid' : 'legacy', hierarchies };
}

/** layoutOf the text of a mountinfo file. */
export function parseLayout(mountinfo: string): CgroupLayout {
  return layoutOf(parseMountinfo(mountinfo));
}

/** /proc/<pid>/cgroup: the controllers field ('' for v2, sorted v1 names otherwise) → path. */
export function parseMembership(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m) out.set(m[1].split(',').sort().join(','), m[2]);
  }
  return out;
}

/** The key of a hierarchy in parseMembership's map. */
export const membershipKey = (h: Hierarchy): string => [...h.controllers].sort().join(',');

let cached: { layout: CgroupLayout; watch: number } | undefined;

/**
 * This mount namespace's layout, read again only when its mount table has
 * changed (one poll() asks): a long-lived process, the engine daemon, sees a
 * remount of /sys/fs/cgroup on its next call, and the others pay nothing.
 */
export function hostLayout(): CgroupLayout {
  if (cached && !native().mountsChanged(cached.watch)) return cached.layout;
  // Opened before reading, so a change in between shows at the next poll.
  const watch = cached?.watch ?? openSync('/proc/self/mountinfo', 'r');
  cached = { layout: layoutOf(readMountinfo()), watch };
  return cached.layout;
}

export function selfMembership(): Map<string, string> {
  return parseMembership(readFileSync('/proc/self/cgroup', 'utf8'));
}

/** The cgroups of process `pid`, as selfMembership gives ours. */
export function membershipOf(pid: number): Map<string, string> {
  return pid === process.pid ? selfMembership() : parseMembership(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
}

/** Our own cgroup's directory in the v2 hierarchy of a unified host, if it is visible. */
export function ownV2Dir(layout: CgroupLayout = hostLayout(), self: () => Map<string, string> = selfMembership): string | undefined {
  const h = layout.hierarchies.find((x) => x.version === 2);
  const mine = h ? self().get('') : undefined;
  if (!h || mine === undefined) return undefined;
  if (h.root !== '/' && mine !== h.root && !mine.startsWith(`${h.root}/`)) return undefined;
  const rel = h.root === '/' ? mine : mine.slice(h.root.length);
  return rel === '' || rel === '/' ? h.mountPoint : `${h.mountPoint}${rel}`;
}

