// The systemd cgroup driver (--systemd-cgroup), ocirun and runc side by side.
// Runs INSIDE the test VM booted with systemd as PID 1 (test/vm/*.sd.ts; see
// docs/testing-vm.md); the default `vitest run` never includes it. What a
// user (or the kubelet) sees: the scope unit active in its slice (nested
// slices made by systemd), the limits in `systemctl show` and in the cgroup
// files, update, pause/resume, ps, events --stats, kill --all, and delete
// stopping the unit; bad cgroupsPath and a taken unit refused, nothing left.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, isRoot, RUNC, waitFor } from '../integration/harness.js';
import { hostLayout } from '../../src/cgroups/layout.js';
import { daemonPids } from '../support/engine.js';
import type { Spec } from '../../src/oci/types.js';

const inVm = !!process.env.OCIRUN_TEST_VM && hostLayout().mode === 'unified' && existsSync('/run/systemd/system');
const RUNTIMES = ['ocirun', 'runc'] as const;
type Rt = (typeof RUNTIMES)[number];
const CG = '/sys/fs/cgroup';

function systemctl(...args: string[]): string {
  const r = spawnSync('systemctl', args, { encoding: 'utf8' });
  return r.stdout.trim();
}

/** `systemctl show -p ...` as a map. */
function show(unit: string, ...props: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of systemctl('show', unit, ...props.map((p) => `--property=${p}`)).split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

const gone = (unit: string): boolean => show(unit, 'LoadState').LoadState === 'not-found';

describe.runIf(isRoot && inVm && !!RUNC)('systemd cgroup driver (systemd VM)', () => {
  let h: Harness;
  const slices = new Set<string>();
  beforeAll(async () => {
    h = await Harness.create();
  });
  afterEach(() => {
    // delete needs no flag: the driver is in the state, for ocirun and runc alike.
    const left = h.cleanup();
    for (const s of slices) systemctl('stop', s);
    slices.clear();
    expect(left).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  const sd = (rt: Rt, args: string[]) => h.runWith(rt, ['--systemd-cgroup', ...args]);
  const bundle = (cgroupsPath: string | undefined, script: string, resources?: NonNullable<Spec['linux']>['resources']): string =>
    h.bundle((spec) => {
      spec.process!.args = ['sh', '-c', script];
      spec.linux!.cgroupsPath = cgroupsPath;
      if (resources) spec.linux!.resources = { ...spec.linux!.resources, ...resources };
    });
  const pidOf = (rt: Rt, id: string): number => JSON.parse(sd(rt, ['state', id]).stdout).pid;
  const ok = (r: { status: number | null; stderr: string }): void => expect(r.status, r.stderr).toBe(0);

  it.each(RUNTIMES)('%s: a scope in a nested slice, limits in systemd and the files, update, pause, ps, events, kill --all, delete', async (rt) => {
    const id = h.id();
    // a-b-c: systemd makes ocsd.slice, ocsd-<rt>.slice and the pod's slice itself.
    const slice = `ocsd-${rt}-pod${process.pid}.slice`;
    slices.add(`ocsd.slice`);
    const unit = `test-${id}.scope`;
    const dir = `${CG}/ocsd.slice/ocsd-${rt}.slice/${slice}/${unit}`;
    const r = sd(rt, ['run', '-d', '--bundle', bundle(`${slice}:test:${id}`, 'sleep 600', {
      memory: { limit: 64 << 20 }, cpu: { quota: 25_000, period: 100_000, shares: 512 }, pids: { limit: 50 },
    }), id]);
    expect(r.status, r.stderr).toBe(0);
    const pid = pidOf(rt, id);
    expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toBe(`0::/ocsd.slice/ocsd-${rt}.slice/${slice}/${unit}\n`);
    expect(show(unit, 'ActiveState', 'Slice', 'MemoryMax', 'TasksMax', 'CPUQuotaPerSecUSec', 'Delegate')).toEqual({
      ActiveState: 'active', Slice: slice, MemoryMax: String(64 << 20), TasksMax: '50', CPUQuotaPerSecUSec: '250ms', Delegate: 'yes',
    });
    expect(show(`ocsd-${rt}.slice`, 'ActiveState').ActiveState).toBe('active');
    const file = (name: string): string => readFileSync(join(dir, name), 'utf8').trim();
    expect([file('memory.max'), file('cpu.max'), file('pids.max'), file('cpu.weight')])
      .toEqual([String(64 << 20), '25000 100000', '50', '20']);

    ok(sd(rt, ['update', '--memory', String(128 << 20), '--pids-limit', '70', id]));
    expect([file('memory.max'), file('pids.max')]).toEqual([String(128 << 20), '70']);
    expect(show(unit, 'MemoryMax', 'TasksMax')).toEqual({ MemoryMax: String(128 << 20), TasksMax: '70' });

    ok(sd(rt, ['pause', id]));
    expect(file('cgroup.freeze')).toBe('1');
    expect(JSON.parse(sd(rt, ['state', id]).stdout).status).toBe('paused');
    ok(sd(rt, ['resume', id]));
    expect(file('cgroup.freeze')).toBe('0');

    const ps = sd(rt, ['ps', '--format', 'json', id]);
    expect(JSON.parse(ps.stdout)).toContain(pid);
    const ev = sd(rt, ['events', '--stats', id]);
    expect(ev.status, ev.stderr).toBe(0);
    expect(JSON.parse(ev.stdout).data.memory.usage.usage).toBeGreaterThan(0);

    ok(sd(rt, ['kill', '--all', id, 'KILL']));
    await waitFor(() => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'));
    const del = sd(rt, ['delete', id]);
    expect(del.status, del.stderr).toBe(0);
    await waitFor(() => gone(unit));
    expect(existsSync(dir)).toBe(false);
  });

  it.each(RUNTIMES)('%s: the default scope, and a running one deleted with --force', async (rt) => {
    const id = h.id();
    const unit = `${rt}-${id}.scope`;
    expect(sd(rt, ['run', '-d', '--bundle', bundle(undefined, 'sleep 600'), id]).status).toBe(0);
    expect(show(unit, 'ActiveState', 'Slice')).toEqual({ ActiveState: 'active', Slice: 'system.slice' });
    expect(existsSync(`${CG}/system.slice/${unit}`)).toBe(true);
    ok(sd(rt, ['delete', '--force', id]));
    await waitFor(() => gone(unit));
  });

  it.each(RUNTIMES)('%s: a bad cgroupsPath and a unit that exists are refused, leaving nothing', (rt) => {
    const bad = sd(rt, ['run', '-d', '--bundle', bundle('/kubepods/pod1/x', 'true'), h.id()]);
    expect(bad.status).not.toBe(0);
    if (rt === 'ocirun') {
      expect(bad.stderr).toBe('ocirun: linux.cgroupsPath: expected "slice:prefix:name" with the systemd cgroup driver, got "/kubepods/pod1/x"\n');
    }
    const first = h.id();
    const path = `ocsdtaken.slice:taken:${first}`;
    slices.add('ocsdtaken.slice');
    expect(sd(rt, ['run', '-d', '--bundle', bundle(path, 'sleep 600'), first]).status).toBe(0);
    const second = h.id();
    const taken = sd(rt, ['run', '-d', '--bundle', bundle(path, 'sleep 600'), second]);
    if (rt === 'ocirun') {
      // Refused, as a cgroupfs cgroup with processes is: deleting either would kill the other's processes.
      expect(taken).toMatchObject({ status: 1, stderr: `ocirun: linux.cgroupsPath: systemd unit taken-${first}.scope already exists\n` });
      expect(sd(rt, ['state', second]).status).not.toBe(0);
    } else {
      // runc 1.1 ignores UnitExists: the second container runs, left in runc's caller's cgroup, in no scope.
      expect(taken.status, taken.stderr).toBe(0);
      expect(readFileSync(`/proc/${pidOf(rt, second)}/cgroup`, 'utf8')).toBe(readFileSync('/proc/self/cgroup', 'utf8'));
    }
    // The first container and its unit are untouched either way.
    expect(JSON.parse(sd(rt, ['state', first]).stdout).status).toBe('running');
    expect(show(`taken-${first}.scope`, 'ActiveState').ActiveState).toBe('active');
  });

  it.each(RUNTIMES)('%s: a create that fails after the scope is made (prestart hook) leaves no unit and no state', async (rt) => {
    const id = h.id();
    const unit = `hook-${id}.scope`;
    const b = h.bundle((spec) => {
      spec.process!.args = ['sleep', '600'];
      spec.linux!.cgroupsPath = `:hook:${id}`;
      spec.hooks = { prestart: [{ path: '/bin/false' }] };
    });
    const r = sd(rt, ['create', '--bundle', b, id]);
    expect(r.status).not.toBe(0);
    if (rt === 'ocirun') expect(r.stderr).toMatch(/^ocirun: prestart hook #0 \(\/bin\/false\)[^\n]*\n$/);
    await waitFor(() => gone(unit));
    expect(existsSync(`${CG}/system.slice/${unit}`)).toBe(false);
    expect(sd(rt, ['state', id]).status).not.toBe(0);
  });

  it('ocirun: the engine daemon keeps one D-Bus connection across calls', () => {
    const ids = [h.id(), h.id()];
    for (const id of ids) expect(sd('ocirun', ['run', '-d', '--bundle', bundle(undefined, 'sleep 600'), id]).status).toBe(0);
    for (const id of ids) expect(sd('ocirun', ['delete', '--force', id]).status).toBe(0);
    const [daemon] = daemonPids(h.root);
    expect(daemon).toBeGreaterThan(0);
    // busctl's PID column: the daemon's connections to the system bus.
    const conns = spawnSync('busctl', ['--system', 'list', '--unique', '--no-legend'], { encoding: 'utf8' }).stdout;
    expect(conns.split('\n').filter((l) => l.trim().split(/\s+/)[1] === String(daemon))).toHaveLength(1);
  });
});
