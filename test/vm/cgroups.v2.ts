// cgroups on a pure cgroup v2 kernel. Runs INSIDE the test VM only
// (test/vm/cgroups-v2.vm.test.ts boots it and runs this file there through
// test/vm/vitest.v2.config.ts); the default `vitest run` never includes it.
// The scenarios of test/integration/cgroups-v1.test.ts against v2's files:
// clone3(CLONE_INTO_CGROUP), memory.events, pids.max, cpu.max + cpu.stat,
// io.max, the eBPF device filter, cgroup.freeze, cgroup.kill, hugetlb,
// `unified`, update, and a nested setup whose cgroup already holds processes.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, isRoot, waitFor } from '../integration/harness.js';
import { hostLayout } from '../../src/cgroups/layout.js';
import type { Spec } from '../../src/oci/types.js';

const inVm = !!process.env.OCIRUN_TEST_VM && hostLayout().mode === 'unified';
const CG = '/sys/fs/cgroup';

type Edit = (spec: Spec) => void;
const sh = (script: string): Edit => (spec) => { spec.process!.args = ['sh', '-c', script]; };
const all = (...edits: Edit[]): Edit => (spec) => { for (const e of edits) e(spec); };
const cgroupNs: Edit = (spec) => { spec.linux!.namespaces!.push({ type: 'cgroup' }); };
const resources = (r: NonNullable<NonNullable<Spec['linux']>['resources']>): Edit => (spec) => {
  spec.linux!.resources = { ...spec.linux!.resources, ...r };
};
const caps = (...names: string[]): Edit => (spec) => {
  for (const set of ['bounding', 'effective', 'permitted'] as const) spec.process!.capabilities![set]!.push(...names);
};

function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0] !== 'Z';
  } catch {
    return false;
  }
}

