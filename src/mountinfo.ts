// The runtime's one reader of /proc/<pid>/mountinfo (proc(5)).
//
// mountinfo lists every mount of the namespace, including those nobody can
// reach any more: a mount stacked on the same mount point, or on a directory
// above it, hides it without removing it from the list. Code that asks "what
// is mounted at /sys/fs/cgroup" must look only at what is visible, or a
// container that mounted a tmpfs over /sys/fs/cgroup (or over /sys/fs) makes
// the runtime write to files it never meant to.
import { readFileSync } from 'node:fs';

export interface MountEntry {
  id: number;
  parentId: number;
  /** The directory of the filesystem shown at the mount point ('/' unless it binds a subtree). */
  root: string;
  mountPoint: string;
  /** Per-mount options: rw, nosuid, relatime, ... */
  options: string[];
  fstype: string;
  source: string;
  /** Per-superblock options: for cgroup v1 the controllers, among others. */
  superOptions: string[];
}

// Space, tab, newline and backslash are written as \ooo.
export const unescapeMountinfo = (s: string): string =>
  s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Every entry, in the kernel's order (the order the mounts were made). Malformed lines are skipped. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    // The optional fields before " - " vary in number; the separator does not.
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(' ');
    const right = line.slice(dash + 3).split(' ');
    if (left.length < 6 || right.length < 2) continue;
    out.push({
      id: Number(left[0]), parentId: Number(left[1]),
      root: unescapeMountinfo(left[3]), mountPoint: unescapeMountinfo(left[4]),
      options: left[5].split(','),
      fstype: right[0], source: unescapeMountinfo(right[1]),
      superOptions: (right[2] ?? '').split(','),
    });
  }
  return out;
}

/** Whether `path` is `dir` or below it (whole components: /sys/fs is not below /sys/f). */
export function isAtOrBelow(path: string, dir: string): boolean {
  if (dir === '/') return path.startsWith('/');
  return path === dir || path.startsWith(`${dir}/`);
}

/** The directories strictly above `path`, deepest first: /a/b → /a, /. */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let p = path; p !== '/' && p.includes('/');) {
    p = p.slice(0, p.lastIndexOf('/')) || '/';
    out.push(p);
  }
  return out;
}

/**
 * The entries a path lookup can reach. The list's order says little (moved
 * mounts keep their place: the root may come after its own submounts), so
 * this walks the tree the parent ids make. A mount is out of reach when a
 * sibling (a mount on the same parent) sits on a directory above its mount
 * point, or on the same one and is newer; it is hidden when a mount is
 * stacked on it (its child on its own mount point), and then that child's
 * siblings, the hidden mount's other submounts, are covered by the child.
 */
export function visibleMounts(entries: readonly MountEntry[]): MountEntry[] {
  const ids = new Set(entries.map((m) => m.id));
  const children = new Map<number | 'root', MountEntry[]>();
  for (const m of entries) {
    const key = ids.has(m.parentId) && m.parentId !== m.id ? m.parentId : 'root';
    const list = children.get(key);
    if (list) list.push(m);
    else children.set(key, [m]);
  }
  const visible = new Set<MountEntry>();
  const walk = (key: number | 'root'): void => {
    const siblings = children.get(key) ?? [];
    // The newest sibling on each mount point.
    const newest = new Map<string, number>();
    for (const s of siblings) newest.set(s.mountPoint, Math.max(s.id, newest.get(s.mountPoint) ?? -Infinity));
    for (const m of siblings) {
      if (newest.get(m.mountPoint)! > m.id || ancestors(m.mountPoint).some((p) => newest.has(p))) continue;
      if (!(children.get(m.id) ?? []).some((c) => c.mountPoint === m.mountPoint)) visible.add(m);
      walk(m.id);
    }
  };
  walk('root');
  return entries.filter((m) => visible.has(m));
}

/** The visible mount a path resolves into: the one on the deepest mount point at or above it. */
export function mountAt(entries: readonly MountEntry[], path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of visibleMounts(entries)) {
    if (isAtOrBelow(path, m.mountPoint) && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

export function readMountinfo(pid: number | 'self' = 'self'): MountEntry[] {
  return parseMountinfo(readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
}
