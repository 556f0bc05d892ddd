// The runtime's hooks (prestart, createRuntime, poststart, poststop) run in
// the world of the process that called the runtime, as runc's do: children
// of the call, in its cgroup, session and terminal, rlimits, umask and
// credentials. Through the front end that is not the daemon's world, so each
// call here runs from a caller that differs from the daemon in each of these,
// and ocirun through the daemon, ocirun in Node (OCIRUN_ENGINE=off) and runc
// must report the same.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Harness, isRoot, OCIRUN, RUNC, waitFor } from './harness.js';
import { daemonPids } from '../support/engine.js';
import type { Hook } from '../../src/oci/types.js';

const KINDS = ['prestart', 'createRuntime', 'poststart', 'poststop'] as const;
type Mode = 'engine' | 'node' | 'runc';

/** What a hook sees of its world, one key=value a line. $$ is the hook itself; /proc/$$/stat fields 6 and 7 its session and terminal. */
const probe = (out: string): Hook => ({
  path: '/bin/sh',
  args: ['sh', '-c', [
    `exec > ${out}`,
    'echo ppid=$PPID',
    "echo sid=$(cut -d' ' -f6 /proc/$$/stat)",
    "echo tty=$(cut -d' ' -f7 /proc/$$/stat)",
    'echo nofile=$(ulimit -n)',
    'echo core=$(ulimit -c)',
    'echo umask=$(umask)',
    "echo cgroup=$(sort /proc/$$/cgroup | tr '\\n' ' ')",
    'echo groups=$(id -G)',
    'echo $(grep CapBnd /proc/$$/status)',
  ].join('; ')],
});

function record(file: string): Record<string, string> {
  return Object.fromEntries(readFileSync(file, 'utf8').trim().split('\n').map((l) => {
    const at = l.search(/[=:]/);
    return [l.slice(0, at), l.slice(at + 1).trim()];
  }));
}

