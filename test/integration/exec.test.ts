// `ocirun exec` and the extra fds of create/run/exec, checked from inside the
// container and from the host: same namespaces and cgroups as the init, the
// container's limits and capabilities unless overridden, runc's exit codes,
// and nothing of ours reaching the process but the fds it was given.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readlinkSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, OCIRUN, isRoot } from './harness.js';
import type { Spec } from '../../src/oci/types.js';

const NS = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'];
const userns = (s: Spec): void => {
  s.linux!.namespaces!.push({ type: 'user' });
  s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
};

describe.runIf(isRoot)('exec', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  /** A running container whose init sleeps; returns its id and host pid. */
  function running(edit?: (s: Spec) => void): { id: string; pid: number } {
    const id = h.id();
    const bundle = h.bundle((s) => { s.process!.args = ['sleep', '60']; edit?.(s); });
    expect(h.run(['run', '-d', '--bundle', bundle, id])).toMatchObject({ status: 0, stderr: '' });
    return { id, pid: JSON.parse(h.run(['state', id]).stdout).pid as number };
  }

  /** The CLI with extra fds 3, 4, ... (the harness only does stdio). */
  function withFds(args: string[], fds: number[], env?: NodeJS.ProcessEnv) {
    const out = join(h.work, `.fd-out-${h.id()}`);
    const o = openSync(out, 'w+');
    try {
      const r = spawnSync(OCIRUN, ['--root', h.root, ...args], {
        stdio: ['ignore', o, 'pipe', ...fds], encoding: 'utf8', timeout: 30_000, env: env ?? process.env,
      });
      return { status: r.status, stdout: readFileSync(out, 'utf8'), stderr: r.stderr };
    } finally {
      closeSync(o);
    }
  }

  it('joins every namespace of the init, user namespace included', () => {
    const { id, pid } = running((s) => {
      userns(s);
      s.linux!.namespaces!.push({ type: 'cgroup' }, { type: 'time' });
    });
    const r = h.run(['exec', id, 'sh', '-c', `for n in ${NS.join(' ')}; do readlink /proc/self/ns/$n; done; echo pid=$$; id -u`]);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, NS.length)).toEqual(NS.map((n) => readlinkSync(`/proc/${pid}/ns/${n}`)));
    expect(lines).toHaveLength(NS.length + 2);
    expect(lines.at(-2)).toMatch(/^pid=\d+$/);
    expect(lines.at(-2)).not.toBe('pid=1');  // a new process inside the pid namespace
    expect(lines.at(-1)).toBe('0');  // root of the container's user namespace, host uid 100000
  });

  it('puts the process in the cgroups the init is in, whoever put it there', async () => {
    const { id, pid } = running();
    // Cgroups of the test's own making, v1 (pids) and v2 (the hybrid host's unified tree).
    const dirs = ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/unified']
      .filter((d) => existsSync(join(d, 'cgroup.procs')))
      .map((d) => join(d, `ocirun-exec-test-${process.pid}`));
    expect(dirs.length).toBeGreaterThan(0);
    try {
      for (const d of dirs) {
        mkdirSync(d);
        writeFileSync(join(d, 'cgroup.procs'), String(pid));
      }
      const pidFile = join(h.work, `${id}.cg.pid`);
      expect(h.run(['exec', '-d', '--pid-file', pidFile, id, 'sleep', '30']).status).toBe(0);
      const child = Number(readFileSync(pidFile, 'utf8'));
      const cgroups = readFileSync(`/proc/${child}/cgroup`, 'utf8');
      for (const d of dirs) {
        const line = d.startsWith('/sys/fs/cgroup/pids') ? /^\d+:pids:(.*)$/m : /^0::(.*)$/m;
        expect(line.exec(cgroups)?.[1]).toBe(`/ocirun-exec-test-${process.pid}`);
      }
    } finally {
      h.run(['delete', '--force', id]);
      for (const d of dirs) {
        // Emptied once the container's processes are gone, which delete waited for.
        for (let i = 0; i < 100 && existsSync(d); i++) {
          try { rmdirSync(d); } catch { await new Promise((r) => setTimeout(r, 20)); }
        }
      }
    }
    expect(dirs.filter((d) => existsSync(d))).toEqual([]);
  });

  it('returns the exit code of the process, 255 when it could not start', () => {
    const { id } = running();
    expect(h.run(['exec', id, 'sh', '-c', 'echo out; echo err >&2; exit 7'])).toMatchObject({ status: 7, stdout: 'out\n', stderr: 'err\n' });
    expect(h.run(['exec', id, 'sh', '-c', 'kill -TERM $$'])).toMatchObject({ status: 143 });
    const missing = h.run(['exec', id, 'no-such-command']);
    expect(missing.status).toBe(255);
    expect(missing.stderr).toMatch(/^ocirun: exec failed: exec: "no-such-command": executable file not found in \$PATH/);
    const cwd = h.run(['exec', '--cwd', '/no/such/dir', id, 'true']);
    expect(cwd).toMatchObject({ status: 255 });
    expect(cwd.stderr).toMatch(/chdir to cwd \("\/no\/such\/dir"\) set in config.json failed.*ENOENT/);
    expect(h.run(['exec', 'no-such-container', 'true'])).toMatchObject({ status: 255, stderr: 'ocirun: exec failed: container "no-such-container" does not exist\n' });
    expect(h.run(['exec', id])).toMatchObject({ status: 255, stderr: 'ocirun: exec failed: exec needs a command (or --process FILE)\n' });
    expect(h.run(['exec', '-u', 'root', id, 'true']).stderr).toMatch(/--user "root": expected uid\[:gid\]/);
  });

  it('refuses a stopped container and works in a created one', async () => {
    const created = h.id();
    expect(h.run(['create', '--bundle', h.bundle((s) => { s.process!.args = ['true']; }), created]).status).toBe(0);
    expect(h.run(['exec', created, 'sh', '-c', 'echo in-created; cat /proc/1/comm'])).toMatchObject({ status: 0, stdout: 'in-created\nocirun-init\n' });
    expect(h.run(['start', created]).status).toBe(0);
    const deadline = Date.now() + 10_000;
    while (JSON.parse(h.run(['state', created]).stdout).status !== 'stopped' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(h.run(['exec', created, 'true'])).toMatchObject({ status: 255, stderr: 'ocirun: exec failed: cannot exec in a stopped container\n' });
  });

  it('starts from the container\'s process and applies -e, --cwd, -u, -g, --cap, --no-new-privs', () => {
    const { id } = running((s) => {
      s.process!.env = ['PATH=/bin:/usr/bin', 'KEEP=kept', 'FOO=old'];
      s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 777, hard: 777 }];
      s.process!.user.umask = 0o027;
      s.process!.noNewPrivileges = false;
    });
    const plain = h.run(['exec', id, 'sh', '-c', 'echo "$KEEP $FOO"; ulimit -n; umask; grep -E "^(CapEff|NoNewPrivs)" /proc/self/status']);
    // The default set: AUDIT_WRITE, KILL, NET_BIND_SERVICE.
    expect(plain.stdout.split('\n')).toEqual(['kept old', '777', '0027', 'CapEff:\t0000000020000420', 'NoNewPrivs:\t0', '']);
    const r = h.run(['exec', '-e', 'FOO=new', '-e', 'BAR=bar', '--cwd', '/tmp', '-u', '1000:1001', '-g', '5,6', '-g', '7',
      '--cap', 'CAP_SYS_ADMIN', '--no-new-privs', id,
      'sh', '-c', 'echo "$KEEP $FOO $BAR"; pwd; id -u; id -g; id -G; grep -E "^(CapEff|NoNewPrivs)" /proc/self/status']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    // A non-root user keeps effective capabilities only through the ambient set,
    // which --cap fills only when the config has inheritable ones (runc's rule).
    expect(r.stdout.split('\n')).toEqual(['kept new bar', '/tmp', '1000', '1001', '1001 5 6 7',
      'CapEff:\t0000000000000000', 'NoNewPrivs:\t1', '']);
    const root = h.run(['exec', '--cap', 'CAP_SYS_ADMIN', id, 'grep', '^CapEff', '/proc/self/status']);
    expect(root.stdout).toBe('CapEff:\t0000000020200420\n');  // plus bit 21
  });

  it('is confined by the container\'s seccomp profile, like the init', () => {
    const { id } = running((s) => {
      s.linux!.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
      };
    });
    const r = h.run(['exec', id, 'sh', '-c', 'mkdir /tmp/denied; echo "rc=$?"; grep ^Seccomp: /proc/self/status']);
    expect(r.stdout).toBe('rc=1\nSeccomp:\t2\n');
    expect(r.stderr).toMatch(/Operation not permitted/);
  });

  it('runs a whole process from --process FILE, validated like a config', () => {
    const { id } = running();
    const file = join(h.work, `process-${h.id()}.json`);
    writeFileSync(file, JSON.stringify({
      args: ['sh', '-c', 'echo "$ONLY"; pwd; id -u'], env: ['ONLY=this'], cwd: '/etc', user: { uid: 42, gid: 42 },
    }));
    expect(h.run(['exec', '--process', file, id])).toMatchObject({ status: 0, stdout: 'this\n/etc\n42\n' });
    writeFileSync(file, JSON.stringify({ args: ['true'], cwd: 'relative', user: { uid: 0, gid: 0 } }));
    const bad = h.run(['exec', '--process', file, id]);
    expect(bad.status).toBe(255);
    expect(bad.stderr).toMatch(/^ocirun: exec failed: process\.cwd: /);
  });

  it('-d returns at once, writes --pid-file, and leaves the process running in the container', () => {
    const { id, pid } = running();
    const pidFile = join(h.work, `${id}.exec.pid`);
    expect(h.run(['exec', '-d', '--pid-file', pidFile, id, 'sleep', '30'])).toMatchObject({ status: 0, stdout: '', stderr: '' });
    const child = Number(readFileSync(pidFile, 'utf8'));
    const status = readFileSync(`/proc/${child}/status`, 'utf8');
    expect(status).toMatch(/^NSpid:\s+\d+\s+\d+$/m);  // a pid in ours and one in the container's
    expect(readlinkSync(`/proc/${child}/ns/pid`)).toBe(readlinkSync(`/proc/${pid}/ns/pid`));
    expect(readFileSync(`/proc/${child}/cmdline`, 'utf8')).toBe('sleep\x0030\x00');
  });

  it('forwards signals to the process it waits for', async () => {
    const { id } = running();
    const child = spawn(OCIRUN, ['--root', h.root, 'exec', id, 'sh', '-c', 'trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    const deadline = Date.now() + 10_000;
    while (!out.includes('ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGTERM');
    expect(await new Promise((r) => child.on('exit', r))).toBe(42);
  });

  it('passes --preserve-fds to exec and LISTEN_FDS sockets to run, at 3, 4, ... and nothing else', () => {
    const { id } = running();
    const a = openSync('/etc/hostname', 'r');
    const b = openSync('/etc/passwd', 'r');
    try {
      // ls opens the directory it lists: that is the one fd above ours.
      const listing = 'for f in /proc/self/fd/*; do echo "${f##*/} $(readlink $f)"; done';
      const e = withFds(['exec', '--preserve-fds', '2', id, 'sh', '-c', listing], [a, b]);
      expect(e.status).toBe(0);
      const fds = e.stdout.trim().split('\n').map((l) => l.split(' '));
      expect(fds.map(([n]) => n)).toEqual(['0', '1', '2', '3', '4', '5']);
      expect(fds.slice(3, 5).map(([, t]) => t)).toEqual(['/etc/hostname', '/etc/passwd']);
      // Like runc, any open fd counts (ocirun's own are open too), so ask for far more than exist.
      const bad = withFds(['exec', '--preserve-fds', '1000', id, 'true'], [a, b]);
      expect(bad.status).toBe(255);
      expect(bad.stderr).toMatch(/--preserve-fds: fd \d+ \(of 1000\) is not open/);

      // LISTEN_PID names the process that receives the fds: the CLI spawned by spawnSync, so use a shell.
      const bundle = h.bundle((s) => { s.process!.args = ['sh', '-c', `echo "$LISTEN_FDS $LISTEN_PID"; ${listing}`]; });
      const r = withFds(['run', '--bundle', bundle, '--preserve-fds', '1', h.id()], [a, b]);
      expect(r.stdout.split('\n')[0]).toBe(' ');  // no LISTEN_PID of ours: no socket activation
      const sh = spawnSync('/bin/sh', ['-c', `LISTEN_FDS=1 LISTEN_PID=$$ exec "$@"`, 'sh', OCIRUN, '--root', h.root,
        'run', '--bundle', bundle, '--preserve-fds', '1', h.id()], { stdio: ['ignore', 'pipe', 'pipe', a, b], encoding: 'utf8' });
      expect(sh.stderr).toBe('');
      const lines = sh.stdout.trim().split('\n');
      expect(lines[0]).toBe('1 1');
      expect(lines.slice(1).map((l) => l.split(' ')[0])).toEqual(['0', '1', '2', '3', '4', '5']);
      expect(lines.slice(4, 6).map((l) => l.split(' ')[1])).toEqual(['/etc/hostname', '/etc/passwd']);
    } finally {
      closeSync(a);
      closeSync(b);
    }
  });
});
