// Rootless containers in a cgroup v2 subtree that systemd delegated to the
// user, what the host suites cannot reach (docs/rootless.md). Runs INSIDE the
// systemd VM only (test/vm/systemd.vm.test.ts runs every test/vm/*.sd.ts
// there). A user made here gets its manager, user@UID.service (systemd 252:
// Delegate=pids memory cpu); ocirun and runc, as that user, each run from a
// transient scope of that manager (systemd-run --user --scope -p
// Delegate=yes), with the cgroupfs driver: the container's cgroup goes beside
// the scope, in the user's subtree, and takes the limits. A limit in a
// controller the user was not given (cpuset) fails. The user, its manager, its
// runtime dir and every cgroup are gone afterwards.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JS module without types
import { buildBusyboxRootfs } from '../../scripts/default-bundle.mjs';
import { defaultSpec } from '../../src/config/default-spec.js';
import type { Spec } from '../../src/oci/types.js';
import { RootlessUser, type Result } from '../support/rootless-user.js';

const CG = '/sys/fs/cgroup';
const inSystemdVm = !!process.env.OCIRUN_TEST_VM_SYSTEMD && readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd';
const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
const RUNTIMES = ['ocirun', 'runc'] as const;
type Rt = (typeof RUNTIMES)[number];

function sys(cmd: string, ...args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: (r.stdout ?? '').trim(), err: (r.stderr ?? '').trim() };
}

const read = (path: string): string => readFileSync(path, 'utf8').trim();

function waitFor(what: string, ok: () => boolean, ms = 120_000): void {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    spawnSync('sleep', ['0.2']);
  }
}

