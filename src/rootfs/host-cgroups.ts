// How the host mounts cgroups decides what a "cgroup" mount in config.json means:
// cgroup2 on a unified host; on hybrid and legacy hosts a tmpfs holding one
// cgroup v1 mount per hierarchy, as runc does.
import { readFileSync } from 'node:fs';

export interface HostCgroupMount {
  /** Directory name under /sys/fs/cgroup, e.g. "cpu,cpuacct" or "unified". */
  name: string;
  fstype: 'cgroup' | 'cgroup2';
  /** Superblock options that select the hierarchy, e.g. "cpu,cpuacct" or "name=systemd". */
  hierarchy: string;
}

export interface HostCgroups {
  mode: 'unified' | 'hybrid' | 'legacy';
  mounts: HostCgroupMount[];
}

const V1_OPTIONS_IGNORED = new Set(['rw', 'ro', 'nosuid', 'nodev', 'noexec', 'relatime', 'xattr', 'clone_children', 'noprefix']);

export function parseHostCgroups(mountinfo: string): HostCgroups {
  const mounts: HostCgroupMount[] = [];
  let unifiedRoot = false;
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fields = line.slice(0, sep).split(' ');
    const [fstype, , superOptions = ''] = line.slice(sep + 3).split(' ');
    const mountPoint = fields[4];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    if (mountPoint === '/sys/fs/cgroup') {
      if (fstype === 'cgroup2') unifiedRoot = true;
      continue;
    }
    if (!mountPoint?.startsWith('/sys/fs/cgroup/')) continue;
    const name = mountPoint.slice('/sys/fs/cgroup/'.length);
    if (name.includes('/')) continue;
    const hierarchy = fstype === 'cgroup2'
      ? ''
      : superOptions.split(',').filter((o) => !V1_OPTIONS_IGNORED.has(o) && !o.startsWith('release_agent=')).join(',');
    mounts.push({ name, fstype, hierarchy });
  }
  if (unifiedRoot) return { mode: 'unified', mounts: [] };
  return { mode: mounts.some((m) => m.fstype === 'cgroup2') ? 'hybrid' : 'legacy', mounts };
}

let cached: HostCgroups | undefined;

export function hostCgroups(): HostCgroups {
  cached ??= parseHostCgroups(readFileSync('/proc/self/mountinfo', 'utf8'));
  return cached;
}
