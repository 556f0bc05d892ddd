// ocirun as an ordinary user, side by side with runc: each scenario runs as
// an unprivileged user this file creates (and removes), once with ocirun and
// once with `runc --root $XDG_RUNTIME_DIR/runc`, and what a user would see
// must agree. ocirun uses its default state root ($XDG_RUNTIME_DIR/ocirun),
// through the native front end and the user's own daemon there.
// No cgroups here: this host has no delegation for users (docs/rootless.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
// @ts-expect-error plain JS module without types
import { buildBusyboxRootfs } from '../../scripts/default-bundle.mjs';
import { defaultSpec } from '../../src/config/default-spec.js';
import type { Spec } from '../../src/oci/types.js';
import { RootlessUser, type Result } from '../support/rootless-user.js';
import { daemonPids, ENGINE_DIR, stopDaemons } from '../support/engine.js';

const isRoot = process.getuid?.() === 0;
const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
const haveUidmap = existsSync('/usr/bin/newuidmap') && existsSync('/usr/bin/newgidmap');

interface Rt { name: 'ocirun' | 'runc'; cmd: (args: string[]) => [string, string[]]; stateDir: string }

describe.runIf(isRoot && RUNC && haveUidmap)('rootless, as an unprivileged user', () => {
  let u: RootlessUser;
  let rootfs: string;
  let rts: Rt[];
  let seq = 0;

  beforeAll(async () => {
    u = RootlessUser.create();
    rootfs = join(u.work, 'rootfs');
    await buildBusyboxRootfs(rootfs);
    rts = [
      { name: 'ocirun', cmd: (a) => [u.ocirun, a], stateDir: join(u.xdg, 'ocirun') },
      { name: 'runc', cmd: (a) => [RUNC!, ['--root', join(u.xdg, 'runc'), ...a]], stateDir: join(u.xdg, 'runc') },
    ];
  }, 60_000);

  afterAll(() => {
    if (!u) return;
    for (const rt of rts ?? []) {
      for (const id of containers(rt)) run(rt, ['delete', '--force', id]);
    }
    // By pid, before destroy() SIGKILLs whatever else the user left.
    stopDaemons(join(u.xdg, 'ocirun'));
    u.destroy();
  });

  /** The state root's containers (ocirun's also holds @engine, its daemon's directory). */
  const containers = (rt: Rt): string[] => (existsSync(rt.stateDir) ? readdirSync(rt.stateDir) : []).filter((f) => f !== ENGINE_DIR);

  const run = (rt: Rt, args: string[], env?: NodeJS.ProcessEnv): Result => {
    const [cmd, argv] = rt.cmd(args);
    return u.run(cmd, argv, { env });
  };

  /** A bundle of spec --rootless for this user, edited, on the shared read-only busybox. */
  const bundle = (args: string[], edit?: (s: Spec) => void): string => {
    const dir = u.dir(`b${++seq}`);
    const spec = defaultSpec({ rootless: true, uid: u.uid, gid: u.gid });
    spec.root = { path: rootfs, readonly: true };
    spec.process!.terminal = false;
    spec.process!.args = args;
    edit?.(spec);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
    chownSync(join(dir, 'config.json'), u.uid, u.gid);
    return dir;
  };

  /** Runs fn for ocirun and runc; returns both results, ocirun's first. */
  const both = <T>(fn: (rt: Rt, id: string) => T): [T, T] => {
    const out = rts.map((rt) => fn(rt, `rl-${rt.name}-${++seq}`));
    return [out[0], out[1]];
  };

  /**
   * Nothing left behind: no state, no process of the user or its subordinate
   * ids (given a moment: a failed runc's last child exits just after runc).
   */
  const expectClean = (): void => {
    for (const rt of rts) expect(containers(rt), rt.name).toEqual([]);
    // The user's daemon stays (until idle, or afterAll): it is no container's.
    const left = (): number[] => u.processes().filter((p) => !daemonPids(join(u.xdg, 'ocirun')).includes(p));
    for (let i = 0; i < 40 && left().length > 0; i++) spawnWait();
    expect(left()).toEqual([]);
  };

  const sh = (script: string): string[] => ['sh', '-c', script];

  it('run: root inside, mapped to the user alone, setgroups denied', () => {
    const b = bundle(sh('id; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups'));
    const [o, r] = both((rt, id) => run(rt, ['run', '--bundle', b, id]));
    expect(o).toEqual(r);
    expect(o.status).toBe(0);
    const words = o.stdout.split(/\s+/).filter(Boolean);
    expect(words.slice(0, 2)).toEqual(['uid=0(root)', 'gid=0(root)']);
    expect(words.slice(-7)).toEqual(['0', String(u.uid), '1', '0', String(u.gid), '1', 'deny']);
    expectClean();
  });

  it('goes through a daemon of the user\'s own, under its state root, refused to other uids', async () => {
    const engine = join(u.xdg, 'ocirun', ENGINE_DIR);
    stopDaemons(join(u.xdg, 'ocirun'));
    expect(run(rts[0], ['run', '--bundle', bundle(sh('exit 42')), 'rl-code']).status).toBe(42);
    const [pid] = daemonPids(join(u.xdg, 'ocirun'));
    expect(pid).toBeGreaterThan(0);
    expect(statSync(`/proc/${pid}`).uid).toBe(u.uid);
    expect(statSync(engine).mode & 0o777).toBe(0o700);
    const [socket] = readdirSync(engine).filter((f) => f.endsWith('.sock'));
    expect(socket).toMatch(new RegExp(`-${u.uid}-[0-9a-f]{16}\\.sock$`));
    // The container is the front end's child, as with runc: a long run, looked at from here.
    const b = bundle(['sleep', '30']);
    const fe = spawn(u.ocirun, ['run', '--bundle', b, 'rl-tree'], { uid: u.uid, gid: u.gid, env: u.env(), cwd: u.home, stdio: 'ignore' });
    try {
      let init = 0;
      for (let i = 0; i < 200 && !init; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const s = run(rts[0], ['state', 'rl-tree']);
        if (s.status === 0 && JSON.parse(s.stdout).status === 'running') init = JSON.parse(s.stdout).pid as number;
      }
      const stat = readFileSync(`/proc/${init}/stat`, 'latin1');
      expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])).toBe(fe.pid);
      const e = run(rts[0], ['exec', 'rl-tree', 'sh', '-c', 'echo in; exit 7']);
      expect(e).toMatchObject({ status: 7, stdout: 'in\n' });
      expect(run(rts[0], ['kill', 'rl-tree', 'KILL']).status).toBe(0);
      const code = await new Promise<number | null>((r) => fe.on('exit', (c, sig) => r(c ?? (sig ? 128 : null))));
      expect(code).toBe(137);
    } finally {
      fe.kill('SIGKILL');
    }
    // run deleted it on its way out, as runc's does.
    expect(run(rts[0], ['state', 'rl-tree']).status).toBe(1);
    // Every call so far went to that one daemon, and nothing fell back to a Node CLI of its own.
    expect(daemonPids(join(u.xdg, 'ocirun'))).toEqual([pid]);
    expect(readFileSync(join(engine, 'daemon.log'), 'utf8')).not.toMatch(/refused|bad request/);
    // root, handed the user's socket under its own name, is refused by it and runs in Node.
    const rootSocket = socket.replace(`-${u.uid}-`, '-0-');
    symlinkSync(join(engine, socket), join(engine, rootSocket));
    try {
      const r = spawnSync(u.ocirun, ['--root', join(u.xdg, 'ocirun'), 'list', '-q'], { encoding: 'utf8', cwd: '/' });
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(join(engine, 'daemon.log'), 'utf8')).toMatch(new RegExp(`refused pid \\d+: uid 0 may not use the daemon of uid ${u.uid}`));
    } finally {
      rmSync(join(engine, rootSocket), { force: true });
    }
    expect(readlinkSync(`/proc/${pid}/ns/mnt`)).toBe(readlinkSync('/proc/self/ns/mnt'));
    expectClean();
  });

  it('create, state, start, exec, pause, kill, delete', async () => {
    const b = bundle(['sleep', '100'], (s) => { s.hostname = 'rl-host'; });
    const [o, r] = both((rt, id) => {
      const status = (): string => {
        const s = run(rt, ['state', id]);
        return s.status === 0 ? (JSON.parse(s.stdout) as { status: string }).status : `exit ${s.status}`;
      };
      const steps: unknown[] = [];
      steps.push(run(rt, ['create', '--bundle', b, id]).status, status());
      steps.push(run(rt, ['start', id]).status, status());
      const e = run(rt, ['exec', id, 'sh', '-c', 'id -u; hostname; exit 3']);
      steps.push(e.status, e.stdout);
      // No cgroup without delegation: both refuse to pause, and the container runs on.
      steps.push(run(rt, ['pause', id]).status !== 0, status());
      steps.push(run(rt, ['kill', id, 'KILL']).status);
      for (let i = 0; i < 100 && status() !== 'stopped'; i++) spawnWait();
      steps.push(status(), run(rt, ['delete', id]).status, status() !== 'stopped');
      return steps;
    });
    expect(o).toEqual(r);
    expect(o).toEqual([0, 'created', 0, 'running', 3, '0\nrl-host\n', true, 'running', 0, 'stopped', 0, true]);
    expectClean();
  });

  it('a subuid range through newuidmap/newgidmap', () => {
    const b = bundle(sh('cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/f; chown 1000:1000 /tmp/f; stat -c %u:%g /tmp/f'), (s) => {
      s.linux!.uidMappings!.push({ containerID: 1, hostID: u.subuid.start, size: 65536 });
      s.linux!.gidMappings!.push({ containerID: 1, hostID: u.subgid.start, size: 65536 });
      s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] });
      // runc's default set has no CAP_CHOWN.
      for (const set of ['bounding', 'effective', 'permitted'] as const) s.process!.capabilities![set]!.push('CAP_CHOWN');
    });
    const [o, r] = both((rt, id) => run(rt, ['run', '--bundle', b, id]));
    expect(o).toEqual(r);
    expect(o.stdout.split(/\s+/).filter(Boolean)).toEqual([
      '0', String(u.uid), '1', '1', String(u.subuid.start), '65536',
      '0', String(u.gid), '1', '1', String(u.subgid.start), '65536', '1000:1000']);
    expectClean();
  });

  it('hostname, mounts, a read-only rootfs, masked paths, loopback only', () => {
    const b = bundle(sh([
      'hostname', 'touch /x 2>/dev/null || echo ro-rootfs', 'wc -c < /proc/keys', 'ls /proc/acpi 2>/dev/null | wc -l',
      'touch /sys/x 2>/dev/null || echo ro-sys', 'test -c /dev/null && echo > /dev/null && echo dev-null',
      // Only loopback, and up (IFF_UP | IFF_LOOPBACK), as runc brings it up.
      "ip -o link | cut -d' ' -f2", 'cat /sys/class/net/lo/flags', "grep -E ' /(proc|dev/pts|sys) ' /proc/mounts | cut -d' ' -f2,3",
    ].join('; ')), (s) => {
      s.hostname = 'rootless-host';
      // runc's spec --rootless shares the host's network; a new one has only loopback.
      s.linux!.namespaces!.push({ type: 'network' });
    });
    const [o, r] = both((rt, id) => run(rt, ['run', '--bundle', b, id]));
    expect(o).toEqual(r);
    expect(o.stdout).toBe('rootless-host\nro-rootfs\n0\n0\nro-sys\ndev-null\nlo:\n0x9\n/proc proc\n/dev/pts devpts\n/sys sysfs\n');
    expectClean();
  });

  it('a sysfs mount without a network namespace: the host\'s, bound read-only (runc refuses)', () => {
    // spec --rootless binds /sys itself; a config that asks for a new sysfs cannot get one without
    // owning the network namespace. runc fails with EPERM; ocirun binds the host's, as its spec would.
    const b = bundle(sh("touch /sys/x 2>/dev/null || echo ro-sys; test -d /sys/class/net/lo && echo host-net; grep ' /sys ' /proc/mounts | cut -d' ' -f2,3"), (s) => {
      const sys = s.mounts!.find((m) => m.destination === '/sys')!;
      Object.assign(sys, { type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] });
    });
    const [o, r] = both((rt, id) => run(rt, ['run', '--bundle', b, id]));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error mounting \\?"sysfs\\?" to rootfs at .*operation not permitted/);
    expect(o).toEqual({ status: 0, stdout: 'ro-sys\nhost-net\n/sys sysfs\n', stderr: '' });
    expectClean();
  });

  it('an id outside the user\'s ranges: one line, nothing left', () => {
    const b = bundle(['true'], (s) => { s.linux!.uidMappings!.push({ containerID: 1, hostID: u.subuid.start + u.subuid.count, size: 10 }); });
    const [o, r] = both((rt, id) => run(rt, ['run', '--bundle', b, id]));
    expect([o.status, r.status]).toEqual([1, 1]);
    const last = u.subuid.start + u.subuid.count;
    expect(o.stderr).toBe(`ocirun: linux.uidMappings[1]: host uids ${last}-${last + 9} are not ${u.name} (uid ${u.uid})'s to map: ` +
      `/etc/subuid grants ${u.subuid.start}-${last - 1}\n`);
    expectClean();
  });

  it('a cgroup limit without delegation: one line, nothing left', () => {
    const b = bundle(['true'], (s) => { s.linux!.resources = { memory: { limit: 64 << 20 } }; });
    const [o, r] = both((rt, id) => run(rt, ['run', '--bundle', b, id]));
    expect([o.status, r.status]).toEqual([1, 1]);
    expect(r.stderr).toContain('cannot set memory limit: container could not join or create cgroup');
    expect(o.stderr).toBe(`ocirun: linux.resources.memory.limit: cannot set the memory limit: rootless, and no cgroup of memory is writable by uid ${u.uid} (no delegation)\n`);
    // --rootless false: a permission problem is then the cgroup's own error, as with runc.
    expect(run(rts[0], ['--rootless', 'false', 'run', '--bundle', b, 'rl-nolimit']).stderr).toMatch(/^ocirun: EACCES: permission denied, mkdir '\/sys\/fs\/cgroup\//);
    expectClean();
  });

  it('a state root the user cannot write, or none at all: one line', () => {
    const locked = join(u.work, 'locked');
    mkdirSync(locked, { mode: 0o755 });
    const b = bundle(['true']);
    const o = u.run(u.ocirun, ['--root', join(locked, 'state'), 'run', '--bundle', b, 'rl-locked']);
    const r = u.run(RUNC!, ['--root', join(locked, 'state'), 'run', '--bundle', b, 'rl-locked']);
    expect([o.status, r.status]).toEqual([1, 1]);
    expect(o.stderr).toBe(`ocirun: state root ${join(locked, 'state')} is not writable by uid ${u.uid} (EACCES): ` +
      'pass --root DIR or set XDG_RUNTIME_DIR to a directory of yours\n');
    expect(existsSync(join(locked, 'state'))).toBe(false);
    const bare = u.run(u.ocirun, ['run', '--bundle', b, 'rl-noxdg'], { env: { XDG_RUNTIME_DIR: undefined } });
    expect(bare).toMatchObject({ status: 1, stderr: `ocirun: running as uid ${u.uid} without root: set XDG_RUNTIME_DIR (usually /run/user/${u.uid}) or pass --root DIR\n` });
    expectClean();
  });

  it('spec --rootless makes its bundle directory and maps the user', () => {
    const dir = join(u.home, 'new', 'bundle');
    expect(u.run(u.ocirun, ['spec', '--rootless', '-b', dir]).status).toBe(0);
    const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Spec;
    expect(spec.linux?.uidMappings).toEqual([{ containerID: 0, hostID: u.uid, size: 1 }]);
    expect(spec.linux?.gidMappings).toEqual([{ containerID: 0, hostID: u.gid, size: 1 }]);
    const again = u.run(u.ocirun, ['spec', '--rootless', '-b', dir]);
    expect(again).toMatchObject({ status: 1, stderr: `ocirun: ${join(dir, 'config.json')} already exists: remove it first\n` });
  });

  it('the Runtime library as the user, with the same rules', () => {
    const b = bundle(sh('cat /proc/self/uid_map'));
    const script = join(u.home, 'lib.mjs');
    const index = join(dirname(dirname(u.ocirun)), 'dist', 'index.js');
    writeFileSync(script, [
      `import { Runtime } from ${JSON.stringify(index)};`,
      'try { new Runtime(); } catch (e) { if (!process.env.XDG_RUNTIME_DIR) { console.log(e.message); process.exit(0); } throw e; }',
      'const rt = new Runtime();',
      `const s = await rt.run('rl-lib', ${JSON.stringify(b)}, { stdio: [0, 1, 2] });`,
      'console.log(JSON.stringify(s), rt.root);',
    ].join('\n'));
    const r = u.run(process.execPath, [script]);
    expect(r.stderr).toBe('');
    expect(r.stdout.split(/\s+/).filter(Boolean)).toEqual(['0', String(u.uid), '1',
      JSON.stringify({ exitCode: 0, signal: null, known: true }), join(u.xdg, 'ocirun')]);
    expect(u.run(process.execPath, [script], { env: { XDG_RUNTIME_DIR: undefined } }).stdout).toBe(
      `running as uid ${u.uid} without root: set XDG_RUNTIME_DIR (usually /run/user/${u.uid}) or pass --root DIR\n`);
    expectClean();
  });
});

function spawnWait(): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
}