describe.runIf(inSystemdVm && RUNC)('rootless in a delegated cgroup v2 subtree (user@UID.service)', () => {
  let u: RootlessUser;
  let rootfs: string;
  let runtimeDir: string;
  let manager: string;
  let userSlice: string;
  let seq = 0;

  beforeAll(async () => {
    // The user's files (RootlessUser: os.tmpdir()) go to /var/tmp, the tmpfs
    // systemd.vm.test.ts gives TMPDIR, even when run by hand with /tmp.
    if (!process.env.TMPDIR || process.env.TMPDIR.startsWith('/tmp')) process.env.TMPDIR = '/var/tmp';
    u = RootlessUser.create();
    rootfs = join(u.work, 'rootfs');
    await buildBusyboxRootfs(rootfs);
    runtimeDir = `/run/user/${u.uid}`;
    manager = `user@${u.uid}.service`;
    userSlice = `/user.slice/user-${u.uid}.slice`;
    const start = sys('systemctl', 'start', manager);
    expect(start.status, start.err).toBe(0);
    waitFor(`${manager} running`, () => sys('systemctl', 'show', '--value', '-p', 'ActiveState', manager).out === 'active');
  }, 600_000);

  afterAll(() => {
    if (!u) return;
    for (const rt of RUNTIMES) {
      const dir = join(runtimeDir, rt);
      for (const id of existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('@')) : []) runtime(rt, ['delete', '--force', id]);
    }
    // The manager takes the scopes, the daemon and whatever is left with it;
    // user-runtime-dir@UID.service then unmounts /run/user/UID.
    sys('systemctl', 'stop', manager);
    sys('systemctl', 'stop', `user-runtime-dir@${u.uid}.service`);
    sys('systemctl', 'stop', `user-${u.uid}.slice`);
    u.destroy();
  }, 600_000);

  /** The user's environment for its manager: its runtime dir and session bus. */
  const env = (): NodeJS.ProcessEnv => ({ XDG_RUNTIME_DIR: runtimeDir, DBUS_SESSION_BUS_ADDRESS: `unix:path=${runtimeDir}/bus` });
  const argv = (rt: Rt, args: string[]): string[] =>
    rt === 'ocirun' ? [process.execPath, u.ocirun, ...args] : [RUNC!, '--root', join(runtimeDir, 'runc'), ...args];
  const runtime = (rt: Rt, args: string[]): Result => {
    const [cmd, ...rest] = argv(rt, args);
    return u.run(cmd, rest, { env: env(), timeout: 300_000 });
  };
  /** The command as the user, in a new delegated scope of its manager. */
  const inScope = (rt: Rt, scope: string, args: string[]): Result =>
    u.run('systemd-run', ['--user', '--scope', '--quiet', '-p', 'Delegate=yes', `--unit=${scope}`, '--', ...argv(rt, args)],
      { env: env(), timeout: 300_000 });

  const bundle = (edit: (s: Spec) => void): string => {
    const dir = u.dir(`b${++seq}`);
    const spec = defaultSpec({ rootless: true, uid: u.uid, gid: u.gid });
    spec.root = { path: rootfs, readonly: true };
    spec.process!.terminal = false;
    edit(spec);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
    chownSync(join(dir, 'config.json'), u.uid, u.gid);
    return dir;
  };

  it('the user has its manager, on its own delegated subtree; outside it a container gets no cgroup', () => {
    const base = `${CG}${userSlice}/${manager}`;
    expect(existsSync(base)).toBe(true);
    const given = read(`${base}/cgroup.controllers`).split(' ');
    for (const c of ['cpu', 'memory', 'pids']) expect(given).toContain(c);
    // systemd 252's user@.service delegates pids, memory and cpu: never cpuset.
    expect(given).not.toContain('cpuset');
    expect(sys('stat', '-c', '%u', `${base}/cgroup.procs`).out).toBe(String(u.uid));
    expect(existsSync(`${runtimeDir}/systemd/private`)).toBe(true);
    // From the job's cgroup (root's), nothing beside it is the user's: the
    // container runs in the caller's cgroup, and sees an empty /sys/fs/cgroup.
    const b = bundle((sp) => { sp.process!.args = ['sh', '-c', 'cat /proc/self/cgroup; ls /sys/fs/cgroup | wc -l']; });
    const first = runtime('ocirun', ['run', '--bundle', b, `nocg-${process.pid}`]);
    expect(first, first.stderr).toMatchObject({ status: 0, stdout: `${read('/proc/self/cgroup')}\n0\n` });
  });

  it.each(RUNTIMES)('%s: memory and pids limits land in the container\'s cgroup beside the scope, which delete removes', (rt) => {
    const id = `deleg-${rt}-${process.pid}-${++seq}`;
    const scope = `ocirun-test-${id}.scope`;
    const b = bundle((s) => {
      s.process!.args = ['sleep', '600'];
      s.linux!.resources = { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 32 } };
    });
    const r = inScope(rt, scope, ['run', '-d', '--bundle', b, id]);
    expect(r.status, r.stderr).toBe(0);
    const state = runtime(rt, ['state', id]);
    expect(state.status, state.stderr).toBe(0);
    const pid = (JSON.parse(state.stdout) as { pid: number }).pid;
    const cgPath = read(`/proc/${pid}/cgroup`).replace(/^0::/, '');
    // The sibling of the scope it was run from: runc's fs2 rule for a rootless default path.
    expect(cgPath).toBe(`${userSlice}/${manager}/app.slice/${id}`);
    const dir = `${CG}${cgPath}`;
    expect(read(`${dir}/memory.max`)).toBe(String(64 * 1024 * 1024));
    expect(read(`${dir}/pids.max`)).toBe('32');
    expect(read(`${dir}/cgroup.procs`).split('\n')).toContain(String(pid));
    if (rt === 'ocirun') {
      // Its own cgroup at /sys/fs/cgroup (bound: a user namespace may not
      // mount cgroup2 without a cgroup namespace; runc binds the host's tree).
      // From a scope of the user's: joining the container's cgroup needs write
      // access to the common ancestor's cgroup.procs.
      const inside = inScope(rt, `ocirun-test-exec-${id}.scope`, ['exec', id, 'cat', '/sys/fs/cgroup/pids.max']);
      expect(inside, inside.stderr).toMatchObject({ status: 0, stdout: '32\n' });
    }
    // The user's own cgroup, not root's.
    expect(sys('stat', '-c', '%u', dir).out).toBe(String(u.uid));
    // With its cgroup, what a cgroup-less rootless container cannot do works: pause and resume.
    expect(runtime(rt, ['pause', id]).status).toBe(0);
    expect(read(`${dir}/cgroup.freeze`)).toBe('1');
    expect(runtime(rt, ['resume', id]).status).toBe(0);
    const del = runtime(rt, ['delete', '--force', id]);
    expect(del.status, del.stderr).toBe(0);
    waitFor(`${dir} removed`, () => !existsSync(dir), 30_000);
    expect(existsSync(join(runtimeDir, rt, id))).toBe(false);
    u.run('systemctl', ['--user', 'stop', scope], { env: env() });
  });

  it.each(RUNTIMES)('%s: a limit in a controller the user was not given (cpuset) fails, leaving no cgroup or state', (rt) => {
    const id = `nodeleg-${rt}-${process.pid}-${++seq}`;
    const b = bundle((s) => {
      s.process!.args = ['true'];
      s.linux!.resources = { cpu: { cpus: '0' } };
    });
    const r = inScope(rt, `ocirun-test-${id}.scope`, ['run', '--bundle', b, id]);
    expect(r.status).not.toBe(0);
    if (rt === 'ocirun') {
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('linux.resources.cpu.cpus');
      expect(r.stderr).toContain('cpuset');
    } else {
      expect(r.stderr).toContain('cpuset');
    }
    expect(existsSync(`${CG}${userSlice}/${manager}/app.slice/${id}`)).toBe(false);
    expect(existsSync(join(runtimeDir, rt, id))).toBe(false);
  });

  it('stopping the manager takes everything: no process, runtime dir or cgroup of the user is left', () => {
    for (const rt of RUNTIMES) {
      const dir = join(runtimeDir, rt);
      expect(existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('@')) : [], rt).toEqual([]);
    }
    expect(sys('systemctl', 'stop', manager).status).toBe(0);
    sys('systemctl', 'stop', `user-runtime-dir@${u.uid}.service`);
    expect(sys('systemctl', 'stop', `user-${u.uid}.slice`).status).toBe(0);
    waitFor('the user slice removed', () => !existsSync(`${CG}${userSlice}`), 60_000);
    waitFor('the user\'s processes gone', () => u.processes().length === 0, 60_000);
    expect(existsSync(`${runtimeDir}/systemd`)).toBe(false);
  });
});
