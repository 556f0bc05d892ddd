// cgroups on a host with v1 controllers (hybrid or legacy, like this VM):
// real containers through the CLI, limits read back from the kernel's files
// and felt by real processes. The same scenarios run against pure cgroup v2
// in a VM (test/vm/cgroups-v2.vm.test.ts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, isRoot, waitFor } from './harness.js';
import { hostLayout } from '../../src/cgroups/layout.js';
import type { Spec } from '../../src/oci/types.js';

const v1Host = hostLayout().mode !== 'unified';

type Edit = (spec: Spec) => void;
const sh = (script: string): Edit => (spec) => { spec.process!.args = ['sh', '-c', script]; };
const all = (...edits: Edit[]): Edit => (spec) => { for (const e of edits) e(spec); };
const cgroupNs: Edit = (spec) => { spec.linux!.namespaces!.push({ type: 'cgroup' }); };
const resources = (r: NonNullable<NonNullable<Spec['linux']>['resources']>): Edit => (spec) => {
  spec.linux!.resources = { ...spec.linux!.resources, ...r };
};

/** The first real disk: its major:minor for blkio lines and device rules. */
function diskDevice(): { major: number; minor: number } {
  for (const name of readdirSync('/sys/block')) {
    if (/^(loop|ram|zram|nullb)/.test(name)) continue;
    if (Number(readFileSync(`/sys/block/${name}/size`, 'utf8')) === 0) continue;
    const [major, minor] = readFileSync(`/sys/block/${name}/dev`, 'utf8').trim().split(':').map(Number);
    return { major, minor };
  }
  throw new Error('no block device');
}

/** A block device root may open here (some hosts forbid opening their disks even to root). */
function openableBlockDevice(): { major: number; minor: number } {
  for (const name of readdirSync('/sys/block')) {
    try {
      closeSync(openSync(`/dev/${name}`, 'r'));
    } catch {
      continue;
    }
    const [major, minor] = readFileSync(`/sys/block/${name}/dev`, 'utf8').trim().split(':').map(Number);
    return { major, minor };
  }
  throw new Error('no block device can be opened');
}

/** Still running (a zombie waits for its reaper, but it is dead). */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0] !== 'Z';
  } catch {
    return false;
  }
}

