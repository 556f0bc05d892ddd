// The kubelet's view of a runtime handler, through containerd's CRI plugin and
// the runc v2 shim: pod and container lifecycle, exec (sync and streaming),
// attach, logs, status, stats, resource updates and limits, OOM kills. Each
// test runs with the `ocirun` handler and with `runc`; one containerd serves
// both (cri/harness.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CriEnv, HANDLERS, cgroupV1File, criEnabled } from './cri/harness.js';
import { exitCode, stream } from './cri/stream.js';

let env: CriEnv;
beforeAll(async () => { if (criEnabled) env = await CriEnv.create(); }, 120_000);
afterAll(async () => { await env?.destroy(); }, 120_000);

const MiB = 1024 * 1024;

describe.runIf(criEnabled).each(HANDLERS)('CRI lifecycle through containerd, handler %s', (handler) => {
  it('runs a pod and a container, reports status, stops and removes them independently', async () => {
    const pod = await env.runPod(handler, 'life');
    const { status: podStatus } = await env.call('PodSandboxStatus', { pod_sandbox_id: pod.id });
    expect(podStatus).toMatchObject({ state: 'SANDBOX_READY', runtime_handler: handler });
    // CNI gave the sandbox's network namespace an address on our bridge before any container.
    expect(podStatus.network.ip).toMatch(new RegExp(`^${env.subnet.split('.').slice(0, 3).join('\\.')}\\.`));

    const first = await env.runContainer(pod, 'first', ['sh', '-c', 'trap "echo term; exit 7" TERM; while :; do sleep 0.1; done']);
    expect((await env.waitStatus(first, (s) => s.state === 'CONTAINER_RUNNING')).started_at).toBeGreaterThan(0);
    const ip = await env.exec(first, ['sh', '-c', 'hostname; ip -o -4 addr show eth0 | awk "{print \\$4}"']);
    expect(ip.stdout).toBe(`life\n${podStatus.network.ip}/24\n`);

    await env.call('StopContainer', { container_id: first, timeout: 10 });
    const stopped = await env.waitStatus(first, (s) => s.state === 'CONTAINER_EXITED');
    expect(stopped).toMatchObject({ exit_code: 7, reason: 'Error' });
    expect(env.logLines(pod, 'first')).toContainEqual({ stream: 'stdout', text: 'term' });
    await env.call('RemoveContainer', { container_id: first });
    await expect(env.call('ContainerStatus', { container_id: first })).rejects.toThrow(/not found|does not exist/);
    expect((await env.call('PodSandboxStatus', { pod_sandbox_id: pod.id })).status.state).toBe('SANDBOX_READY');

    // A second container in the same sandbox after the first is gone: same network namespace.
    const second = await env.runContainer(pod, 'second', ['sleep', '1000']);
    expect((await env.exec(second, ['sh', '-c', 'ip -o -4 addr show eth0 | awk "{print \\$4}"'])).stdout).toBe(`${podStatus.network.ip}/24\n`);
    const { containers } = await env.call('ListContainers', { filter: { pod_sandbox_id: pod.id } });
    expect(containers.map((c: { id: string }) => c.id)).toEqual([second]);

    await env.call('StopPodSandbox', { pod_sandbox_id: pod.id });
    expect((await env.call('PodSandboxStatus', { pod_sandbox_id: pod.id })).status.state).toBe('SANDBOX_NOTREADY');
    expect((await env.call('ContainerStatus', { container_id: second })).status.state).toBe('CONTAINER_EXITED');
    await env.call('RemovePodSandbox', { pod_sandbox_id: pod.id });
    expect((await env.call('ListPodSandbox', { filter: { id: pod.id } })).items).toEqual([]);
    // The runtime's delete took the containers' cgroups; only the kubelet's pod cgroup remains.
    expect(env.leftoverCgroups().filter((d) => d.includes(pod.id) || d.includes(second))).toEqual([]);
  });

  it('ExecSync and streaming Exec with stdin, stdout, stderr and the exit code', async () => {
    const pod = await env.runPod(handler, 'exec');
    try {
      const id = await env.runContainer(pod, 'main', ['sleep', '1000']);
      expect(await env.exec(id, ['sh', '-c', 'echo out; echo err >&2; exit 3'])).toEqual({ stdout: 'out\n', stderr: 'err\n', exit_code: 3 });
      const missing = await env.call('ExecSync', { container_id: id, cmd: ['no-such-command'], timeout: 10 }).catch((e: Error) => e);
      expect(String(missing)).toMatch(/not found|no such file/i);

      const { url } = await env.call('Exec', { container_id: id, cmd: ['sh', '-c', 'read l; echo "got:$l"; echo e >&2; exit 4'], stdin: true, stdout: true, stderr: true });
      const r = await stream(url, { input: 'hi\n' });
      expect(r).toMatchObject({ stdout: 'got:hi\n', stderr: 'e\n' });
      expect(exitCode(r)).toBe(4);
      const ok = await stream((await env.call('Exec', { container_id: id, cmd: ['cat', '/proc/1/cmdline'], stdout: true })).url);
      expect(ok.stdout).toBe('sleep\u00001000\u0000');
      expect(exitCode(ok)).toBe(0);
    } finally {
      await env.removePod(pod.id);
    }
  });

  it('Attach to stdin and stdout; the CRI log has both streams', async () => {
    const pod = await env.runPod(handler, 'attach');
    try {
      const id = await env.runContainer(pod, 'main', ['sh', '-c', 'echo started; echo to-stderr >&2; while read l; do echo "got:$l"; done'],
        (c) => { c.stdin = true; });
      await env.waitStatus(id, () => env.logLines(pod, 'main').length === 2);
      const { url } = await env.call('Attach', { container_id: id, stdin: true, stdout: true, stderr: true });
      const r = await stream(url, { input: 'ping\n', done: (x) => x.stdout.includes('got:ping\n') });
      expect(r.stdout).toBe('got:ping\n');
      await env.waitStatus(id, () => env.logLines(pod, 'main').length === 3);
      // stdout and stderr are two pipes: the first two lines may come in either order.
      const lines = env.logLines(pod, 'main');
      expect(lines.slice(0, 2)).toEqual(expect.arrayContaining([{ stream: 'stdout', text: 'started' }, { stream: 'stderr', text: 'to-stderr' }]));
      expect(lines[2]).toEqual({ stream: 'stdout', text: 'got:ping' });
    } finally {
      await env.removePod(pod.id);
    }
  });

  it('limits land in the cgroup files, UpdateContainerResources changes them, stats report usage', async () => {
    const pod = await env.runPod(handler, 'limits');
    try {
      const id = await env.runContainer(pod, 'main', ['sh', '-c', 'while :; do :; done'], (c) => {
        c.linux.resources = { cpu_period: 100000, cpu_quota: 50000, cpu_shares: 512, memory_limit_in_bytes: 64 * MiB, cpuset_cpus: '0' };
      });
      expect(cgroupV1File(pod, id, 'memory', 'memory.limit_in_bytes')).toBe(String(64 * MiB));
      expect(cgroupV1File(pod, id, 'cpu', 'cpu.cfs_quota_us')).toBe('50000');
      expect(cgroupV1File(pod, id, 'cpu', 'cpu.cfs_period_us')).toBe('100000');
      expect(cgroupV1File(pod, id, 'cpu', 'cpu.shares')).toBe('512');
      expect(cgroupV1File(pod, id, 'cpuset', 'cpuset.cpus')).toBe('0');
      const { pid } = JSON.parse((await env.call('ContainerStatus', { container_id: id, verbose: true })).info.info);
      expect(cgroupV1File(pod, id, 'memory', 'cgroup.procs').split('\n')).toContain(String(pid));

      await env.call('UpdateContainerResources', { container_id: id, linux: { cpu_period: 100000, cpu_quota: 20000, cpu_shares: 256, memory_limit_in_bytes: 96 * MiB } });
      expect(cgroupV1File(pod, id, 'memory', 'memory.limit_in_bytes')).toBe(String(96 * MiB));
      expect(cgroupV1File(pod, id, 'cpu', 'cpu.cfs_quota_us')).toBe('20000');
      expect(cgroupV1File(pod, id, 'cpu', 'cpu.shares')).toBe('256');
      const { status } = await env.call('ContainerStatus', { container_id: id });
      expect(status.resources.linux).toMatchObject({ cpu_quota: 20000, memory_limit_in_bytes: 96 * MiB });

      await new Promise((r) => setTimeout(r, 300));
      const { stats } = await env.call('ContainerStats', { container_id: id });
      expect(stats.attributes.id).toBe(id);
      expect(stats.cpu.usage_core_nano_seconds.value).toBeGreaterThan(0);
      expect(stats.memory.working_set_bytes.value).toBeGreaterThan(0);
      const listed = await env.call('ListContainerStats', { filter: { pod_sandbox_id: pod.id } });
      expect(listed.stats.map((s: { attributes: { id: string } }) => s.attributes.id)).toEqual([id]);
    } finally {
      await env.removePod(pod.id);
    }
  });

  it('a container over its memory limit is reported OOMKilled', async () => {
    const pod = await env.runPod(handler, 'oom');
    try {
      // tail keeps the current line in memory, and /dev/zero has no newline.
      const id = await env.runContainer(pod, 'main', ['tail', '/dev/zero'], (c) => { c.linux.resources = { memory_limit_in_bytes: 16 * MiB }; });
      const st = await env.waitStatus(id, (s) => s.state === 'CONTAINER_EXITED');
      expect(st).toMatchObject({ reason: 'OOMKilled', exit_code: 137 });
    } finally {
      await env.removePod(pod.id);
    }
  });
});
