// linux.devices and the mount extensions (idmap, ridmap, tmpcopyup): what the
// validator refuses and what the planner hands the helper (no root needed).
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { validateSpec } from '../../src/config/validate.js';
import { formatProblem } from '../../src/errors.js';
import { defaultDevSymlinks, planDevices } from '../../src/rootfs/devices.js';
import { planMounts } from '../../src/rootfs/mounts.js';
import { parseLayout } from '../../src/cgroups/layout.js';
import { MOUNT_ATTR, MS, ROOTFS_PROPAGATION } from '../../src/oci/tables.js';

const base = (): any => ({
  ociVersion: '1.2.0',
  root: { path: 'rootfs' },
  process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 } },
  linux: { namespaces: [{ type: 'mount' }] },
});
const problems = (mutate: (c: any) => void): string[] => {
  const c = base();
  mutate(c);
  return validateSpec(c).problems.map(formatProblem);
};
const map = [{ containerID: 0, hostID: 100000, size: 65536 }];
const ctx = { bundle: '/bundle', cgroupLayout: parseLayout('30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw'), userNamespace: false };

describe('linux.devices', () => {
  it('plans configured devices after the defaults, replacing a default at the same path', () => {
    const plan = planDevices([
      { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o600 },
      { path: '/dev/kvm', type: 'u', major: 10, minor: 232, uid: 5, gid: 6 },
      { path: '/dev/sda', type: 'b', major: 8, minor: 0, fileMode: 0o20660 },
      { path: '/dev/pipe', type: 'p' },
    ], false);
    expect(plan.map((d) => d.path)).toEqual(['/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/null', '/dev/kvm', '/dev/sda', '/dev/pipe']);
    expect(plan.slice(5)).toEqual([
      { path: '/dev/null', type: 0o020000, major: 1, minor: 3, mode: 0o600, uid: 0, gid: 0, bind: false },
      { path: '/dev/kvm', type: 0o020000, major: 10, minor: 232, mode: 0o666, uid: 5, gid: 6, bind: false },
      // podman writes the file type bits into fileMode; only the permissions count.
      { path: '/dev/sda', type: 0o060000, major: 8, minor: 0, mode: 0o660, uid: 0, gid: 0, bind: false },
      { path: '/dev/pipe', type: 0o010000, major: 0, minor: 0, mode: 0o666, uid: 0, gid: 0, bind: false },
    ]);
  });

  it('leaves a configured /dev/ptmx to the pts/ptmx link, as runc does for privileged containers', () => {
    const plan = planDevices([
      { path: '/dev/ptmx', type: 'c', major: 5, minor: 2 },
      { path: '/dev/fuse', type: 'c', major: 10, minor: 229 },
    ], false);
    expect(plan.map((d) => d.path)).not.toContain('/dev/ptmx');
    expect(plan.map((d) => d.path)).toContain('/dev/fuse');
    expect(defaultDevSymlinks()).toContainEqual({ path: '/dev/ptmx', target: 'pts/ptmx' });
  });

  it('links /dev/core to /proc/kcore only where the host kernel has one (runc)', () => {
    expect(defaultDevSymlinks(true)).toContainEqual({ path: '/dev/core', target: '/proc/kcore' });
    expect(defaultDevSymlinks(false).map((l) => l.path)).toEqual(['/dev/fd', '/dev/stdin', '/dev/stdout', '/dev/stderr', '/dev/ptmx']);
    expect(defaultDevSymlinks().some((l) => l.path === '/dev/core')).toBe(existsSync('/proc/kcore'));
  });

  it('binds device nodes in a user namespace, but still makes fifos', () => {
    const plan = planDevices([{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }, { path: '/dev/pipe', type: 'p' }], true);
    expect(plan.map((d) => [d.path, d.bind])).toEqual([
      ['/dev/null', true], ['/dev/zero', true], ['/dev/full', true], ['/dev/random', true], ['/dev/urandom', true], ['/dev/tty', true],
      ['/dev/fuse', true], ['/dev/pipe', false],
    ]);
  });

  it('refuses devices without numbers, duplicates and odd paths', () => {
    expect(problems((c) => {
      c.linux.devices = [
        { path: '/dev/a', type: 'b', major: 1 },
        { path: '/dev/b', type: 'p' },
        { path: '//dev//b/', type: 'p' },
        { path: '/dev/../etc/x', type: 'p' },
        { path: '/dev/c', type: 'x', major: 1, minor: 1 },
      ];
    })).toEqual([
      'linux.devices[4].type: unknown device type "x"',
      'linux.devices[0].minor: is required for a device of type "b"',
      'linux.devices[2].path: duplicate device "//dev//b/" (first at linux.devices[1])',
      'linux.devices[3].path: must name a file, without "." or ".." components',
    ]);
  });
});

describe('mount extensions', () => {
  it('plans idmap and ridmap binds, with the mount\'s mappings or none (the container\'s)', () => {
    const [own, theirs, tmp] = planMounts([
      { destination: '/a', type: 'bind', source: '/src', options: ['rbind', 'ridmap', 'rro'], uidMappings: map, gidMappings: map },
      { destination: '/b', type: 'bind', source: '/src', options: ['idmap'] },
      { destination: '/c', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'mode=700'] },
    ], ctx);
    expect(own).toMatchObject({ flags: MS.BIND | MS.REC, idmap: 'ridmap', uidMappings: map, gidMappings: map, attrSet: MOUNT_ATTR.RDONLY });
    expect(theirs).toMatchObject({ flags: MS.BIND, idmap: 'idmap' });
    expect(theirs.uidMappings).toBeUndefined();
    expect(tmp).toMatchObject({ type: 'tmpfs', data: 'mode=700', copyUp: true });
  });

  it('accepts an idmap mount without mappings in a user namespace', () => {
    expect(problems((c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = map;
      c.linux.gidMappings = map;
      c.mounts = [{ destination: '/a', type: 'bind', source: '/src', options: ['rbind', 'idmap'] }];
    })).toEqual([]);
  });

  it('refuses contradictory id-mapping', () => {
    expect(problems((c) => {
      c.mounts = [
        { destination: '/a', type: 'bind', source: '/src', options: ['idmap', 'ridmap'], uidMappings: map, gidMappings: map },
        { destination: '/b', type: 'bind', source: '/src', options: ['idmap'], uidMappings: map },
        { destination: '/c', type: 'bind', source: '/src', options: ['bind'], gidMappings: map },
      ];
    })).toEqual([
      'mounts[0].options: "idmap" and "ridmap" are mutually exclusive',
      'mounts[1].gidMappings: is required when the other mapping is given',
      'mounts[2].gidMappings: requires the "idmap" or "ridmap" mount option',
    ]);
  });

  it('applies plain rootfsPropagation names to the root mount only', () => {
    expect(ROOTFS_PROPAGATION.shared).toBe(MS.SHARED);
    expect(ROOTFS_PROPAGATION.rshared).toBe(MS.SHARED | MS.REC);
    expect(ROOTFS_PROPAGATION.private).toBe(MS.PRIVATE);
  });
});
