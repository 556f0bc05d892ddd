// The systemd VM itself (test/vm/run.mjs --systemd). Runs INSIDE that VM only
// (test/vm/systemd.vm.test.ts boots it and runs every test/vm/*.sd.ts there).
// Proves what the systemd cgroup driver and CRI with SystemdCgroup = true
// stand on: systemd is PID 1 on pure cgroup v2, the system D-Bus answers, and
// a transient scope in a nested slice gets its cgroup with the limits in it,
// and both go away when stopped.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';

const CG = '/sys/fs/cgroup';
const inSystemdVm = !!process.env.OCIRUN_TEST_VM_SYSTEMD && readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd';

function run(cmd: string, ...args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

function show(unit: string, prop: string): string {
  return run('systemctl', 'show', '--value', '-p', prop, unit).out;
}

async function waitFor(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.runIf(inSystemdVm)('systemd as PID 1 in the test VM', () => {
  it('is PID 1 on pure cgroup v2, running, with the system D-Bus', () => {
    expect(readFileSync('/proc/1/comm', 'utf8').trim()).toBe('systemd');
    expect(run('stat', '-f', '-c', '%T', CG).out).toBe('cgroup2fs');
    expect(readFileSync('/proc/mounts', 'utf8')).not.toMatch(/ cgroup /);
    const subtree = readFileSync(`${CG}/cgroup.subtree_control`, 'utf8').trim().split(' ');
    for (const c of ['cpu', 'cpuset', 'io', 'memory', 'pids']) expect(subtree).toContain(c);
    // The job runs in its own delegated service, all of those controllers available.
    const own = readFileSync('/proc/self/cgroup', 'utf8').trim();
    expect(own).toBe('0::/system.slice/ocirun-vm-job.service');
    const avail = readFileSync(`${CG}/system.slice/ocirun-vm-job.service/cgroup.controllers`, 'utf8').trim().split(' ');
    for (const c of ['cpu', 'cpuset', 'io', 'memory', 'pids']) expect(avail).toContain(c);
    expect(show('ocirun-vm-job.service', 'Delegate')).toBe('yes');
    const state = run('systemctl', 'is-system-running');
    expect(state.out, state.err).toBe('running');
    // systemd's API through dbus-daemon, as D-Bus clients (runc, ocirun) reach it.
    const v = run('busctl', '--system', 'get-property', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1',
      'org.freedesktop.systemd1.Manager', 'Version');
    expect(v.status, v.err).toBe(0);
    expect(v.out).toMatch(/^s "\d+/);
    const names = run('dbus-send', '--system', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus',
      'org.freedesktop.DBus.ListNames');
    expect(names.status, names.err).toBe(0);
    expect(names.out).toContain('"org.freedesktop.systemd1"');
  });

  describe('a transient scope in a nested slice', () => {
    const unit = `ocirun-vm-smoke-${process.pid}.scope`;
    const slice = 'ocirunsmoke-a-b.slice';
    let child: ChildProcess | null = null;

    afterAll(() => {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      run('systemctl', 'stop', unit);
      for (const s of ['ocirunsmoke-a-b.slice', 'ocirunsmoke-a.slice', 'ocirunsmoke.slice']) run('systemctl', 'stop', s);
    });

    it('systemd-run --scope gets its cgroup with memory.max, pids.max and cpu.max, and loses it when stopped', async () => {
      child = spawn('systemd-run', ['--scope', `--unit=${unit}`, `--slice=${slice}`, '-p', 'MemoryMax=64M',
        '-p', 'TasksMax=20', '-p', 'CPUQuota=50%', '-p', 'Delegate=yes', '--', 'sleep', '600'], { stdio: 'ignore' });
      const pid = child.pid!;
      await waitFor(`${unit} active`, () => show(unit, 'ActiveState') === 'active');
      const cgPath = show(unit, 'ControlGroup');
      expect(cgPath).toBe(`/ocirunsmoke.slice/ocirunsmoke-a.slice/${slice}/${unit}`);
      // The slices were created, nested as their names say.
      for (const s of ['ocirunsmoke.slice', 'ocirunsmoke-a.slice', slice]) expect(show(s, 'ActiveState')).toBe('active');
      expect(show(unit, 'Slice')).toBe(slice);
      const dir = `${CG}${cgPath}`;
      // systemd-run execs the command in the scope: its pid is the scope's process.
      expect(readFileSync(`${dir}/cgroup.procs`, 'utf8').trim().split('\n')).toContain(String(pid));
      expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim()).toBe(`0::${cgPath}`);
      expect(readFileSync(`${dir}/memory.max`, 'utf8').trim()).toBe(String(64 * 1024 * 1024));
      expect(readFileSync(`${dir}/pids.max`, 'utf8').trim()).toBe('20');
      expect(readFileSync(`${dir}/cpu.max`, 'utf8').trim()).toBe('50000 100000');
      expect(show(unit, 'MemoryMax')).toBe(String(64 * 1024 * 1024));
      // Delegate=yes: the controllers are available inside the scope.
      const avail = readFileSync(`${dir}/cgroup.controllers`, 'utf8').trim().split(' ');
      for (const c of ['cpu', 'io', 'memory', 'pids']) expect(avail).toContain(c);

      const stop = run('systemctl', 'stop', unit);
      expect(stop.status, stop.err).toBe(0);
      await waitFor('the scope\'s process to end', () => child!.exitCode !== null || child!.signalCode !== null);
      await waitFor(`${dir} removed`, () => !existsSync(dir));
      expect(run('systemctl', 'is-active', unit).out).not.toBe('active');
      for (const s of ['ocirunsmoke-a-b.slice', 'ocirunsmoke-a.slice', 'ocirunsmoke.slice']) {
        expect(run('systemctl', 'stop', s).status).toBe(0);
      }
      await waitFor('the slices removed', () => !existsSync(`${CG}/ocirunsmoke.slice`));
    });
  });
});
