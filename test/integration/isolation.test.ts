// What a user checks from inside a container: namespaces, rootfs, devices,
// credentials, masked paths (root only).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readlinkSync, writeFileSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Harness, isRoot } from './harness.js';
import type { Spec } from '../../src/oci/types.js';

function runIn(h: Harness, script: string, edit?: (s: Spec) => void, extra: string[] = []) {
  const bundle = h.bundle((s) => { s.process!.args = ['sh', '-c', script]; edit?.(s); });
  return h.run(['run', ...extra, '--bundle', bundle, h.id()]);
}

describe.runIf(isRoot)('isolation', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  it('runs the process as PID 1 with the configured hostname and only lo', () => {
    const r = runIn(h, 'echo pid=$$; hostname; ip -o link | cut -d: -f2 | tr -d " "', (s) => { s.hostname = 'box-one'; });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout.split('\n')).toEqual(['pid=1', 'box-one', 'lo', '']);
  });

  it('shows the bundle rootfs and no host paths', () => {
    const r = runIn(h, `ls /; test -e ${h.work} && echo HOST-VISIBLE; test -e /proc/1/root/work && echo HOST-ROOT; cat /etc/os-release | head -1`);
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(/HOST-/);
    expect(r.stdout.split('\n')).toEqual(expect.arrayContaining(['bin', 'dev', 'etc', 'proc', 'sys', 'tmp']));
    // pivot_root left no trace of the host root in the mount table.
    const mounts = runIn(h, 'cat /proc/self/mountinfo').stdout;
    expect(mounts).not.toMatch(/ \/work| \/run\/ocirun/);
  });

  it('uses chroot with --no-pivot and still isolates the rootfs', () => {
    const r = runIn(h, 'ls /bin/busybox && cat /proc/1/cmdline | tr "\\0" " "', undefined, ['--no-pivot']);
    expect(r).toMatchObject({ status: 0 });
    expect(r.stdout).toMatch(/^\/bin\/busybox\nsh -c/);
  });

  it('provides the default devices and /dev links', () => {
    const r = runIn(h, 'for d in null zero full random urandom tty; do stat -c "%n %t:%T %a" /dev/$d; done; for l in fd stdin ptmx; do readlink /dev/$l; done; echo x > /dev/null && head -c 4 /dev/zero | wc -c');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      '/dev/null 1:3 666', '/dev/zero 1:5 666', '/dev/full 1:7 666', '/dev/random 1:8 666', '/dev/urandom 1:9 666', '/dev/tty 5:0 666',
      '/proc/self/fd', '/proc/self/fd/0', 'pts/ptmx', '4', '',
    ]);
  });

  it('maps the user namespace before the process runs', () => {
    const r = runIn(h, 'id; cat /proc/self/uid_map | tr -s " "; stat -c "%u" /proc/1', (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const [id, map] = r.stdout.split('\n');
    expect(id).toMatch(/^uid=0\(root\) gid=0\(root\)/);
    expect(map.trim()).toBe('0 100000 65536');
  });

  it('runs as the configured uid, gid, additional gids and umask', () => {
    const r = runIn(h, 'id -u; id -g; id -G; umask', (s) => {
      s.process!.user = { uid: 1000, gid: 1001, additionalGids: [5, 7], umask: 0o027 };
    });
    expect(r.stdout.split('\n')).toEqual(['1000', '1001', '1001 5 7', '0027', '']);
  });

  it('passes env and cwd', () => {
    const r = runIn(h, 'echo "$FOO" "$PWD"', (s) => { s.process!.env = ['PATH=/bin:/usr/bin', 'FOO=bar baz']; s.process!.cwd = '/tmp'; });
    expect(r.stdout).toBe('bar baz /tmp\n');
  });

  it('joins an existing network namespace by path', () => {
    const a = h.id('netns');
    expect(h.run(['create', '--bundle', h.bundle(), a]).status).toBe(0);
    const pidA = JSON.parse(h.run(['state', a]).stdout).pid;
    const netA = readlinkSync(`/proc/${pidA}/ns/net`);
    const r = runIn(h, 'readlink /proc/self/ns/net', (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: `/proc/${pidA}/ns/net` } : n));
    });
    expect(r.stdout.trim()).toBe(netA);
  });

  it('applies capabilities, no_new_privs and masked/read-only paths of the default spec', () => {
    // /proc/kcore and /proc/sysrq-trigger do not exist on every kernel; these do.
    const r = runIn(h, 'grep -E "^(CapBnd|CapEff|NoNewPrivs)" /proc/self/status; wc -c < /proc/timer_list; stat -c "%t:%T" /proc/timer_list; ' +
      '(echo x > /proc/sys/kernel/hostname) 2>&1 | grep -c "Read-only"; hostname');
    expect(r.status).toBe(0);
    // runc's default spec: CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE.
    expect(r.stdout.split('\n')).toEqual([
      'CapEff:\t0000000020000420', 'CapBnd:\t0000000020000420', 'NoNewPrivs:\t1', '0', '1:3', '1', 'ocirun', '',
    ]);
  });

  it('mounts a bind mount read-only and a tmpfs with options', () => {
    const src = join(h.work, 'shared');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'hello.txt'), 'hi from host\n');
    const r = runIn(h, 'cat /mnt/data/hello.txt; touch /mnt/data/x 2>&1 | grep -c Read-only; grep " /scratch " /proc/self/mountinfo | grep -c "noexec"', (s) => {
      s.mounts!.push({ destination: '/mnt/data', type: 'bind', source: src, options: ['rbind', 'ro'] });
      s.mounts!.push({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'size=1m'] });
    });
    expect(r.stdout).toBe('hi from host\n1\n1\n');
    expect(readFileSync(join(src, 'hello.txt'), 'utf8')).toBe('hi from host\n');
  });

  it('keeps a mount destination that is a symlink out of the rootfs inside it', async () => {
    const victim = join(h.work, 'victim');
    mkdirSync(victim, { recursive: true });
    const rootfs = await h.privateRootfs();
    symlinkSync(`../../../../../../../../..${victim}`, join(rootfs, 'evil'));
    const bundle = h.bundle((s) => {
      s.root = { path: rootfs, readonly: false };
      s.process!.args = ['sh', '-c', 'touch /evil/marker && echo ok'];
      s.mounts!.push({ destination: '/evil', type: 'tmpfs', source: 'tmpfs', options: [] });
    });
    const r = h.run(['run', '--bundle', bundle, h.id()]);
    expect(r).toMatchObject({ status: 0, stdout: 'ok\n', stderr: '' });
    // Nothing reached the host directory the link points at.
    expect(readdirSync(victim)).toEqual([]);
    // The destination was created inside the rootfs instead.
    expect(existsSync(join(rootfs, victim))).toBe(true);
  });

  it('creates all eight namespaces new, and joins each joinable one by path', () => {
    const kinds = ['pid', 'net', 'mnt', 'ipc', 'uts', 'user', 'cgroup', 'time'];
    const script = kinds.map((k) => `readlink /proc/self/ns/${k === 'time' ? 'time_for_children' : k}`).join('; ');
    const all = (s: Spec) => {
      s.linux!.namespaces = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'].map((type) => ({ type } as never));
      s.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    };
    const inside = runIn(h, script, all);
    expect(inside).toMatchObject({ status: 0, stderr: '' });
    const host = kinds.map((k) => readlinkSync(`/proc/self/ns/${k === 'time' ? 'time_for_children' : k}`));
    inside.stdout.trim().split('\n').forEach((ns, i) => expect(ns, kinds[i]).not.toBe(host[i]));

    // A second container joins the first one's namespaces (all but mount, which ocirun refuses to share).
    const a = h.id('joined');
    expect(h.run(['create', '--bundle', h.bundle(all), a]).status).toBe(0);
    const pidA = JSON.parse(h.run(['state', a]).stdout).pid;
    const joinable: Array<[string, string]> = [['user', 'user'], ['pid', 'pid'], ['network', 'net'], ['ipc', 'ipc'], ['uts', 'uts'], ['cgroup', 'cgroup'], ['time', 'time']];
    const joined = runIn(h, joinable.map(([, p]) => `readlink /proc/self/ns/${p}`).join('; ') + '; echo pid=$$', (s) => {
      s.linux!.namespaces = [{ type: 'mount' }, ...joinable.map(([type, p]) => ({ type, path: `/proc/${pidA}/ns/${p}` } as never))];
      delete s.hostname;
    });
    expect(joined).toMatchObject({ status: 0, stderr: '' });
    const lines = joined.stdout.trim().split('\n');
    joinable.forEach(([, p], i) => expect(lines[i], p).toBe(readlinkSync(`/proc/${pidA}/ns/${p}`)));
    // Joined the first container's pid namespace, where its init is already pid 1.
    expect(lines.at(-1)).not.toBe('pid=1');
  });

  it('mounts the host\'s cgroup hierarchies read-only for a "cgroup" mount', () => {
    const r = runIn(h, 'ls /sys/fs/cgroup; grep " /sys/fs/cgroup/memory " /proc/self/mountinfo | grep -c " ro,"; mkdir /sys/fs/cgroup/memory/x 2>&1 | grep -c Read-only');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual(expect.arrayContaining(['memory', 'pids', 'cpu', 'unified']));
    expect(lines.slice(-2)).toEqual(['1', '1']);
  });

  it('writes logs as JSON to --log when asked', () => {
    const log = join(h.work, 'ocirun.log');
    const r = h.run(['--log', log, '--log-format', 'json', '--debug', 'run', '--bundle', h.bundle((s) => { s.process!.args = ['true']; }), h.id()]);
    expect(r.status).toBe(0);
    const entries = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(entries.length).toBeGreaterThan(0);
    expect(entries[0]).toMatchObject({ level: 'debug', msg: expect.stringContaining('create'), time: expect.any(String) });
    const bad = h.run(['--log', log, '--log-format', 'json', 'start', 'no-such-container']);
    expect(bad).toMatchObject({ status: 1, stderr: 'ocirun: container "no-such-container" does not exist\n' });
    expect(JSON.parse(readFileSync(log, 'utf8').trim().split('\n').at(-1)!)).toMatchObject({ level: 'error', msg: 'container "no-such-container" does not exist' });
  });

  // What native/init/testdata's "extras" scenario checked by hand, now against runc too.
  const extras = (s: Spec) => {
    s.process!.args = ['sh', '-c', 'cat /proc/sys/net/ipv4/ip_forward; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; pwd'];
    s.process!.cwd = '/tmp/work/dir';
    s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 321, hard: 654 }];
    s.process!.oomScoreAdj = 500;
    s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
    s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=1m'] });
  };
  const runc = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
  it.each([['ocirun'], ...(runc ? [['runc']] : [])])('%s applies sysctls, rlimits and oom_score_adj, and makes a missing cwd', (rt) => {
    const bundle = h.bundle(extras);
    const r = rt === 'ocirun' ? h.run(['run', '--bundle', bundle, h.id()])
      : spawnSync(runc!, ['--root', join(h.work, 'runc-state'), 'run', '--bundle', bundle, h.id()], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['1', '321', '654', '500', '/tmp/work/dir', '']);
  });

  it('sets the time namespace offsets of the config', () => {
    const r = runIn(h, 'cut -d. -f1 /proc/uptime', (s) => {
      s.linux!.namespaces!.push({ type: 'time' });
      s.linux!.timeOffsets = { boottime: { secs: 86400 * 1000, nanosecs: 0 } };
    });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const host = Number(readFileSync('/proc/uptime', 'utf8').split('.')[0]);
    expect(Number(r.stdout) - host).toBeGreaterThanOrEqual(86400 * 1000 - 5);
    expect(Number(r.stdout) - host).toBeLessThan(86400 * 1000 + 5);
  });
});
