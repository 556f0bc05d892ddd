// linux.cgroupsPath → one directory per mounted cgroup hierarchy (layout.ts).
//
// Absolute paths are taken below each hierarchy's mount point (runc's rule,
// even when the mount shows only a subtree); relative ones below the cgroup
// the runtime itself is in, per hierarchy (what a CI job inside a container
// wants); an empty one becomes /ocirun/<id>. On hybrid hosts the v2 mount
// (/sys/fs/cgroup/unified) and name=systemd get the container too, as with runc.
import { posix } from 'node:path';
import { OciError } from '../errors.js';
import { hostLayout, membershipKey, selfMembership, type CgroupLayout } from './layout.js';

/** Where containers without a cgroupsPath go, below every hierarchy's root. */
export const DEFAULT_PARENT = '/ocirun';

/**
 * The syntax rules, without the host: one line naming the problem, or
 * undefined. The config validator knows no driver; `cgroupfs` adds the
 * refusal of systemd's form, which only the systemd driver reads.
 */
export function cgroupsPathProblem(path: string, cgroupfs = false): string | undefined {
  if (path.includes('\0')) return 'must not contain NUL bytes';
  if (cgroupfs && !path.startsWith('/') && /^[^/]*:[^/]*:[^/]*$/.test(path)) {
    return 'looks like a systemd path (slice:prefix:name), which needs the systemd driver (--systemd-cgroup)';
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
  const problem = cgroupsPathProblem(path, true);
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