describe.runIf(isRoot && inVm)('cgroups (pure v2, in the VM)', () => {
  let h: Harness;
  let disk: { major: number; minor: number };
  beforeAll(async () => {
    h = await Harness.create();
    // A block device for io.max and the device filter: the VM has no disk of its own.
    if (!existsSync('/sys/block/nullb0')) expect(spawnSync('modprobe', ['null_blk', 'nr_devices=1']).status).toBe(0);
    const [major, minor] = readFileSync('/sys/block/nullb0/dev', 'utf8').trim().split(':').map(Number);
    disk = { major, minor };
  });
  afterEach(() => {
    const left = h.cleanup();
    expect(left).toEqual({ stateDirs: [], processes: [], mounts: [] });
    expect(h.leakedCgroups()).toEqual([]);
  });
  afterAll(() => h?.destroy());

  const dir = (id: string): string => {
    const dirs = JSON.parse(readFileSync(join(h.root, id, 'state.json'), 'utf8')).cgroup.dirs as Record<string, string>;
    expect(Object.keys(dirs)).toEqual(['']);
    return dirs[''];
  };
  const file = (id: string, name: string): string => readFileSync(join(dir(id), name), 'utf8').trim();
  const state = (id: string) => JSON.parse(h.run(['state', id]).stdout) as { status: string; pid: number };
  const start = (id: string, edit: Edit): void => {
    const r = h.run(['run', '-d', '--bundle', h.bundle(edit), id]);
    expect(r, r.stderr).toMatchObject({ status: 0, stderr: '' });
  };
  const pidsOf = (id: string): number[] => JSON.parse(h.run(['ps', '--format', 'json', id]).stdout) as number[];

  it('the init is born in its cgroup; a cgroup namespace shows it as the root', () => {
    const id = h.id();
    const r = h.run(['run', '--bundle', h.bundle(sh('cat /proc/self/cgroup')), id]);
    expect(r).toMatchObject({ status: 0, stdout: `0::/ocirun/${id}\n` });
    const ns = h.run(['run', '--bundle', h.bundle(all(cgroupNs, resources({ memory: { limit: 48 << 20 } }),
      sh('cat /proc/self/cgroup /sys/fs/cgroup/memory.max'))), h.id()]);
    expect(ns).toMatchObject({ status: 0, stdout: `0::/\n${48 << 20}\n` });
  });

  it('a memory hog is OOM-killed and events reports oom (memory.events oom_kill)', async () => {
    const id = h.id();
    start(id, all(resources({ memory: { limit: 24 << 20, swap: 24 << 20 } }), sh('sleep 600')));
    expect([file(id, 'memory.max'), file(id, 'memory.swap.max')]).toEqual([String(24 << 20), '0']);
    const events = h.spawn(['events', '--interval', '200ms', id]);
    let out = '';
    events.stdout!.on('data', (d) => { out += d; });
    const ended = new Promise<number | null>((res) => events.on('exit', res));
    await waitFor(() => out.includes('"type":"stats"'), 120_000);
    expect(h.run(['exec', id, 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'], { timeout: 120_000 }).status).toBe(137);
    await waitFor(() => out.includes(`{"type":"oom","id":"${id}"}`), 60_000);
    expect(file(id, 'memory.events')).toMatch(/^oom_kill [1-9]/m);
    const stats = JSON.parse(out.split('\n').find((l) => l.includes('"stats"'))!);
    expect(stats).toMatchObject({ type: 'stats', id, data: { memory: { usage: { limit: 24 << 20 } }, pids: { current: 1 } } });
    expect(h.run(['kill', id, 'KILL']).status).toBe(0);
    expect(await ended).toBe(0);
  });

  it('a fork loop stops at pids.max; a limit of 0 still lets the init in', () => {
    const r = h.run(['run', '--bundle', h.bundle(all(cgroupNs, resources({ pids: { limit: 8 } }), sh(
      '(i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); echo $i > /dev/shm/forks; done) 2>/dev/null; cd /sys/fs/cgroup; ' +
      'read forks < /dev/shm/forks; read max < pids.max; ' +
      'while read k v; do [ $k = max ] && echo "forks=$forks max=$max refused=$v"; done < pids.events'))), h.id()], { timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^forks=6 max=8 refused=[1-9]\d*\n$/);
    const zero = h.run(['run', '--bundle', h.bundle(all(resources({ pids: { limit: 0 } }), sh('true & echo forked'))), h.id()]);
    expect(zero.stdout).toBe('');
    expect(zero.stderr).toMatch(/can't fork|Resource temporarily unavailable/);
  });

  it('cpu.max 0.2 throttles a busy loop (cpu.stat nr_throttled); shares become cpu.weight', () => {
    const r = h.run(['run', '--bundle', h.bundle(all(cgroupNs, resources({ cpu: { quota: 20000, period: 100000, shares: 1024, burst: 1000 } }),
      sh('timeout 2 sh -c "while :; do :; done"; cd /sys/fs/cgroup; cat cpu.max cpu.weight cpu.max.burst; grep nr_throttled cpu.stat'))), h.id()], { timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const [max, weight, burst, throttled] = r.stdout.trim().split('\n');
    expect([max, weight, burst]).toEqual(['20000 100000', '39', '1000']);
    expect(Number(throttled.split(' ')[1])).toBeGreaterThan(0);
  });

  it('io.max lines carry the device major:minor; hugetlb and unified reach their files', () => {
    const { major, minor } = disk;
    const id = h.id();
    start(id, all(resources({
      blockIO: { throttleReadBpsDevice: [{ major, minor, rate: 1048576 }], throttleWriteIOPSDevice: [{ major, minor, rate: 100 }] },
      hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }],
      unified: { 'memory.high': '50000000', 'pids.max': '7' },
    }), sh('sleep 600')));
    expect(file(id, 'io.max')).toBe(`${major}:${minor} rbps=1048576 wbps=max riops=max wiops=100`);
    expect(file(id, 'hugetlb.2MB.max')).toBe(String(4 << 20));
    expect([file(id, 'memory.high'), file(id, 'pids.max')]).toEqual(['49999872', '7']);
    const bad = h.run(['create', '--bundle', h.bundle(resources({ unified: { 'nosuch.knob': '1' } })), h.id()]);
    expect(bad.stderr).toBe('ocirun: linux.resources.unified["nosuch.knob"]: the nosuch controller is not available on this host\n');
    const rt = h.run(['create', '--bundle', h.bundle(resources({ cpu: { realtimeRuntime: 1000 } })), h.id()]);
    expect(rt.stderr).toBe('ocirun: linux.resources.cpu.realtimeRuntime: not supported on cgroup v2\n');
  });

  it('the eBPF device filter: a node outside the allow-list can be made but not opened', () => {
    const { major, minor } = disk;
    const script = `mknod /dev/disk b ${major} ${minor} && echo made; exec 3< /dev/disk && echo opened`;
    const denied = h.run(['run', '--bundle', h.bundle(all(caps('CAP_MKNOD'), sh(script))), h.id()], { timeout: 120_000 });
    expect(denied.stdout).toBe('made\n');
    expect(denied.stderr).toMatch(/Operation not permitted/);
    const allowed = h.run(['run', '--bundle', h.bundle(all(caps('CAP_MKNOD'),
      resources({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'b', major, minor, access: 'r' }] }), sh(script))), h.id()], { timeout: 120_000 });
    expect(allowed).toMatchObject({ status: 0, stdout: 'made\nopened\n', stderr: '' });
    // /dev/null and friends stay usable under the default deny-all rule.
    expect(h.run(['run', '--bundle', h.bundle(sh('echo x > /dev/null && head -c 3 /dev/zero | wc -c')), h.id()]).stdout).toBe('3\n');
  });

  it('cgroup.freeze pauses a counter; resume continues it; update changes live limits', async () => {
    const id = h.id();
    start(id, all(resources({ memory: { limit: 64 << 20 }, pids: { limit: 20 } }), sh('while :; do echo x >> /dev/shm/count; done')));
    const { pid } = state(id);
    const size = (): number => statSync(`/proc/${pid}/root/dev/shm/count`).size;
    await waitFor(() => existsSync(`/proc/${pid}/root/dev/shm/count`) && size() > 0, 60_000);
    expect(h.run(['pause', id])).toMatchObject({ status: 0, stderr: '' });
    expect([state(id).status, file(id, 'cgroup.freeze')]).toEqual(['paused', '1']);
    expect(file(id, 'cgroup.events')).toMatch(/^frozen 1$/m);
    const frozen = size();
    await new Promise((r) => setTimeout(r, 500));
    expect(size()).toBe(frozen);
    expect(h.run(['resume', id]).status).toBe(0);
    expect(state(id).status).toBe('running');
    await waitFor(() => size() > frozen, 60_000);

    expect(h.run(['update', '--memory', '128m', '--pids-limit', '30', '--cpu-quota', '50000', '--cpu-period', '100000', '--cpu-share', '2048', id]))
      .toMatchObject({ status: 0, stderr: '' });
    expect([file(id, 'memory.max'), file(id, 'pids.max'), file(id, 'cpu.max'), file(id, 'cpu.weight')])
      .toEqual([String(128 << 20), '30', '50000 100000', '79']);
    const json = join(h.work, `${id}.json`);
    writeFileSync(json, JSON.stringify({ unified: { 'memory.high': '100003840' } }));
    expect(h.run(['update', '-r', json, id]).status).toBe(0);
    expect(file(id, 'memory.high')).toBe('100003840');
  });

  it('kill --all empties the cgroup through cgroup.kill; delete --force of a paused container leaves no cgroup', async () => {
    const a = h.id();
    start(a, sh('sleep 601 & sleep 602 & wait'));
    await waitFor(() => pidsOf(a).length === 3, 60_000);
    expect(h.run(['kill', '--all', a, 'KILL']).status).toBe(0);
    await waitFor(() => state(a).status === 'stopped', 60_000);
    expect(pidsOf(a)).toEqual([]);
    const aDir = dir(a);
    expect(h.run(['delete', a]).status).toBe(0);
    expect(existsSync(aDir)).toBe(false);

    const b = h.id();
    start(b, sh('sleep 603 & exec sleep 604'));
    await waitFor(() => pidsOf(b).length === 2, 60_000);
    const pids = pidsOf(b);
    const bDir = dir(b);
    expect(h.run(['pause', b]).status).toBe(0);
    expect(h.run(['delete', '--force', b])).toMatchObject({ status: 0, stderr: '' });
    expect(existsSync(bDir)).toBe(false);
    expect(pids.filter(alive)).toEqual([]);
  });

  it('nested: a relative cgroupsPath below our own cgroup, whose processes move to a leaf first', () => {
    const parent = join(CG, `ocirun-ci-${process.pid}`);
    mkdirSync(parent);
    try {
      // Like a CI job: we are in `parent`, which has no controllers for its children yet.
      writeFileSync(join(parent, 'cgroup.procs'), String(process.pid));
      expect(readFileSync(join(parent, 'cgroup.subtree_control'), 'utf8').trim()).toBe('');
      const id = h.id();
      const r = h.run(['run', '--bundle', h.bundle(all((spec) => { spec.linux!.cgroupsPath = `job-${id}`; },
        resources({ pids: { limit: 9 } }), sh('cat /proc/self/cgroup'))), id], { timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(`0::/ocirun-ci-${process.pid}/job-${id}\n`);
      expect(readFileSync(join(parent, 'init', 'cgroup.procs'), 'utf8').split('\n')).toContain(String(process.pid));
      expect(readFileSync(join(parent, 'cgroup.subtree_control'), 'utf8')).toMatch(/\bpids\b/);
      expect(existsSync(join(parent, `job-${id}`))).toBe(false);
    } finally {
      writeFileSync(join(CG, 'cgroup.procs'), String(process.pid));
      if (existsSync(join(parent, 'init'))) rmdirSync(join(parent, 'init'));
      rmdirSync(parent);
    }
  });
});
