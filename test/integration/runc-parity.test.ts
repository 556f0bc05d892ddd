// Small behaviours checked against runc 1.1.5 on this host, side by side:
// loopback up in a new network namespace (and a joined one left alone),
// /dev/core, a rootfs reached through a symlink, `exec --cap` for a
// capability the caller does not hold, and a SIGTERM/SIGINT to `run` while
// the container is still being created. Each leaves nothing behind.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness, isRoot, OCIRUN, RUNC, waitFor } from './harness.js';

const RUNTIMES = ['ocirun', 'runc'] as const;
const sh = (script: string): string[] => ['sh', '-c', script];

describe.runIf(isRoot && RUNC)('runc parity', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
    expect(h.leakedCgroups()).toEqual([]);
  });
  afterAll(() => h?.destroy());

  it.each(RUNTIMES)('%s: a new network namespace has lo up; 127.0.0.1 answers', (rt) => {
    const b = h.bundle((s) => {
      s.process!.args = sh('cat /sys/class/net/lo/flags; ping -c1 -W2 127.0.0.1 >/dev/null && echo ping-ok');
      // busybox ping opens a raw socket.
      for (const set of ['bounding', 'effective', 'permitted'] as const) s.process!.capabilities![set]!.push('CAP_NET_RAW');
    });
    const r = h.runWith(rt, ['run', '--bundle', b, h.id()]);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    // IFF_UP | IFF_LOOPBACK
    expect(r.stdout).toBe('0x9\nping-ok\n');
  });

  it.each(RUNTIMES)('%s: a network namespace joined by path is left as it is (lo down)', (rt) => {
    const holder = spawn('unshare', ['--net', 'sleep', '60'], { stdio: 'ignore' });
    try {
      const nsOf = (pid: number): string => spawnSync('readlink', [`/proc/${pid}/ns/net`], { encoding: 'utf8' }).stdout;
      waitForSync(() => nsOf(holder.pid!) !== nsOf(process.pid));
      const b = h.bundle((s) => {
        s.process!.args = sh('cat /sys/class/net/lo/flags');
        s.linux!.namespaces = s.linux!.namespaces!.map((ns) => (ns.type === 'network' ? { type: 'network', path: `/proc/${holder.pid}/ns/net` } : ns));
      });
      const r = h.runWith(rt, ['run', '--bundle', b, h.id()]);
      expect(r).toMatchObject({ status: 0, stderr: '' });
      expect(r.stdout).toBe('0x8\n');
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('/dev/core links to /proc/kcore exactly where the host has one, as with runc', () => {
    const b = h.bundle((s) => { s.process!.args = sh('readlink /dev/core || echo none'); });
    const [o, r] = RUNTIMES.map((rt) => h.runWith(rt, ['run', '--bundle', b, h.id()]));
    expect(o.status).toBe(0);
    expect(o.stdout).toBe(r.stdout);
    expect(o.stdout).toBe(existsSync('/proc/kcore') ? '/proc/kcore\n' : 'none\n');
  });

  it('a root.path through a symlink is refused in one line, as runc does', () => {
    const dir = join(h.work, `linked-${process.pid}`);
    mkdirSync(dir);
    symlinkSync(h.rootfs, join(dir, 'rootfs'));
    const b = h.bundle((s) => { s.root = { path: join(dir, 'rootfs') }; });
    const o = h.run(['run', '--bundle', b, h.id()]);
    expect(o.status).toBe(1);
    expect(o.stderr.trim().split('\n')).toHaveLength(1);
    expect(o.stderr).toContain(`root.path: "${join(dir, 'rootfs')}" goes through a symlink (to "${h.rootfs}")`);
    const r = h.runWith('runc', ['run', '--bundle', b, h.id()]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('invalid rootfs: not an absolute path, or a symlink');
  });

  // CAP_SYS_MODULE taken from the caller's bounding set: the capability the runtime does not hold.
  const lacking = (runtime: string, args: string[]) =>
    spawnSync('setpriv', ['--bounding-set', '-sys_module', runtime, ...args], { encoding: 'utf8', timeout: 30_000 });
  const SYS_MODULE = 1n << 16n;

  it('exec --cap for a capability the runtime does not hold: ocirun warns once and drops it, runc fails', () => {
    const id = h.id();
    const b = h.bundle((s) => { s.process!.args = ['sleep', '60']; });
    expect(h.run(['run', '-d', '--bundle', b, id]).status).toBe(0);
    const o = lacking(OCIRUN, ['--root', h.root, 'exec', '--cap', 'CAP_SYS_MODULE', '--cap', 'CAP_NET_RAW', id, 'grep', 'CapEff', '/proc/self/status']);
    expect(o.status).toBe(0);
    const warnings = o.stderr.trim().split('\n');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('process.capabilities: CAP_SYS_MODULE not held by the runtime: dropped from every set');
    const eff = BigInt(`0x${o.stdout.split(':')[1].trim()}`);
    expect(eff & SYS_MODULE).toBe(0n);
    expect(eff & (1n << 13n)).not.toBe(0n); // CAP_NET_RAW, which was held, is there
    // Nothing asked for that is missing: nothing said.
    expect(lacking(OCIRUN, ['--root', h.root, 'exec', id, 'true'])).toMatchObject({ status: 0, stderr: '' });
    expect(h.run(['delete', '-f', id]).status).toBe(0);

    const rid = h.id();
    expect(h.runWith('runc', ['run', '-d', '--bundle', b, rid]).status).toBe(0);
    const r = lacking(RUNC!, ['--root', `${h.root}-runc`, 'exec', '--cap', 'CAP_SYS_MODULE', rid, 'true']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('unable to apply caps: operation not permitted');
    expect(h.runWith('runc', ['delete', '-f', rid]).status).toBe(0);
  });

  describe('a signal to run before the container exists', () => {
    /** A bundle whose createRuntime hook records its pid, then sleeps for `secs`. */
    const hooked = (marker: string, secs: number, args = ['true']): string => h.bundle((s) => {
      s.process!.args = args;
      s.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', `echo $$ > ${marker}; exec sleep ${secs}`] }] };
    });
    const started = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess & { out: string; err: string } => {
      const c = spawn(cmd, args, { cwd: h.work, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }) as ChildProcess & { out: string; err: string };
      c.out = '';
      c.err = '';
      c.stdout!.on('data', (d: Buffer) => { c.out += d.toString(); });
      c.stderr!.on('data', (d: Buffer) => { c.err += d.toString(); });
      return c;
    };
    const exited = (c: ChildProcess): Promise<number | null> => new Promise((r) => c.once('exit', (code) => r(code)));
    const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'latin1').includes(') Z ');

    it.each([
      ['SIGTERM', [], 'on', 143], ['SIGINT', ['-d'], 'on', 130], ['SIGTERM', ['-d'], 'off', 143], ['SIGINT', [], 'off', 130],
    ] as const)('ocirun: %s (run %j, engine %s) aborts it: exit %i, hook killed, nothing left', async (sig, flags, engine, code) => {
      const marker = join(h.work, `hook-${h.id()}`);
      const c = started(OCIRUN, ['--root', h.root, 'run', ...flags, '--bundle', hooked(marker, 30), h.id()], { OCIRUN_ENGINE: engine });
      await waitFor(() => existsSync(marker) && readFileSync(marker, 'utf8').endsWith('\n'));
      const hook = Number(readFileSync(marker, 'utf8'));
      const t0 = Date.now();
      c.kill(sig);
      expect(await exited(c)).toBe(code);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(c.err.trim()).toMatch(new RegExp(`^[^\\n]*interrupted by ${sig} before the container was created[^\\n]*$`));
      expect(alive(hook)).toBe(false);
      // afterEach: no state dir, helper, container process, mount or cgroup.
    });

    it('runc: holds the signal until the container exists (the hook runs its course)', async () => {
      const marker = join(h.work, `hook-${h.id()}`);
      const c = started(RUNC!, ['--root', `${h.root}-runc`, 'run', '--bundle', hooked(marker, 2, ['echo', 'ran']), h.id()]);
      await waitFor(() => existsSync(marker) && readFileSync(marker, 'utf8').endsWith('\n'));
      const t0 = Date.now();
      c.kill('SIGTERM');
      await exited(c);
      // It then goes to the container's init: ignored by a pid 1 without a
      // handler (exit 0), or ending runc's own init before its execve (Go's exit 2).
      expect(Date.now() - t0).toBeGreaterThan(1500);
      expect([0, 2]).toContain(c.exitCode);
    });
  });
});

function waitForSync(cond: () => boolean, ms = 5000): void {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    spawnSync('sleep', ['0.05']);
  }
}