describe.runIf(isRoot && v1Host)('cgroups (v1 controllers)', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    const left = h.cleanup();
    expect(left).toEqual({ stateDirs: [], processes: [], mounts: [] });
    expect(h.leakedCgroups()).toEqual([]);
  });
  afterAll(() => h?.destroy());

  /** The container's cgroup dirs from its state; never inside the machine agent's tree. */
  const dirs = (id: string): Record<string, string> => {
    const d = JSON.parse(readFileSync(join(h.root, id, 'state.json'), 'utf8')).cgroup.dirs as Record<string, string>;
    for (const dir of Object.values(d)) expect(dir).not.toMatch(/process_api/);
    return d;
  };
  const file = (id: string, controller: string, name: string): string => readFileSync(join(dirs(id)[controller], name), 'utf8').trim();
  const state = (id: string) => JSON.parse(h.run(['state', id]).stdout) as { status: string; pid: number };
  const start = (id: string, edit: Edit): void => {
    const r = h.run(['run', '-d', '--bundle', h.bundle(edit), id]);
    expect(r, r.stderr).toMatchObject({ status: 0, stderr: '' });
  };

  it('puts the init in its own cgroup in every hierarchy before the program runs, and delete removes it', () => {
    const id = h.id();
    const r = h.run(['run', '--bundle', h.bundle(sh('cat /proc/self/cgroup')), id]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    for (const name of ['memory', 'pids', 'freezer', 'devices', 'cpu', 'blkio', 'name=systemd']) {
      expect(lines.find((l) => l.split(':')[1].split(',').includes(name))).toMatch(new RegExp(`:/ocirun/${id}$`));
    }
    expect(lines).toContain(`0::/ocirun/${id}`);
    expect(h.leakedCgroups()).toEqual([]);
  });

  it('in a cgroup namespace the container sees its own cgroup as the root, with its limits', () => {
    const r = h.run(['run', '--bundle', h.bundle(all(cgroupNs, resources({ memory: { limit: 48 << 20 } }),
      sh('grep memory /proc/self/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes'))), h.id()]);
    expect(r).toMatchObject({ status: 0, stdout: `4:memory:/\n${48 << 20}\n` });
  });

  it('without a cgroup namespace /sys/fs/cgroup shows the container\'s own cgroups (bound, as runc does), in a user namespace too', () => {
    const userns: Edit = (spec) => {
      spec.linux!.namespaces!.push({ type: 'user' });
      spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      spec.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    };
    const script = sh('cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max; mkdir /sys/fs/cgroup/pids/x 2>&1 | grep -c Read-only');
    const limits = resources({ cpu: { quota: 50000, period: 100000 }, pids: { limit: 33 } });
    for (const edit of [all(limits, script), all(limits, userns, script)]) {
      const r = h.run(['run', '--bundle', h.bundle(edit), h.id()]);
      expect(r).toMatchObject({ status: 0, stdout: '50000\n33\n1\n', stderr: '' });
    }
  });

  it('a memory hog is OOM-killed and events reports oom', async () => {
    const id = h.id();
    start(id, all(resources({ memory: { limit: 24 << 20, swap: 24 << 20 } }), sh('sleep 60')));
    expect(file(id, 'memory', 'memory.limit_in_bytes')).toBe(String(24 << 20));
    const events = h.spawn(['events', '--interval', '100ms', id]);
    let out = '';
    events.stdout!.on('data', (d) => { out += d; });
    const ended = new Promise<number | null>((res) => events.on('exit', res));
    await waitFor(() => out.includes('"type":"stats"'));
    const hog = h.run(['exec', id, 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1']);
    expect(hog.status).toBe(137);
    await waitFor(() => out.includes(`{"type":"oom","id":"${id}"}`));
    expect(file(id, 'memory', 'memory.oom_control')).toMatch(/^oom_kill [1-9]/m);
    const stats = JSON.parse(out.split('\n').find((l) => l.includes('"stats"'))!);
    expect(stats).toMatchObject({ type: 'stats', id, data: { memory: { usage: { limit: 24 << 20 } }, pids: { current: 1 } } });
    expect(Object.keys(stats.data).sort()).toEqual(['blkio', 'cpu', 'hugetlb', 'memory', 'pids']);
    // The stream ends by itself once the container stops.
    expect(h.run(['kill', id, 'KILL']).status).toBe(0);
    expect(await ended).toBe(0);
  });

  it('a fork loop stops at the pids limit', () => {
    // The loop runs in a subshell, which a failed fork ends; the rest uses builtins only, as nothing can fork any more.
    const r = h.run(['run', '--bundle', h.bundle(all(cgroupNs, resources({ pids: { limit: 8 } }), sh(
      '(i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); echo $i > /dev/shm/forks; done) 2>/dev/null; cd /sys/fs/cgroup/pids; ' +
      'read forks < /dev/shm/forks; read max < pids.max; read current < pids.current; ' +
      'while read k v; do [ $k = max ] && echo "forks=$forks max=$max current=$current refused=$v"; done < pids.events'))), h.id()]);
    expect(r.status, r.stderr).toBe(0);
    const m = /^forks=(\d+) max=8 current=(\d+) refused=(\d+)\n$/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const [forks, current, refused] = m!.slice(1).map(Number);
    // The shell, the subshell and six sleeps fill the 8; the seventh sleep is refused.
    expect(forks).toBe(6);
    expect(current).toBeLessThanOrEqual(8);
    expect(refused).toBeGreaterThan(0);
  });

  it('a pids limit of 0 still lets the init in, and nothing forks', () => {
    const r = h.run(['run', '--bundle', h.bundle(all(resources({ pids: { limit: 0 } }), sh('true & echo forked'))), h.id()]);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/can't fork|Resource temporarily unavailable/);
  });

  it('a busy loop under a 0.2 CPU quota is throttled', () => {
    const r = h.run(['run', '--bundle', h.bundle(all(cgroupNs, resources({ cpu: { quota: 20000, period: 100000, shares: 512 } }),
      sh('timeout 1 sh -c "while :; do :; done"; cd /sys/fs/cgroup/cpu; cat cpu.cfs_quota_us cpu.cfs_period_us cpu.shares; grep nr_throttled cpu.stat'))), h.id()]);
    expect(r.status).toBe(0);
    const [quota, period, shares, throttled] = r.stdout.trim().split('\n');
    expect([quota, period, shares]).toEqual(['20000', '100000', '512']);
    expect(Number(throttled.split(' ')[1])).toBeGreaterThan(0);
  });

  it('blkio throttle lines carry the device major:minor', () => {
    const { major, minor } = diskDevice();
    const r = h.run(['run', '--bundle', h.bundle(all(cgroupNs, resources({
      blockIO: {
        weight: 300,
        throttleReadBpsDevice: [{ major, minor, rate: 1048576 }],
        throttleWriteIOPSDevice: [{ major, minor, rate: 100 }],
      },
    }), sh('cd /sys/fs/cgroup/blkio; cat blkio.throttle.read_bps_device blkio.throttle.write_iops_device blkio.bfq.weight 2>/dev/null || cat blkio.weight'))), h.id()]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').slice(0, 2)).toEqual([`${major}:${minor} 1048576`, `${major}:${minor} 100`]);
    expect(r.stdout).toMatch(/(default )?300\n$/);
  });

  it('a device outside the allow-list can be made but not opened; an allow rule opens it', () => {
    const { major, minor } = openableBlockDevice();
    const caps: Edit = (spec) => { for (const set of ['bounding', 'effective', 'permitted'] as const) spec.process!.capabilities![set]!.push('CAP_MKNOD'); };
    const script = `mknod /dev/disk b ${major} ${minor} && echo made; exec 3< /dev/disk && echo opened`;
    const denied = h.run(['run', '--bundle', h.bundle(all(caps, sh(script))), h.id()]);
    expect(denied.stdout).toBe('made\n');
    expect(denied.stderr).toMatch(/Operation not permitted/);
    const allowed = h.run(['run', '--bundle', h.bundle(all(caps, resources({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'b', major, minor, access: 'r' }] }), sh(script))), h.id()]);
    expect(allowed).toMatchObject({ status: 0, stdout: 'made\nopened\n', stderr: '' });
  });

  it('pause freezes a counter, state and list say paused, resume continues it', async () => {
    const id = h.id();
    start(id, sh('while :; do echo x >> /dev/shm/count; done'));
    const { pid } = state(id);
    const size = (): number => statSync(`/proc/${pid}/root/dev/shm/count`).size;
    await waitFor(() => existsSync(`/proc/${pid}/root/dev/shm/count`) && size() > 0);
    expect(h.run(['pause', id])).toMatchObject({ status: 0, stderr: '' });
    expect(state(id).status).toBe('paused');
    expect(h.run(['list']).stdout).toMatch(new RegExp(`^${id}\\s+${pid}\\s+paused\\s`, 'm'));
    expect(file(id, 'freezer', 'freezer.state')).toBe('FROZEN');
    const frozen = size();
    await new Promise((r) => setTimeout(r, 300));
    expect(size()).toBe(frozen);
    expect(h.run(['pause', id]).stderr).toMatch(/already paused/);
    expect(h.run(['exec', id, 'true']).stderr).toMatch(/cannot exec in a paused container/);
    expect(h.run(['start', id]).status).toBe(1);
    expect(h.run(['resume', id])).toMatchObject({ status: 0, stderr: '' });
    expect(state(id).status).toBe('running');
    await waitFor(() => size() > frozen);
    expect(h.run(['resume', id]).stderr).toMatch(/is not paused \(status running\)/);
  });

  it('update changes live limits, the kernel files and the recorded config follow', () => {
    const id = h.id();
    start(id, all(resources({ memory: { limit: 64 << 20, swap: 64 << 20 }, pids: { limit: 20 } }), sh('sleep 60')));
    expect(h.run(['update', '--memory', '128m', '--memory-swap', '256m', '--pids-limit', '30', '--cpu-quota', '50000', '--cpu-share', '256', id]))
      .toMatchObject({ status: 0, stderr: '' });
    expect(file(id, 'memory', 'memory.limit_in_bytes')).toBe(String(128 << 20));
    expect(file(id, 'memory', 'memory.memsw.limit_in_bytes')).toBe(String(256 << 20));
    expect(file(id, 'pids', 'pids.max')).toBe('30');
    expect(file(id, 'cpu', 'cpu.cfs_quota_us')).toBe('50000');
    expect(file(id, 'cpu', 'cpu.shares')).toBe('256');
    const json = join(h.work, `${id}-resources.json`);
    writeFileSync(json, JSON.stringify({ pids: { limit: 40 }, cpu: { cpus: '0' } }));
    expect(h.run(['update', '-r', json, id]).status).toBe(0);
    expect([file(id, 'pids', 'pids.max'), file(id, 'cpuset', 'cpuset.cpus')]).toEqual(['40', '0']);
    const recorded = JSON.parse(readFileSync(join(h.root, id, 'state.json'), 'utf8')).config.linux.resources;
    expect(recorded).toMatchObject({ memory: { limit: 128 << 20, swap: 256 << 20 }, pids: { limit: 40 }, cpu: { quota: 50000, shares: 256, cpus: '0' } });
    // Bad input: one line naming the problem, and nothing changes.
    const bad = h.run(['update', '--memory', '300m', id]);
    expect(bad).toMatchObject({ status: 1, stderr: 'ocirun: linux.resources.memory.swap: must be at least linux.resources.memory.limit (it is memory plus swap)\n' });
    expect(h.run(['update', '--memory', 'lots', id]).stderr).toBe('ocirun: --memory: invalid size "lots" (e.g. 512m, 1g, 1048576 or -1)\n');
    expect(file(id, 'memory', 'memory.limit_in_bytes')).toBe(String(128 << 20));
    // containerd's shim sends the whole resources back, device rules unchanged: accepted; a changed rule is not.
    const devices = JSON.parse(readFileSync(join(h.root, id, 'state.json'), 'utf8')).config.linux.resources.devices;
    writeFileSync(json, JSON.stringify({ devices, pids: { limit: 50 } }));
    expect(h.run(['update', '-r', json, id])).toMatchObject({ status: 0, stderr: '' });
    expect(file(id, 'pids', 'pids.max')).toBe('50');
    writeFileSync(json, JSON.stringify({ devices: [...devices, { allow: true, access: 'rwm' }], pids: { limit: 60 } }));
    expect(h.run(['update', '-r', json, id])).toMatchObject({ status: 1, stderr: 'ocirun: linux.resources.devices: device rules cannot be changed by update\n' });
    expect(file(id, 'pids', 'pids.max')).toBe('50');
  });

  it('memory.checkBeforeUpdate refuses a limit below the current usage', () => {
    const id = h.id();
    start(id, all(resources({ memory: { limit: 64 << 20, checkBeforeUpdate: true } }), sh('sleep 60')));
    const r = h.run(['update', '--memory', '4096', id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^ocirun: linux.resources.memory.limit: 4096 is below the container's current usage \(\d+ bytes\) and memory.checkBeforeUpdate is set\n$/);
    expect(file(id, 'memory', 'memory.limit_in_bytes')).toBe(String(64 << 20));
  });

  it('ps lists the container\'s processes, as pids or through ps(1)', async () => {
    const id = h.id();
    start(id, sh('sleep 61 & exec sleep 62'));
    const { pid } = state(id);
    await waitFor(() => (JSON.parse(h.run(['ps', '--format', 'json', id]).stdout) as number[]).length === 2);
    const pids = JSON.parse(h.run(['ps', '--format', 'json', id]).stdout) as number[];
    expect(pids).toContain(pid);
    const table = h.run(['ps', id, '-o', 'pid,args']);
    expect(table.status).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0].trim()).toBe('PID COMMAND');
    expect(lines.slice(1).map((l) => l.trim().split(/\s+/).slice(1).join(' ')).sort()).toEqual(['sleep 61', 'sleep 62']);
    expect(h.run(['ps', '--format', 'json', id, '-ef']).stderr).toBe('ocirun: ps arguments cannot be used with --format json\n');
  });

  it('kill --all signals every process; delete leaves no cgroup behind', async () => {
    const id = h.id();
    start(id, sh('sleep 63 & sleep 64 & wait'));
    await waitFor(() => (JSON.parse(h.run(['ps', '--format', 'json', id]).stdout) as number[]).length === 3);
    expect(h.run(['kill', '--all', id, 'KILL'])).toMatchObject({ status: 0, stderr: '' });
    await waitFor(() => state(id).status === 'stopped');
    expect(JSON.parse(h.run(['ps', '--format', 'json', id]).stdout)).toEqual([]);
    const before = Object.values(dirs(id));
    expect(before.every((d) => existsSync(d))).toBe(true);
    expect(h.run(['delete', id]).status).toBe(0);
    expect(before.filter((d) => existsSync(d))).toEqual([]);
  });

  it('delete --force of a paused container kills it and leaves no cgroup behind', async () => {
    const id = h.id();
    start(id, sh('sleep 65 & exec sleep 66'));
    expect(h.run(['pause', id]).status).toBe(0);
    const before = Object.values(dirs(id));
    const pids = JSON.parse(h.run(['ps', '--format', 'json', id]).stdout) as number[];
    expect(pids.length).toBe(2);
    expect(h.run(['delete', id]).stderr).toMatch(/not stopped: paused/);
    expect(h.run(['delete', '--force', id])).toMatchObject({ status: 0, stderr: '' });
    expect(before.filter((d) => existsSync(d))).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
  });

  it('without its own pid namespace, what the init leaves behind dies with delete', async () => {
    const id = h.id();
    const noPidNs: Edit = (spec) => { spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'pid'); };
    start(id, all(noPidNs, sh('sleep 67 & exec sleep 68')));
    await waitFor(() => (JSON.parse(h.run(['ps', '--format', 'json', id]).stdout) as number[]).length === 2);
    const { pid } = state(id);
    const child = (JSON.parse(h.run(['ps', '--format', 'json', id]).stdout) as number[]).find((p) => p !== pid)!;
    expect(h.run(['kill', id, 'KILL']).status).toBe(0);
    await waitFor(() => state(id).status === 'stopped');
    expect(alive(child)).toBe(true);
    expect(h.run(['delete', id]).status).toBe(0);
    expect(alive(child)).toBe(false);
  });

  it('refuses what this host cannot do, and a busy cgroup, leaving nothing behind', () => {
    const refused = (edit: Edit): string => {
      const id = h.id();
      const r = h.run(['create', '--bundle', h.bundle(edit), id]);
      expect(r.status).toBe(1);
      expect(h.stateDirs()).toEqual([]);
      return r.stderr;
    };
    expect(refused(resources({ unified: { 'memory.high': '1M' } })))
      .toBe('ocirun: linux.resources.unified: requires cgroup v2 (this host uses cgroup v1 controllers)\n');
    if (!hostLayout().hierarchies.some((h) => h.controllers.includes('hugetlb'))) {
      expect(refused(resources({ hugepageLimits: [{ pageSize: '2MB', limit: 2 << 20 }] })))
        .toBe('ocirun: linux.resources.hugepageLimits[0].limit: the hugetlb cgroup controller is not mounted on this host\n');
    }
    expect(refused((spec) => { spec.linux!.cgroupsPath = 'machine.slice:ocirun:x'; }))
      .toMatch(/^ocirun: linux.cgroupsPath: looks like a systemd path/);
    // The systemd driver, by runc's flag (containerd's SystemdCgroup = true) or crun's, is for cgroup v2 hosts
    // (test/vm/cgroups-systemd.sd.ts): one line, nothing made.
    for (const flags of [['--systemd-cgroup'], ['--cgroup-manager', 'systemd']]) {
      const r = h.run([...flags, 'create', '--bundle', h.bundle(sh('true')), h.id()]);
      expect(r).toMatchObject({ status: 1, stderr: expect.stringMatching(/^ocirun: --systemd-cgroup \(--cgroup-manager systemd\): needs a unified cgroup v2 host; this one has (hybrid|legacy) cgroups\n$/) });
      expect(h.stateDirs()).toEqual([]);
    }
    // A second container in the first one's cgroup, or in a cgroup above it: refused, and the first is untouched.
    const first = h.id();
    const parent = `/ocirun/${first}`;
    start(first, all((spec) => { spec.linux!.cgroupsPath = `${parent}/leaf`; }, sh('sleep 69')));
    const parents = Object.values(dirs(first)).map((d) => d.replace(/\/leaf$/, ''));
    try {
      for (const path of [`${parent}/leaf`, parent]) {
        const r = h.run(['create', '--bundle', h.bundle(all((spec) => { spec.linux!.cgroupsPath = path; }, sh('true'))), h.id()]);
        expect(r.stderr).toMatch(new RegExp(`^ocirun: linux.cgroupsPath: cgroup /sys/fs/cgroup/[^ ]+${path} already has processes\n$`));
        expect(state(first).status).toBe('running');
      }
    } finally {
      h.run(['delete', '--force', first]);
      for (const d of parents) rmdirSync(d);
    }
  });

  it('--cgroup-manager=disabled makes no cgroup, and pause says why it cannot', () => {
    const id = h.id();
    const r = h.run(['--cgroup-manager', 'disabled', 'run', '-d', '--bundle', h.bundle(sh('sleep 70')), id]);
    expect(r.status).toBe(0);
    expect(readFileSync(`/proc/${state(id).pid}/cgroup`, 'utf8')).not.toContain(id);
    expect(h.run(['pause', id]).stderr).toBe(`ocirun: container "${id}" has no cgroup (it was created with --cgroup-manager=disabled, or rootless without a writable cgroup)\n`);
  });
});
