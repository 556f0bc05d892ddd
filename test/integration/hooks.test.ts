// Hooks as a user sees them: which run when, in which namespaces, with what
// state on stdin, and what a failing or hanging hook does to the lifecycle.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, isRoot, waitFor } from './harness.js';
import type { Hook, Spec } from '../../src/oci/types.js';

/** Appends "<name> <mnt ns> <pid ns>" to <dir>/order and saves its stdin as <dir>/<name>.json. */
const recorder = (name: string, dir: string): Hook => ({
  path: '/bin/sh',
  args: ['sh', '-c', `echo ${name} $(readlink /proc/self/ns/mnt) $(readlink /proc/self/ns/pid) >> ${dir}/order; cat > ${dir}/${name}.json`],
});

const sh = (script: string, extra: Partial<Hook> = {}): Hook => ({ path: '/bin/sh', args: ['sh', '-c', script], ...extra });

/** Alive, not a zombie waiting for this VM's slow pid 1 to reap it. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]);
  } catch {
    return false;
  }
}

/** Live processes whose argv contains arg (zombies have an empty cmdline). */
function processesWith(arg: string): string[] {
  return readdirSync('/proc').filter((n) => {
    if (!/^\d+$/.test(n)) return false;
    try {
      return readFileSync(`/proc/${n}/cmdline`, 'utf8').split('\0').includes(arg);
    } catch {
      return false;
    }
  });
}

