// Pods through containerd's CRI plugin, as the kubelet makes them: several
// containers joining the sandbox's namespaces (net, ipc, uts, pid) by path,
// sharing /dev/shm and a volume; privileged pods; host ports through
// CNI portmap; security contexts; mount
// propagation. Each test runs with the `ocirun` handler and with `runc`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CriEnv, HANDLERS, criEnabled, type Msg } from './cri/harness.js';

let env: CriEnv;
beforeAll(async () => { if (criEnabled) env = await CriEnv.create(); }, 120_000);
afterAll(async () => { await env?.destroy(); }, 120_000);

function sys(...args: string[]): void {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
}

/** The mountinfo optional fields of the mount at point (undefined: not mounted there). */
function mountFields(file: string, point: string): string[] | undefined {
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.split(' ')[4] === point);
  return line?.slice(0, line.indexOf(' - ')).split(' ').slice(6);
}

async function initPid(id: string): Promise<number> {
  return JSON.parse((await env.call('ContainerStatus', { container_id: id, verbose: true })).info.info).pid;
}

const status = (text: string, field: string): string => new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(text)?.[1] ?? '';

describe.runIf(criEnabled).each(HANDLERS)('CRI pods through containerd, handler %s', (handler) => {
  it('containers of a pod share net, ipc, uts and pid namespaces, /dev/shm and a volume, and stop independently', async () => {
    const vol = mkdtempSync(join(env.dir, 'vol-'));
    const pod = await env.runPod(handler, 'duo', (c) => {
      c.linux.security_context.namespace_options.pid = 'POD';
    });
    try {
      const mounts = [{ container_path: '/shared', host_path: vol }];
      const a = await env.runContainer(pod, 'a', ['sh', '-c',
        'mkdir -p /www && echo hello-from-a >/www/index.html && echo shm-a >/dev/shm/a && echo vol-a >/shared/a && exec httpd -f -p 8080 -h /www'],
      (c) => { c.mounts = mounts; });
      const b = await env.runContainer(pod, 'b', ['sleep', '1000'], (c) => { c.mounts = mounts; });
      await env.waitStatus(a, () => readFileSync(join(vol, 'a'), 'utf8') === 'vol-a\n');
      expect((await env.exec(b, ['wget', '-qO-', 'http://127.0.0.1:8080/'])).stdout).toBe('hello-from-a\n');
      expect((await env.exec(b, ['cat', '/dev/shm/a', '/shared/a'])).stdout).toBe('shm-a\nvol-a\n');
      expect((await env.exec(b, ['hostname'])).stdout).toBe('duo\n');
      // One pid namespace: the pause process is pid 1 and both containers' processes are visible.
      const ps = (await env.exec(b, ['ps', '-o', 'pid,args'])).stdout;
      expect(ps).toMatch(/^\s*1 \/pause$/m);
      expect(ps).toMatch(/httpd -f -p 8080/);
      const ns = async (id: string): Promise<string> => (await env.exec(id, ['sh', '-c', 'for n in net ipc uts pid mnt; do readlink /proc/self/ns/$n; done'])).stdout;
      const [nsA, nsB] = [(await ns(a)).split('\n'), (await ns(b)).split('\n')];
      expect(nsA.slice(0, 4)).toEqual(nsB.slice(0, 4));
      expect(nsA[4]).not.toBe(nsB[4]);  // each container has its own mount namespace
      const sandboxPid = JSON.parse((await env.call('PodSandboxStatus', { pod_sandbox_id: pod.id, verbose: true })).info.info).pid;
      expect(nsA[0]).toBe(spawnSync('readlink', [`/proc/${sandboxPid}/ns/net`], { encoding: 'utf8' }).stdout.trim());

      await env.call('StopContainer', { container_id: a, timeout: 5 });
      await env.waitStatus(a, (s) => s.state === 'CONTAINER_EXITED');
      expect((await env.call('ContainerStatus', { container_id: b })).status.state).toBe('CONTAINER_RUNNING');
      expect((await env.exec(b, ['cat', '/dev/shm/a'])).stdout).toBe('shm-a\n');
    } finally {
      await env.removePod(pod.id);
    }
  });

  it('a privileged pod gets every capability, the host devices and a working /dev/ptmx', async () => {
    const pod = await env.runPod(handler, 'priv', (c) => { c.linux.security_context.privileged = true; });
    try {
      const id = await env.runContainer(pod, 'main', ['sleep', '1000'], (c) => { c.linux.security_context.privileged = true; });
      const proc = (await env.exec(id, ['cat', '/proc/self/status'])).stdout;
      expect(status(proc, 'CapEff')).toBe(status(readFileSync('/proc/self/status', 'utf8'), 'CapBnd'));
      expect((await env.exec(id, ['readlink', '/dev/ptmx'])).stdout).toBe('pts/ptmx\n');
      expect((await env.exec(id, ['sh', '-c', 'test -c /dev/kmsg && mkdir /tmp/m && mount -t tmpfs t /tmp/m && echo ok'])).stdout).toBe('ok\n');
    } finally {
      await env.removePod(pod.id);
    }
  });

  it('security contexts: user and group, capabilities, read-only rootfs, seccomp RuntimeDefault, no_new_privs, sysctls', async () => {
    const pod = await env.runPod(handler, 'secure', (c) => {
      c.linux.sysctls = { 'net.ipv4.ip_unprivileged_port_start': '80', 'kernel.shm_rmid_forced': '1' };
    });
    try {
      const id = await env.runContainer(pod, 'main', ['sleep', '1000'], (c: Msg) => {
        Object.assign(c.linux.security_context, {
          run_as_user: { value: 1000 }, run_as_group: { value: 1001 }, supplemental_groups: [1002],
          capabilities: { drop_capabilities: ['ALL'], add_capabilities: ['NET_RAW'] },
          readonly_rootfs: true, no_new_privs: true, seccomp: { profile_type: 'RuntimeDefault' },
        });
      });
      expect((await env.exec(id, ['id'])).stdout).toMatch(/^uid=1000 gid=1001 groups=1001,1002\n$|^uid=1000 gid=1001 groups=1002,1001\n$/);
      const proc = (await env.exec(id, ['cat', '/proc/self/status'])).stdout;
      // A non-root process keeps no effective capabilities; the bounding set is exactly NET_RAW (13).
      expect([status(proc, 'CapBnd'), status(proc, 'CapEff')]).toEqual(['0000000000002000', '0000000000000000']);
      expect([status(proc, 'Seccomp'), status(proc, 'NoNewPrivs')]).toEqual(['2', '1']);
      const ro = await env.exec(id, ['touch', '/new-file']);
      expect(ro.exit_code).not.toBe(0);
      expect(ro.stderr).toMatch(/Read-only file system/);
      expect((await env.exec(id, ['cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start', '/proc/sys/kernel/shm_rmid_forced'])).stdout).toBe('80\n1\n');
    } finally {
      await env.removePod(pod.id);
    }
  });

  // The volume is a shared mount on the host, as containerd requires for
  // Bidirectional (and shared or slave for HostToContainer).
  it.each([
    ['PROPAGATION_BIDIRECTIONAL', 'shared'],
    ['PROPAGATION_HOST_TO_CONTAINER', 'master'],
    ['PROPAGATION_PRIVATE', undefined],
  ] as const)('mount propagation %s', async (propagation, peer) => {
    const vol = mkdtempSync(join(env.dir, 'prop-'));
    const hostMounts = [vol, join(vol, 'from-host'), join(vol, 'from-ctr')];
    const pod = await env.runPod(handler, 'prop');
    try {
      sys('mount', '-t', 'tmpfs', 'vol', vol);
      sys('mount', '--make-shared', vol);
      mkdirSync(join(vol, 'from-host'));
      const id = await env.runContainer(pod, 'main', ['sh', '-c', 'mkdir /vol/from-ctr && mount -t tmpfs ctr /vol/from-ctr && exec sleep 1000'], (c) => {
        c.mounts = [{ container_path: '/vol', host_path: vol, propagation }];
        c.linux.security_context.capabilities = { add_capabilities: ['SYS_ADMIN'] };
      });
      const pid = await initPid(id);
      await env.waitStatus(id, () => mountFields(`/proc/${pid}/mountinfo`, '/vol/from-ctr') !== undefined);
      sys('mount', '-t', 'tmpfs', 'host', join(vol, 'from-host'));
      const hostPeer = mountFields('/proc/self/mountinfo', vol)!.find((f) => f.startsWith('shared:'))!.split(':')[1];
      expect(mountFields(`/proc/${pid}/mountinfo`, '/vol')).toEqual(peer ? [`${peer}:${hostPeer}`] : []);
      if (peer) await env.waitStatus(id, () => mountFields(`/proc/${pid}/mountinfo`, '/vol/from-host') !== undefined);
      else expect(mountFields(`/proc/${pid}/mountinfo`, '/vol/from-host')).toBeUndefined();
      // Only Bidirectional lets what the container mounts reach the host (CSI drivers depend on it).
      expect(mountFields('/proc/self/mountinfo', join(vol, 'from-ctr')) !== undefined).toBe(peer === 'shared');
    } finally {
      await env.removePod(pod.id);
      for (const m of hostMounts.reverse()) spawnSync('umount', ['-l', m]);
    }
  });
});
