// The rootless decisions that need no unprivileged user: the default state
// root, /etc/subuid ranges and which maps go through newuidmap, the sysfs
// bind. test/integration/rootless.test.ts runs them as a real user.
import { describe, expect, it } from 'vitest';
import { defaultStateRoot } from '../../src/rootless/mode.js';
import { parseSubIds, planUsernsMapping, type IdRange } from '../../src/rootless/idmaps.js';
import { planMounts } from '../../src/rootfs/mounts.js';
import { defaultSpec } from '../../src/config/default-spec.js';
import { MS } from '../../src/oci/tables.js';
import { parseLayout } from '../../src/cgroups/layout.js';
import { rootlessV2Dir } from '../../src/cgroups/rootless.js';

const user = { uid: 1001, gid: 1001, name: 'alice' };
const grants = (ranges: Record<string, IdRange[]>) => (file: string): IdRange[] => ranges[file] ?? [];
const sub = { '/etc/subuid': [{ start: 200000, count: 65536 }], '/etc/subgid': [{ start: 300000, count: 65536 }] };

describe('default state root', () => {
  it('is $XDG_RUNTIME_DIR/ocirun without root, /run/ocirun for root', () => {
    expect(defaultStateRoot({ XDG_RUNTIME_DIR: '/run/user/1001' }, 1001)).toBe('/run/user/1001/ocirun');
    expect(defaultStateRoot({}, 0)).toBe('/run/ocirun');
  });
  it('says what to set when there is no XDG_RUNTIME_DIR', () => {
    expect(() => defaultStateRoot({}, 1001)).toThrow(
      'running as uid 1001 without root: set XDG_RUNTIME_DIR (usually /run/user/1001) or pass --root DIR');
  });
});

describe('subordinate ids', () => {
  it('reads the ranges of the user by name or uid, skipping others and junk', () => {
    const text = 'bob:100000:65536\nalice:200000:65536\n1001:400000:10\n# comment\nalice:x:1\nalice:5:0\n';
    expect(parseSubIds(text, user)).toEqual([{ start: 200000, count: 65536 }, { start: 400000, count: 10 }]);
  });

  it('maps the caller alone directly, denying setgroups', () => {
    const spec = defaultSpec({ rootless: true, uid: 1001, gid: 1001 });
    expect(planUsernsMapping(spec, user, grants({}))).toEqual({ setgroupsDeny: true });
  });

  it('maps subuid ranges through newuidmap and newgidmap', () => {
    const spec = defaultSpec({ rootless: true, uid: 1001, gid: 1001 });
    spec.linux!.uidMappings!.push({ containerID: 1, hostID: 200000, size: 65536 });
    spec.linux!.gidMappings!.push({ containerID: 1, hostID: 300000, size: 1000 });
    expect(planUsernsMapping(spec, user, grants(sub))).toEqual({ uidMapHelper: '/usr/bin/newuidmap', gidMapHelper: '/usr/bin/newgidmap' });
  });

  it('refuses ids the user may not map, naming the field and what is granted', () => {
    const spec = defaultSpec({ rootless: true, uid: 1001, gid: 1001 });
    spec.linux!.uidMappings!.push({ containerID: 1, hostID: 265000, size: 1000 });
    expect(() => planUsernsMapping(spec, user, grants(sub))).toThrow(
      "linux.uidMappings[1]: host uids 265000-265999 are not alice (uid 1001)'s to map: /etc/subuid grants 200000-265535");
    spec.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 1 }];
    expect(() => planUsernsMapping(spec, user, grants({}))).toThrow('/etc/subuid grants none');
  });

  it('refuses additional groups when setgroups must be denied', () => {
    const spec = defaultSpec({ rootless: true, uid: 1001, gid: 1001 });
    spec.process!.user.additionalGids = [5];
    expect(() => planUsernsMapping(spec, user, grants({}))).toThrow(/^process\.user\.additionalGids: /);
  });

  it('leaves root alone', () => {
    expect(planUsernsMapping(defaultSpec({ rootless: true }), { uid: 0, gid: 0 }, grants({}))).toBeUndefined();
  });
});

describe('sysfs in a user namespace without a network namespace', () => {
  const cgroupLayout = { mode: 'unified' as const, hierarchies: [] };
  const sysfs = [{ destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev'] }];
  it('binds the host /sys read-only instead of mounting a new one', () => {
    const [m] = planMounts(sysfs, { bundle: '/b', cgroupLayout, userNamespace: true, bindSysfs: true });
    expect(m).toMatchObject({ dest: '/sys', source: '/sys', type: '', flags: MS.BIND | MS.REC });
    expect(m.remountFlags).toBe(MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
  });
  it('mounts sysfs otherwise', () => {
    expect(planMounts(sysfs, { bundle: '/b', cgroupLayout, userNamespace: true })[0]).toMatchObject({ type: 'sysfs' });
  });
});

describe('the default cgroup of a rootless container on cgroup v2', () => {
  const unified = parseLayout('30 23 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n');
  const scope = '/user.slice/user-1001.slice/user@1001.service/app.slice/run-r1.scope';
  it('goes beside the cgroup of whoever called, not the daemon serving the call', () => {
    expect(rootlessV2Dir('c1', unified, () => new Map([['', scope]])))
      .toBe('/sys/fs/cgroup/user.slice/user-1001.slice/user@1001.service/app.slice/c1');
  });
  it('is none for a caller in the root cgroup: nothing beside it could be delegated', () => {
    expect(rootlessV2Dir('c1', unified, () => new Map([['', '/']]))).toBeUndefined();
  });
});