// Through the daemon the front end starts the runtime's hooks; the Node CLI
// (OCIRUN_ENGINE=off) starts them itself: the same errors either way.
describe.runIf(isRoot).each(['engine', 'node'] as const)('hooks (%s)', (mode) => {
  let h: Harness;
  const run = (args: string[]) => h.run(args, mode === 'node' ? { env: { OCIRUN_ENGINE: 'off' } } : {});
  let rootfs: string;
  let naps = 0;
  beforeAll(async () => {
    h = await Harness.create();
    // The startContainer hooks need a mount point of their own in the image.
    rootfs = await h.privateRootfs();
  });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  /** A directory every hook may write to, also mounted at /hooks in the container. */
  function outDir(): string {
    const dir = mkdtempSync(join(h.work, 'hooks-'));
    chmodSync(dir, 0o777);
    return dir;
  }

  function bundle(dir: string, edit: (s: Spec) => void): string {
    return h.bundle((s) => {
      s.root = { path: rootfs, readonly: true };
      s.process!.args = ['true'];
      s.mounts!.push({ destination: '/hooks', type: 'bind', source: dir, options: ['rbind', 'rw'] });
      edit(s);
    });
  }

  const json = (dir: string, name: string) => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
  const order = (dir: string) => readFileSync(join(dir, 'order'), 'utf8').trim().split('\n').map((l) => l.split(' '));
  /** A sleep only this test runs, so we can look for survivors. */
  const nap = () => `1000.${process.pid}${++naps}`;

  it('runs all six in order, each in its namespaces with the state it is due', async () => {
    const dir = outDir();
    const id = h.id();
    const b = bundle(dir, (s) => {
      s.process!.args = ['sleep', '30'];
      s.annotations = { 'org.example.purpose': 'hooks' };
      s.hooks = {
        prestart: [recorder('prestart', dir)],
        createRuntime: [recorder('createRuntime', dir)],
        createContainer: [recorder('createContainer', dir)],
        startContainer: [recorder('startContainer', '/hooks')],
        poststart: [recorder('poststart', dir)],
        poststop: [recorder('poststop', dir)],
      };
    });
    expect(run(['create', '--bundle', b, id])).toMatchObject({ status: 0, stderr: '' });
    const pid = JSON.parse(run(['state', id]).stdout).pid as number;
    const host = [readlinkSync('/proc/self/ns/mnt'), readlinkSync('/proc/self/ns/pid')];
    const container = [readlinkSync(`/proc/${pid}/ns/mnt`), readlinkSync(`/proc/${pid}/ns/pid`)];
    expect(container[0]).not.toBe(host[0]);
    expect(order(dir)).toEqual([['prestart', ...host], ['createRuntime', ...host], ['createContainer', ...container]]);

    expect(run(['start', id])).toMatchObject({ status: 0, stderr: '' });
    expect(order(dir).slice(3)).toEqual([['startContainer', ...container], ['poststart', ...host]]);
    expect(run(['kill', id, 'KILL']).status).toBe(0);
    await waitFor(() => JSON.parse(run(['state', id]).stdout).status === 'stopped');
    expect(run(['delete', id])).toMatchObject({ status: 0, stderr: '' });
    expect(order(dir).map((l) => l[0])).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
    expect(order(dir)[5]).toEqual(['poststop', ...host]);

    // The pid is the init's as seen from where the hook runs: 1 inside the container's pid namespace.
    const base = { ociVersion: expect.any(String), id, bundle: b, annotations: { 'org.example.purpose': 'hooks' } };
    expect(json(dir, 'prestart')).toEqual({ ...base, status: 'creating', pid });
    expect(json(dir, 'createRuntime')).toEqual({ ...base, status: 'creating', pid });
    expect(json(dir, 'createContainer')).toEqual({ ...base, status: 'creating', pid: 1 });
    expect(json(dir, 'startContainer')).toEqual({ ...base, status: 'created', pid: 1 });
    expect(json(dir, 'poststart')).toEqual({ ...base, status: 'running', pid });
    expect(json(dir, 'poststop')).toEqual({ ...base, status: 'stopped' });
  });

  it('passes exactly the configured args and env', () => {
    const dir = outDir();
    const probe = (name: string, out: string): Hook => ({
      path: '/bin/sh',
      args: ['sh', '-c', `echo "$0|$1|$FOO|\${HOME-no home}" > ${out}/${name}`, 'zero', 'one'],
      env: ['FOO=bar baz'],
    });
    const r = run(['run', '--bundle', bundle(dir, (s) => {
      s.hooks = { prestart: [probe('prestart', dir)], createContainer: [probe('createContainer', dir)], startContainer: [probe('startContainer', '/hooks')] };
    }), h.id()]);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    for (const name of ['prestart', 'createContainer', 'startContainer']) {
      expect([name, readFileSync(join(dir, name), 'utf8')]).toEqual([name, 'zero|one|bar baz|no home\n']);
    }
  });

  it("resolves createContainer's path on the host and startContainer's in the container", () => {
    const dir = outDir();
    // A program only the host has.
    const hostOnly = join(dir, 'host-only');
    writeFileSync(hostOnly, `#!/bin/sh\ntouch ${dir}/ran\n`, { mode: 0o755 });
    const created = run(['run', '--bundle', bundle(dir, (s) => { s.hooks = { createContainer: [{ path: hostOnly }] }; }), h.id()]);
    expect(created).toMatchObject({ status: 0, stderr: '' });
    expect(existsSync(join(dir, 'ran'))).toBe(true);
    const started = run(['run', '--bundle', bundle(dir, (s) => { s.hooks = { startContainer: [{ path: hostOnly }] }; }), h.id()]);
    expect(started).toMatchObject({
      status: 1, stderr: `ocirun: startContainer hook #0 (${hostOnly}): exit status 127: exec ${hostOnly}: No such file or directory\n`,
    });
  });

  it('runs createContainer hooks as the root of a new user namespace', () => {
    const dir = outDir();
    const r = run(['run', '--bundle', bundle(dir, (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.mounts = s.mounts!.filter((m) => m.destination !== '/hooks');
      s.hooks = { createContainer: [sh(`id -u > ${dir}/uid`)] };
    }), h.id()]);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(readFileSync(join(dir, 'uid'), 'utf8')).toBe('0\n');
    expect(statSync(join(dir, 'uid')).uid).toBe(100000);
  });

  it.each(['prestart', 'createContainer'] as const)('kills a %s hook at its timeout; create fails and leaves nothing', async (kind) => {
    const dir = outDir();
    const sleep = nap();
    const id = h.id();
    // The shell's child too: the whole process group goes.
    const b = bundle(dir, (s) => { s.hooks = { [kind]: [sh(`sleep ${sleep}; true`, { timeout: 1 })], poststop: [recorder('poststop', dir)] }; });
    const r = run(['create', '--bundle', b, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`ocirun: ${kind} hook #0 (/bin/sh): timed out after 1s\n`);
    // Dying takes a moment after SIGKILL.
    await waitFor(() => processesWith(sleep).length === 0, 5000);
    expect(existsSync(join(h.root, id))).toBe(false);
    // Torn down as if deleted: poststop ran.
    expect(json(dir, 'poststop')).toMatchObject({ id, status: 'stopped' });
  });

  it('fails create on a failing prestart hook without running the next ones', () => {
    const dir = outDir();
    const b = bundle(dir, (s) => {
      s.hooks = { prestart: [sh('echo no network for you >&2; exit 2')], createRuntime: [recorder('createRuntime', dir)], createContainer: [recorder('createContainer', dir)] };
    });
    const r = run(['create', '--bundle', b, h.id()]);
    expect(r).toMatchObject({ status: 1, stderr: 'ocirun: prestart hook #0 (/bin/sh): exit status 2: no network for you\n' });
    expect(existsSync(join(dir, 'order'))).toBe(false);
  });

  it('fails create on a prestart hook that cannot be executed, and leaves nothing', () => {
    const id = h.id();
    const r = run(['create', '--bundle', bundle(outDir(), (s) => { s.hooks = { prestart: [{ path: '/no/such/hook' }] }; }), id]);
    expect(r).toMatchObject({ status: 1, stderr: 'ocirun: prestart hook #0 (/no/such/hook): cannot execute: ENOENT\n' });
    expect(existsSync(join(h.root, id))).toBe(false);
  });

  it('kills a poststart hook at its timeout, and the container with it', async () => {
    const dir = outDir();
    const sleep = nap();
    const id = h.id();
    expect(run(['create', '--bundle', bundle(dir, (s) => {
      s.process!.args = ['sleep', '30'];
      s.hooks = { poststart: [sh(`sleep ${sleep}; true`, { timeout: 1 })] };
    }), id]).status).toBe(0);
    const pid = JSON.parse(run(['state', id]).stdout).pid;
    expect(run(['start', id])).toMatchObject({ status: 1, stderr: 'ocirun: poststart hook #0 (/bin/sh): timed out after 1s\n' });
    await waitFor(() => processesWith(sleep).length === 0, 5000);
    expect(alive(pid)).toBe(false);
    expect(run(['delete', id]).status).toBe(0);
  });

  it('fails create on a failing createContainer hook, with its output', () => {
    const dir = outDir();
    const b = bundle(dir, (s) => { s.hooks = { prestart: [recorder('prestart', dir)], createContainer: [sh('echo oops; exit 3')] }; });
    const r = run(['create', '--bundle', b, h.id()]);
    expect(r).toMatchObject({ status: 1, stderr: 'ocirun: createContainer hook #0 (/bin/sh): exit status 3: oops\n' });
    expect(order(dir).map((l) => l[0])).toEqual(['prestart']);
  });

  it('fails start on a failing startContainer hook and stops the container', () => {
    const dir = outDir();
    const id = h.id();
    const b = bundle(dir, (s) => {
      s.process!.args = ['sh', '-c', 'echo ran > /hooks/ran'];
      s.hooks = { startContainer: [sh('echo not today; exit 4')] };
    });
    expect(run(['create', '--bundle', b, id]).status).toBe(0);
    const pid = JSON.parse(run(['state', id]).stdout).pid;
    expect(run(['start', id])).toMatchObject({ status: 1, stderr: 'ocirun: startContainer hook #0 (/bin/sh): exit status 4: not today\n' });
    expect(JSON.parse(run(['state', id]).stdout)).toMatchObject({ status: 'stopped', pid: 0 });
    expect(alive(pid)).toBe(false);
    expect(existsSync(join(dir, 'ran'))).toBe(false);
    expect(run(['delete', id])).toMatchObject({ status: 0, stderr: '' });
  });

  it('kills the container and fails start when a poststart hook fails', () => {
    const dir = outDir();
    const id = h.id();
    expect(run(['create', '--bundle', bundle(dir, (s) => {
      s.process!.args = ['sleep', '30'];
      s.hooks = { poststart: [{ path: '/bin/false' }] };
    }), id]).status).toBe(0);
    const pid = JSON.parse(run(['state', id]).stdout).pid;
    expect(run(['start', id])).toMatchObject({ status: 1, stderr: 'ocirun: poststart hook #0 (/bin/false): exit status 1\n' });
    expect(JSON.parse(run(['state', id]).stdout)).toMatchObject({ status: 'stopped', pid: 0 });
    expect(alive(pid)).toBe(false);
    expect(run(['delete', id]).status).toBe(0);
  });

  it('only warns when a poststop hook fails, runs the rest, and deletes', () => {
    const dir = outDir();
    const id = h.id();
    expect(run(['create', '--bundle', bundle(dir, (s) => {
      s.hooks = { poststop: [{ path: '/bin/false' }, recorder('poststop', dir)] };
    }), id]).status).toBe(0);
    const r = run(['delete', id]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/level=warning msg="poststop hook #0 \(\/bin\/false\): exit status 1"/);
    expect(json(dir, 'poststop')).toMatchObject({ id, status: 'stopped' });
    expect(existsSync(join(h.root, id))).toBe(false);
  });
});
