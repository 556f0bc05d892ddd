// CRI through containerd with SystemdCgroup = true, as kubeadm sets up a node.
// Runs INSIDE the test VM booted with systemd as PID 1 only
// (test/vm/systemd.vm.test.ts runs every test/vm/*.sd.ts there). The pod's
// cgroup parent is a slice (`<top>-burstable-pod<uid>.slice`, what the kubelet
// sends with its systemd driver); the runtime gets `--systemd-cgroup` and
// cgroupsPath `<slice>:cri-containerd:<id>`, and must make each container a
// transient scope in that slice, the slices nested by their names, with the
// limits in the scope's cgroup files, and remove the scope on stop.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CriEnv, HANDLERS, criEnabled, type Msg } from '../e2e/cri/harness.js';

const CG = '/sys/fs/cgroup';
const MiB = 1024 * 1024;
const inSystemdVm = !!process.env.OCIRUN_TEST_VM_SYSTEMD && readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd';
// The handlers, through the same containerd: ocirun's systemd driver, and
// runc 1.1.5's as the reference.
const SD_HANDLERS = HANDLERS;

function show(unit: string, prop: string): string {
  const r = spawnSync('systemctl', ['show', '--value', '-p', prop, unit], { encoding: 'utf8', timeout: 60_000 });
  return (r.stdout ?? '').trim();
}

async function waitFor(what: string, ok: () => boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const file = (dir: string, name: string): string => readFileSync(`${dir}/${name}`, 'utf8').trim();
const childDirs = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);

let env: CriEnv;
beforeAll(async () => { if (inSystemdVm && criEnabled) env = await CriEnv.create({ systemdCgroup: true }); }, 1_200_000);
afterAll(async () => {
  if (!env) return;
  const top = `${CG}/${env.topSlice}.slice`;
  await env.destroy();
  // Everything went: the slices with the scopes in them.
  expect(existsSync(top)).toBe(false);
}, 600_000);

describe.runIf(inSystemdVm && criEnabled).each(SD_HANDLERS)('CRI with SystemdCgroup = true, handler %s', (handler) => {
  it('pod slice, container scopes with limits, UpdateContainerResources, ExecSync, stop and remove', async () => {
    const pod = await env.runPod(handler, 'sd');
    const top = env.topSlice;
    const podSlice: string = pod.config.linux.cgroup_parent;
    expect(podSlice).toMatch(new RegExp(`^${top}-burstable-pod[0-9_]+\\.slice$`));
    const sliceCg = `/${top}.slice/${top}-burstable.slice/${podSlice}`;
    try {
      // The slices did not exist: systemd made them, nested as the name says.
      for (const s of [`${top}.slice`, `${top}-burstable.slice`, podSlice]) expect(show(s, 'ActiveState'), s).toBe('active');
      expect(show(podSlice, 'ControlGroup')).toBe(sliceCg);

      // The sandbox is a scope in the pod's slice.
      const sandboxUnit = `cri-containerd-${pod.id}.scope`;
      expect(show(sandboxUnit, 'ActiveState')).toBe('active');
      expect(show(sandboxUnit, 'Slice')).toBe(podSlice);
      expect(show(sandboxUnit, 'ControlGroup')).toBe(`${sliceCg}/${sandboxUnit}`);

      const id = await env.runContainer(pod, 'main', ['sleep', '100000'], (c: Msg) => {
        c.linux.resources = { cpu_period: 100000, cpu_quota: 50000, cpu_shares: 512, memory_limit_in_bytes: 64 * MiB, unified: { 'pids.max': '32' } };
      });
      const unit = `cri-containerd-${id}.scope`;
      expect(show(unit, 'ActiveState')).toBe('active');
      expect(show(unit, 'Slice')).toBe(podSlice);
      expect(show(unit, 'Delegate')).toBe('yes');
      const cgPath = show(unit, 'ControlGroup');
      expect(cgPath).toBe(`${sliceCg}/${unit}`);
      const dir = `${CG}${cgPath}`;
      const { pid } = JSON.parse((await env.call('ContainerStatus', { container_id: id, verbose: true })).info.info);
      expect(file(dir, 'cgroup.procs').split('\n')).toContain(String(pid));
      // The limits, in systemd's unit and in the scope's cgroup files.
      expect(file(dir, 'memory.max')).toBe(String(64 * MiB));
      expect(file(dir, 'cpu.max')).toBe('50000 100000');
      expect(file(dir, 'pids.max')).toBe('32');
      // shares 512 -> weight 1 + (512 - 2) * 9999 / 262142, as runc converts it.
      expect(file(dir, 'cpu.weight')).toBe('20');
      expect(show(unit, 'MemoryMax')).toBe(String(64 * MiB));
      expect(show(unit, 'CPUQuotaPerSecUSec')).toBe('500ms');
      expect(show(unit, 'TasksMax')).toBe('32');

      // ExecSync: the process runs, in the container's cgroup (its namespace's root) under its limits.
      const ex = await env.exec(id, ['sh', '-c', 'cat /proc/self/cgroup /sys/fs/cgroup/memory.max; echo err >&2; exit 3'], 120);
      expect(ex).toEqual({ stdout: `0::/\n${64 * MiB}\n`, stderr: 'err\n', exit_code: 3 });

      await env.call('UpdateContainerResources', { container_id: id, linux: { cpu_period: 100000, cpu_quota: 20000, cpu_shares: 512, memory_limit_in_bytes: 96 * MiB } });
      expect(file(dir, 'memory.max')).toBe(String(96 * MiB));
      expect(file(dir, 'cpu.max')).toBe('20000 100000');
      expect(show(unit, 'MemoryMax')).toBe(String(96 * MiB));
      expect(show(unit, 'CPUQuotaPerSecUSec')).toBe('200ms');
      const { status } = await env.call('ContainerStatus', { container_id: id });
      expect(status.resources.linux).toMatchObject({ cpu_quota: 20000, memory_limit_in_bytes: 96 * MiB });

      // Stop removes the scope and its cgroup; Remove leaves nothing.
      await env.call('StopContainer', { container_id: id, timeout: 2 }, 300_000);
      expect((await env.waitStatus(id, (s) => s.state === 'CONTAINER_EXITED', 120_000)).state).toBe('CONTAINER_EXITED');
      await waitFor(`${dir} removed`, () => !existsSync(dir));
      expect(show(unit, 'ActiveState')).not.toBe('active');
      await env.call('RemoveContainer', { container_id: id }, 300_000);
      expect(existsSync(dir)).toBe(false);

      // The pod: its sandbox scope goes with it, and the slice is left empty
      // for the kubelet, which stops it.
      await env.call('StopPodSandbox', { pod_sandbox_id: pod.id }, 300_000);
      await env.call('RemovePodSandbox', { pod_sandbox_id: pod.id }, 300_000);
      await waitFor('the sandbox scope removed', () => !existsSync(`${CG}${sliceCg}/${sandboxUnit}`));
      expect(show(sandboxUnit, 'ActiveState')).not.toBe('active');
      expect(childDirs(`${CG}${sliceCg}`)).toEqual([]);
      expect(spawnSync('systemctl', ['stop', podSlice]).status).toBe(0);
      await waitFor('the pod slice removed', () => !existsSync(`${CG}${sliceCg}`));
      expect(env.leftoverCgroups().filter((d) => d.includes(podSlice))).toEqual([]);
    } finally {
      await env.removePod(pod.id).catch(() => undefined);
    }
  });
});
