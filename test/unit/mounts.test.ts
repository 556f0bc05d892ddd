import { describe, expect, it } from 'vitest';
import { planMounts, withMountLabel } from '../../src/rootfs/mounts.js';
import { parseMountOptions } from '../../src/config/mount-options.js';
import { parseLayout } from '../../src/cgroups/layout.js';
import { MS } from '../../src/oci/tables.js';

const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`;
const UNIFIED = `30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate`;

const ctx = (mountinfo: string, userNamespace = false, cgroupNamespace = false) => ({
  bundle: '/bundle', cgroupLayout: parseLayout(mountinfo), userNamespace, cgroupNamespace,
});

describe('mount options', () => {
  it('turns names into flags, data and propagation', () => {
    const o = parseMountOptions(['nosuid', 'noexec', 'nodev', 'mode=755', 'size=65536k', 'rprivate', 'ro', 'rw']);
    expect(o.flags).toBe(MS.NOSUID | MS.NOEXEC | MS.NODEV);
    expect(o.data).toBe('mode=755,size=65536k');
    expect(o.propagation).toEqual([MS.PRIVATE | MS.REC]);
  });
});

describe('planMounts', () => {
  it('gives linux.mountLabel to tmpfs and devpts as context=, never to proc, sysfs, mqueue, cgroup or binds', () => {
    const plans = planMounts([
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['mode=755'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['gid=5'] },
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/sys', type: 'sysfs', source: 'sysfs' },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue' },
      { destination: '/data', type: 'bind', source: '/srv', options: ['rbind'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup' },
    ], ctx(UNIFIED));
    const label = 'system_u:object_r:container_file_t:s0:c1,c2';
    const data = withMountLabel(plans, label).map((m) => m.data);
    expect(data).toEqual([
      `mode=755,context="${label}"`, `context="${label}"`, `gid=5,context="${label}"`, '', '', '', '', '',
    ]);
    // A context= the config set itself wins.
    const own = planMounts([{ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['context="x"'] }], ctx(UNIFIED));
    expect(withMountLabel(own, label)[0].data).toBe('context="x"');
  });

  it('plans a read-only bind as a bind plus a remount, with a bundle-relative source', () => {
    const [m] = planMounts([{ destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro', 'nosuid'] }], ctx(UNIFIED));
    expect(m).toMatchObject({ dest: '/data', source: '/bundle/data', type: '', flags: MS.BIND | MS.REC, remountFlags: MS.RDONLY | MS.NOSUID });
  });

  it('keeps an absolute bind source and needs no remount without extra flags', () => {
    const [m] = planMounts([{ destination: '/etc/hosts', source: '/etc/hosts', options: ['bind'] }], ctx(UNIFIED));
    expect(m.flags).toBe(MS.BIND);
    expect(m.remountFlags).toBeUndefined();
  });

  it('passes filesystem mounts with their data', () => {
    const [m] = planMounts([{ destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] }], ctx(UNIFIED));
    expect(m).toMatchObject({ type: 'tmpfs', flags: MS.NOSUID | MS.STRICTATIME, data: 'mode=755,size=65536k' });
  });

  it('mounts cgroup2 for "cgroup" on a unified host in a cgroup namespace', () => {
    const plan = planMounts([{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'ro'] }], ctx(UNIFIED, false, true));
    expect(plan).toEqual([expect.objectContaining({ type: 'cgroup2', flags: MS.NOSUID | MS.RDONLY })]);
  });

  it('binds the host\'s cgroup2 instead of a fresh mount that would reset its options, outside a cgroup namespace', () => {
    const plan = planMounts([{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'ro'] }], ctx(UNIFIED));
    expect(plan).toEqual([expect.objectContaining({
      dest: '/sys/fs/cgroup', source: '/sys/fs/cgroup', type: '', flags: MS.BIND | MS.REC, remountFlags: MS.NOSUID | MS.RDONLY,
    })]);
  });

  it('expands "cgroup" into runc\'s v1 layout on a hybrid host', () => {
    const plan = planMounts([{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'ro'] }], ctx(HYBRID));
    expect(plan.map((m) => [m.dest, m.type, m.data, m.symlink ?? ''])).toEqual([
      ['/sys/fs/cgroup', 'tmpfs', 'mode=755', ''],
      ['/sys/fs/cgroup/cpu,cpuacct', 'cgroup', 'cpu,cpuacct', ''],
      ['/sys/fs/cgroup/cpu', '', '', 'cpu,cpuacct'],
      ['/sys/fs/cgroup/cpuacct', '', '', 'cpu,cpuacct'],
      ['/sys/fs/cgroup/memory', 'cgroup', 'memory', ''],
      ['/sys/fs/cgroup/systemd', 'cgroup', 'name=systemd', ''],
      ['/sys/fs/cgroup/unified', '', '', ''],
      ['/sys/fs/cgroup', '', '', ''],
    ]);
    expect(plan.at(-2)).toMatchObject({ source: '/sys/fs/cgroup/unified', flags: MS.BIND | MS.REC, remountFlags: MS.NOSUID | MS.RDONLY });
    // The tmpfs is made read-only only after the hierarchies are mounted in it.
    expect(plan[0].flags & MS.RDONLY).toBe(0);
    expect(plan.at(-1)!.flags).toBe(MS.REMOUNT | MS.NOSUID | MS.RDONLY);
  });

  it('binds the container\'s own cgroup for "cgroup" in a user namespace without a cgroup namespace on a unified host', () => {
    const cg = [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'ro'] }];
    const own = '/sys/fs/cgroup/user.slice/user-1001.slice/user@1001.service/app.slice/c1';
    expect(planMounts(cg, { ...ctx(UNIFIED, true), cgroupDirs: { '': own } })).toEqual([{
      dest: '/sys/fs/cgroup', source: own, type: '', flags: MS.BIND | MS.REC, data: '', remountFlags: MS.NOSUID | MS.RDONLY, propagation: [],
    }]);
    // No cgroup of its own: nothing of the host's.
    expect(planMounts(cg, ctx(UNIFIED, true))).toEqual([expect.objectContaining({ type: 'tmpfs', flags: MS.NOSUID | MS.RDONLY })]);
    // Its own cgroup namespace (owned by its user namespace) may mount a fresh one.
    expect(planMounts(cg, ctx(UNIFIED, true, true))).toEqual([expect.objectContaining({ type: 'cgroup2' })]);
  });

  it('shows an empty read-only tmpfs for "cgroup" inside a user namespace on a v1 host', () => {
    const plan = planMounts([{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid'] }], ctx(HYBRID, true));
    expect(plan.map((m) => [m.dest, m.type])).toEqual([['/sys/fs/cgroup', 'tmpfs'], ['/sys/fs/cgroup', '']]);
    expect(plan[1].flags).toBe(MS.REMOUNT | MS.RDONLY | MS.NOSUID);
  });
});

describe('host cgroup detection', () => {
  it('tells unified, hybrid and legacy apart', () => {
    expect(parseLayout(UNIFIED).mode).toBe('unified');
    expect(parseLayout(HYBRID).mode).toBe('hybrid');
    expect(parseLayout(HYBRID.split('\n').slice(0, 3).join('\n')).mode).toBe('legacy');
  });
});