describe.runIf(isRoot && RUNC)("hooks run in the caller's world", () => {
  let h: Harness;
  /** The caller's cgroups, ours to make: v1 pids and the hybrid host's unified tree (or a pure v2 host's). */
  let cgroups: string[] = [];
  const cgName = `ocirun-hook-caller-${process.pid}`;

  beforeAll(async () => {
    h = await Harness.create();
    const roots = ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/unified'].filter((d) => existsSync(join(d, 'cgroup.procs')));
    cgroups = (roots.length ? roots : ['/sys/fs/cgroup']).map((d) => join(d, cgName));
    for (const d of cgroups) mkdirSync(d);
  });
  /** One bundle for all three runtimes; each hook writes <kind>.hook, read right after the call that ran it. */
  const shared = { dir: '', bundle: '' };
  beforeAll(() => {
    shared.dir = mkdtempSync(join(h.work, 'caller-'));
    chmodSync(shared.dir, 0o777);
    shared.bundle = h.bundle((s) => {
      s.process!.args = ['true'];
      s.hooks = Object.fromEntries(KINDS.map((k) => [k, [probe(join(shared.dir, `${k}.hook`))]]));
    });
  });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(async () => {
    // The callers have exited; their cgroups go once the kernel has noticed.
    for (const d of cgroups) await waitFor(() => { try { rmdirSync(d); return true; } catch { return !existsSync(d); } }, 5000);
    h?.destroy();
  });

  /**
   * One call from a caller that is unlike the daemon: a session of its own
   * with a controlling terminal (script(1)'s pty), its cgroup, soft limits of 777 files and 4321 core blocks, umask 027, supplementary group 4242
   * and no CAP_SYS_BOOT in its bounding set. It writes its pid first: the
   * runtime is exec'd, so that is the runtime's pid.
   */
  function callerScript(mode: Mode, dir: string, step: string, args: string[]): string {
    const runtime = mode === 'runc' ? `${RUNC} --root ${h.root}-runc` : `${OCIRUN} --root ${h.root}`;
    return [
      `echo $$ > ${dir}/${mode}-${step}.caller`,
      `cut -d' ' -f7 /proc/$$/stat > ${dir}/${mode}-${step}.tty`,
      ...cgroups.map((d) => `echo $$ > ${d}/cgroup.procs`),
      'ulimit -S -n 777',
      'ulimit -S -c 4321',
      'umask 027',
      `exec setpriv --groups 4242 --bounding-set -sys_boot ${runtime} ${args.join(' ')} > ${dir}/${mode}-${step}.out 2>&1 < /dev/null`,
    ].join('; ');
  }

  function call(mode: Mode, dir: string, step: string, args: string[]) {
    const env = { ...process.env, ...(mode === 'node' ? { OCIRUN_ENGINE: 'off' } : {}) };
    const file = join(dir, `${mode}-${step}.sh`);
    writeFileSync(file, callerScript(mode, dir, step, args));
    // script(1) makes the shell a session leader on a new pty; its own status is the shell's (-e).
    const r = spawnSync('script', ['-qec', `exec sh ${file}`, '/dev/null'], { env, timeout: 30_000, stdio: 'ignore' });
    const read = (ext: string) => readFileSync(join(dir, `${mode}-${step}.${ext}`), 'utf8').trim();
    return { status: r.status, out: read('out'), caller: read('caller'), tty: read('tty') };
  }

  it.each(['engine', 'node', 'runc'] as const)('%s: children of the call, with its cgroup, session, limits, umask and credentials', (mode) => {
    const { dir, bundle } = shared;
    // The daemon is already there, started from this test's world, not the caller's.
    if (mode === 'engine') {
      expect(h.run(['list']).status).toBe(0);
      const [daemon] = daemonPids(h.root);
      expect(daemon).toBeGreaterThan(0);
      const cg = readFileSync(`/proc/${daemon}/cgroup`, 'utf8');
      expect(cg).not.toContain(cgName);
      expect(readFileSync(`/proc/${daemon}/limits`, 'utf8')).not.toMatch(/^Max open files\s+777\s/m);
    }
    const id = h.id('hc');
    // runc 1.1 runs poststart hooks at the end of create (libcontainer's
    // start()), not in start as the spec and ocirun do.
    const early = mode === 'runc';
    const steps: Array<[string, string[], readonly string[]]> = [
      ['create', ['create', '--bundle', bundle, id], early ? ['prestart', 'createRuntime', 'poststart'] : ['prestart', 'createRuntime']],
      ['start', ['start', id], early ? [] : ['poststart']],
      ['delete', ['delete', '--force', id], ['poststop']],
    ];
    const bounding = (pid: string) => /^CapBnd:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    const ours = bounding('self')!;
    // Node and Go (runc 1.1's go1.19) raise their own soft RLIMIT_NOFILE to
    // the hard limit at start-up, and their children inherit that: so only
    // the front end, which is the caller's process and raises nothing, passes
    // on the caller's 777 (docs/hooks.md).
    const hardNofile = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))![1];
    for (const [step, args, kinds] of steps) {
      for (const kind of kinds) rmSync(join(dir, `${kind}.hook`), { force: true });
      const r = call(mode, dir, step, args);
      expect(r, `${mode} ${step}`).toMatchObject({ status: 0, out: '' });
      expect(r.tty).not.toBe('0');
      for (const kind of kinds) {
        const seen = record(join(dir, `${kind}.hook`));
        expect({ kind, ...seen }, `${mode} ${kind}`).toMatchObject({
          kind,
          ppid: r.caller,
          sid: r.caller,
          tty: r.tty,
          nofile: mode === 'engine' ? '777' : hardNofile,
          core: '4321',
          umask: '0027',
          groups: expect.stringMatching(/(^| )4242( |$)/),
          cgroup: expect.stringContaining(`/${cgName}`),
        });
        // CAP_SYS_BOOT (22) gone from what the daemon and this test hold.
        expect(BigInt(`0x${seen.CapBnd}`)).toBe(BigInt(`0x${ours}`) & ~(1n << 22n));
      }
    }
  });

  // The front end waits at the createRuntime point for one (inside the
  // spawn), in its main loop for the other: either way the call fails and
  // the hook goes with the daemon.
  it.each(['prestart', 'poststop'] as const)('a daemon killed while a %s hook runs fails the call, and the hook goes too', async (kind) => {
    const dir = mkdtempSync(join(h.work, 'killed-'));
    chmodSync(dir, 0o777);
    const nap = `1000.${process.pid}${kind.length}`;
    const bundle = h.bundle((s) => {
      s.hooks = { [kind]: [{ path: '/bin/sh', args: ['sh', '-c', `echo $$ > ${dir}/hook; exec sleep ${nap}`] }] };
    });
    const id = h.id('hk');
    if (kind === 'poststop') expect(h.run(['create', '--bundle', bundle, id]).status).toBe(0);
    else expect(h.run(['list']).status).toBe(0);
    const [daemon] = daemonPids(h.root);
    const args = kind === 'poststop' ? ['delete', '--force', id] : ['create', '--bundle', bundle, id];
    const child = spawn(OCIRUN, ['--root', h.root, ...args], { cwd: h.work, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const ended = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(() => existsSync(join(dir, 'hook')) && readFileSync(join(dir, 'hook'), 'utf8').endsWith('\n'), 10_000);
    const hook = Number(readFileSync(join(dir, 'hook'), 'utf8'));
    // The hook is the front end's child, not the daemon's.
    expect(readFileSync(`/proc/${hook}/stat`, 'utf8').split(') ')[1].split(' ')[1]).toBe(String(child.pid));
    process.kill(daemon, 'SIGKILL');
    expect(await ended).toBe(1);
    expect(stderr).toMatch(/^ocirun: the ocirun daemon went away/);
    await waitFor(() => !existsSync(`/proc/${hook}`), 5000);
    // A create the daemon had claimed is a stopped container (delete --force
    // clears it: afterEach); a delete had removed it before poststop.
    const state = h.run(['state', id]);
    if (kind === 'poststop') expect(state.stderr).toMatch(/does not exist/);
    else if (state.status === 0) expect(JSON.parse(state.stdout).status).toBe('stopped');
  });
});
