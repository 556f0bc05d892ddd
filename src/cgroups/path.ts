// linux.cgroupsPath → one directory per mounted cgroup hierarchy.
//
// Absolute paths are taken below each hierarchy's mount point (runc's rule,
// even when the mount shows only a subtree); relative ones below the cgroup
// the runtime itself is in, per hierarchy (what a CI job inside a container
// wants); an empty one becomes /ocirun/<id>. On hybrid hosts the v2 mount
// (/sys/fs/cgroup/unified) and name=systemd get the container too, as with runc.
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { OciError } from '../errors.js';
import { parseHostCgroups } from '../rootfs/host-cgroups.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';
/** Where containers without a cgroupsPath go, below every hierarchy's root. */
export const DEFAULT_PARENT = '/ocirun';

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

const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
const IGNORED = new Set(['rw', 'ro', 'nosuid', 'nodev', 'noexec', 'relatime', 'xattr', 'clone_children', 'noprefix', 'nsdelegate', 'memory_recursiveprot', 'memory_localevents', 'memory_hugetlb_accounting', 'favordynmods']);

export function parseLayout(mountinfo: string): CgroupLayout {
  const { mode } = parseHostCgroups(mountinfo);
  const hierarchies: Hierarchy[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fields = line.slice(0, sep).split(' ');
    const [fstype, , superOptions = ''] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const mountPoint = unescape(fields[4] ?? '');
    const root = unescape(fields[3] ?? '/');
    if (mode === 'unified') {
      if (fstype === 'cgroup2' && mountPoint === CGROUP_ROOT) hierarchies.push({ name: '', version: 2, mountPoint, root, controllers: [] });
      continue;
    }
    if (!mountPoint.startsWith(`${CGROUP_ROOT}/`)) continue;
    const name = mountPoint.slice(CGROUP_ROOT.length + 1);
    if (name.includes('/') || hierarchies.some((h) => h.name === name)) continue;
    const controllers = fstype === 'cgroup2' ? []
      : superOptions.split(',').filter((o) => !IGNORED.has(o) && !o.startsWith('release_agent='));
    hierarchies.push({ name, version: fstype === 'cgroup2' ? 2 : 1, mountPoint, root, controllers });
  }
  return { mode, hierarchies };
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

const membershipKey = (h: Hierarchy): string => [...h.controllers].sort().join(',');

let cachedLayout: CgroupLayout | undefined;

export function hostLayout(): CgroupLayout {
  cachedLayout ??= parseLayout(readFileSync('/proc/self/mountinfo', 'utf8'));
  return cachedLayout;
}

export function selfMembership(): Map<string, string> {
  return parseMembership(readFileSync('/proc/self/cgroup', 'utf8'));
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

/** The syntax rules, without the host: one line naming the problem, or undefined. */
export function cgroupsPathProblem(path: string): string | undefined {
  if (path.includes('\0')) return 'must not contain NUL bytes';
  if (!path.startsWith('/') && /^[^/]*:[^/]*:[^/]*$/.test(path)) {
    return 'looks like a systemd path (slice:prefix:name); ocirun manages cgroups through cgroupfs only';
  }
  if (path.split('/').includes('..')) return 'must not contain ".."';
  if (posix.normalize(`/${path}`) === '/') return 'names the root cgroup';
  return undefined;
}

/** The directory of the container's cgroup in every hierarchy, keyed by hierarchy name. */
export function resolveCgroupDirs(
  cgroupsPath: string | undefined, id: string,
  layout: CgroupLayout = hostLayout(), self: () => Map<string, string> = selfMembership,
): Record<string, string> {
  const path = cgroupsPath || `${DEFAULT_PARENT}/${id}`;
  const problem = cgroupsPathProblem(path);
  if (problem) throw new OciError('ERR_INVALID_CONFIG', `linux.cgroupsPath: ${problem}`);
  if (layout.hierarchies.length === 0) throw new OciError('ERR_NOT_SUPPORTED', 'no cgroup hierarchy is mounted under /sys/fs/cgroup');
  const dirs: Record<string, string> = {};
  const own = path.startsWith('/') ? undefined : self();
  for (const h of layout.hierarchies) {
    let base = '/';
    if (own) {
      const mine = own.get(membershipKey(h));
      if (mine === undefined) throw new OciError('ERR_INVALID_CONFIG', `linux.cgroupsPath: relative, but this process is in no cgroup of ${h.name || 'cgroup2'}`);
      // The mount shows `root` at its top; our own cgroup must be somewhere below it.
      if (h.root === '/') base = mine;
      else if (mine === h.root || mine.startsWith(`${h.root}/`)) base = mine.slice(h.root.length) || '/';
      else throw new OciError('ERR_INVALID_CONFIG', `linux.cgroupsPath: relative, but this process's cgroup ${mine} is outside the mount ${h.mountPoint}`);
    }
    const inner = posix.normalize(posix.join('/', base, path)).replace(/(.)\/+$/, '$1');
    dirs[h.name] = inner === '/' ? h.mountPoint : `${h.mountPoint}${inner}`;
  }
  return dirs;
}
