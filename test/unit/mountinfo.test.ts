// The one mountinfo parser, and what it says is visible where mounts are
// stacked: fixtures in the kernel's format.
import { describe, expect, it } from 'vitest';
import { mountAt, parseMountinfo, visibleMounts } from '../../src/mountinfo.js';
import { parseLayout } from '../../src/cgroups/layout.js';
import { cgroupPlacementToJoin } from '../../src/cgroups/join.js';

const asRoot = { root: true, joinsCgroupNamespace: false };

const HYBRID = [
  '22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw',
  '25 22 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
  '26 25 0:25 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate',
  '27 25 0:26 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd',
  '30 25 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory',
  '31 25 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct',
];
const text = (...lines: string[]): string => [...HYBRID, ...lines].join('\n') + '\n';
const points = (t: string): string[] => visibleMounts(parseMountinfo(t)).map((m) => m.mountPoint);

describe('parseMountinfo', () => {
  it('reads every field, with any number of optional fields, and unescapes paths', () => {
    const [m] = parseMountinfo('36 35 98:0 /mnt\\040a /mnt\\011b rw,noatime master:1 shared:2 - ext3 /dev/root\\040x rw,errors=continue\n');
    expect(m).toEqual({
      id: 36, parentId: 35, root: '/mnt a', mountPoint: '/mnt\tb', options: ['rw', 'noatime'],
      fstype: 'ext3', source: '/dev/root x', superOptions: ['rw', 'errors=continue'],
    });
    expect(parseMountinfo('garbage\n\n1 2 3 - x\n')).toEqual([]);
  });
});

describe('visibleMounts', () => {
  it('shows every mount when nothing is stacked', () => {
    expect(points(text())).toEqual(HYBRID.map((l) => l.split(' ')[4]));
  });

  it('hides a mount covered by a later mount on the same mount point, and everything on it', () => {
    const t = text('40 25 0:40 / /sys/fs/cgroup rw - tmpfs tmpfs rw');
    expect(points(t)).toEqual(['/sys', '/sys/fs/cgroup']);
    expect(mountAt(parseMountinfo(t), '/sys/fs/cgroup/memory')?.id).toBe(40);
  });

  it('hides mounts below a directory that a later mount covers', () => {
    const t = text('40 22 0:40 / /sys/fs rw - tmpfs tmpfs rw');
    expect(points(t)).toEqual(['/sys', '/sys/fs']);
    expect(mountAt(parseMountinfo(t), '/sys/fs/cgroup/memory/x')?.id).toBe(40);
  });

  it('shows what was mounted after the cover, and only that', () => {
    const t = text(
      '40 25 0:40 / /sys/fs/cgroup rw - tmpfs tmpfs rw',
      '41 40 0:41 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
    );
    expect(points(t)).toEqual(['/sys', '/sys/fs/cgroup', '/sys/fs/cgroup/memory']);
    expect(mountAt(parseMountinfo(t), '/sys/fs/cgroup/memory/a')?.id).toBe(41);
  });

  it('a later mount beside or below a mount does not hide it', () => {
    const t = text('40 30 0:40 / /sys/fs/cgroup/memory/sub rw - tmpfs tmpfs rw', '41 22 0:41 / /sys/fsx rw - tmpfs tmpfs rw');
    expect(points(t)).toContain('/sys/fs/cgroup/memory');
    expect(mountAt(parseMountinfo(t), '/sys/fs/cgroup/memory/subx')?.id).toBe(30);
    expect(mountAt(parseMountinfo(t), '/sys/fs/cgroup/memory/sub/y')?.id).toBe(40);
  });

  it('follows the parent ids, not the order of the lines (a moved root comes after its submounts)', () => {
    const t = [
      '22 27 0:21 / /proc rw - proc proc rw',
      '24 27 0:6 / /dev rw - devtmpfs devtmpfs rw',
      '26 24 0:24 / /dev/pts rw - devpts devpts rw',
      '27 1 254:0 / / rw - ext4 /dev/vda rw',
      '29 26 0:26 / /dev/pts rw - devpts devpts rw',
    ].join('\n');
    expect(visibleMounts(parseMountinfo(t)).map((m) => m.id)).toEqual([22, 24, 27, 29]);
    expect(mountAt(parseMountinfo(t), '/dev/pts/0')?.id).toBe(29);
    expect(mountAt(parseMountinfo(t), '/etc')?.id).toBe(27);
  });

  it('the last of several mounts stacked on one point wins', () => {
    const t = text(
      '40 30 0:40 / /sys/fs/cgroup/memory rw - tmpfs tmpfs rw',
      '41 40 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
    );
    expect(visibleMounts(parseMountinfo(t)).filter((m) => m.mountPoint === '/sys/fs/cgroup/memory').map((m) => m.id)).toEqual([41]);
  });
});

describe('the cgroup layout and exec follow what is visible', () => {
  it('a tmpfs over /sys/fs/cgroup leaves no hierarchy; cgroup2 over it makes the host unified', () => {
    expect(parseLayout(text()).hierarchies.map((h) => h.name)).toEqual(['unified', 'systemd', 'memory', 'cpu,cpuacct']);
    expect(parseLayout(text('40 25 0:40 / /sys/fs/cgroup rw - tmpfs tmpfs rw'))).toEqual({ mode: 'legacy', hierarchies: [] });
    expect(parseLayout(text('40 22 0:40 / /sys/fs rw - tmpfs tmpfs rw')).hierarchies).toEqual([]);
    expect(parseLayout(text('40 25 0:40 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw')).mode).toBe('unified');
  });

  it('exec joins no cgroup a mount over /sys/fs/cgroup has hidden', () => {
    const ours = '4:memory:/\n0::/\n';
    const init = '4:memory:/ocirun/box\n0::/ocirun/box\n';
    expect(cgroupPlacementToJoin(init, ours, parseMountinfo(text()), asRoot)).toEqual({
      dir: '/sys/fs/cgroup/unified/ocirun/box', procs: [], tasks: ['/sys/fs/cgroup/memory/ocirun/box/tasks'],
    });
    expect(cgroupPlacementToJoin(init, ours, parseMountinfo(text('40 25 0:40 / /sys/fs/cgroup rw - tmpfs tmpfs rw')), asRoot))
      .toEqual({ procs: [] });
    // A fake "memory" hierarchy mounted over the real one is not the host's: its options name no memory controller.
    const fake = text('40 30 0:40 / /sys/fs/cgroup/memory rw - tmpfs tmpfs rw');
    expect(cgroupPlacementToJoin(init, ours, parseMountinfo(fake), asRoot)).toEqual({ dir: '/sys/fs/cgroup/unified/ocirun/box', procs: [] });
  });
});
