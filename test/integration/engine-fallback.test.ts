// The native front end through the daemon against the fallback, a fresh
// Node process (OCIRUN_ENGINE=off, --no-engine, or no daemon to be had): the
// same command must print, fail and exit identically either way.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness, isRoot } from './harness.js';
import { daemonPids, ENGINE_DIR, stopDaemons } from '../support/engine.js';

const OFF = { OCIRUN_ENGINE: 'off' };

describe.runIf(isRoot)('engine fallback', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  const both = (args: string[]) => {
    const a = h.run(args);
    const b = h.run(args, { env: OFF });
    // created timestamps and pids are the container's, so equal output means equal behaviour.
    expect(a).toEqual(b);
    return a;
  };

  it('state, kill, start and delete behave identically through the daemon and in Node', () => {
    const id = h.id();
    const bundle = h.bundle((s) => { s.process!.args = ['sleep', '30']; });
    expect(h.run(['create', '--bundle', bundle, id]).status).toBe(0);
    // The call went to a daemon of this state root.
    expect(daemonPids(h.root)).toHaveLength(1);
    expect(both(['state', id])).toMatchObject({ status: 0, stdout: expect.stringContaining('"status": "created"') });
    expect(both(['state', 'nope'])).toMatchObject({ status: 1, stdout: '', stderr: 'ocirun: container "nope" does not exist\n' });
    expect(both(['kill', id, 'SIGNOPE'])).toMatchObject({ status: 1, stderr: 'ocirun: unknown signal "SIGNOPE"\n' });
    expect(both(['start', 'nope']).status).toBe(1);
    expect(both(['--version'])).toMatchObject({ status: 0, stdout: expect.stringMatching(/\d+\.\d+\.\d+/) });
    expect(both(['no-such-command']).status).toBe(1);
    // Stateful ones on twin containers: the same result for each.
    const twin = h.id();
    expect(h.run(['create', '--bundle', bundle, twin], { env: OFF }).status).toBe(0);
    expect(h.run(['start', id])).toEqual(h.run(['start', twin], { env: OFF }));
    expect(h.run(['kill', id, 'KILL'])).toEqual(h.run(['--no-engine', 'kill', twin, 'KILL']));
    const del = h.run(['delete', '--force', id]);
    expect(del).toEqual({ status: 0, signal: null, stdout: '', stderr: '' });
    expect(h.run(['delete', '--force', twin], { env: OFF })).toEqual(del);
    expect(both(['delete', id])).toMatchObject({ status: 1, stderr: `ocirun: container "${id}" does not exist\n` });
  });

  it('run and create behave identically, relative paths resolved against the caller\'s cwd', () => {
    const bundle = h.bundle((s) => { s.process!.args = ['sh', '-c', 'echo out; echo err >&2; exit 5']; });
    const engine = h.run(['run', '--bundle', bundle, h.id()]);
    expect(engine).toEqual({ status: 5, signal: null, stdout: 'out\n', stderr: 'err\n' });
    expect(h.run(['run', '--bundle', bundle, h.id()], { env: OFF })).toEqual(engine);
    // A bundle and pid file named relative to a cwd the daemon never had.
    const cwd = join(h.work, `cwd-${h.id()}`);
    mkdirSync(cwd);
    const id = h.id();
    expect(h.run(['create', '--bundle', join('..', bundle.slice(h.work.length + 1)), '--pid-file', 'init.pid', id], { cwd }).status).toBe(0);
    expect(h.run(['delete', '--force', id]).status).toBe(0);
    const missing = both(['create', '--bundle', '/no/such/bundle', h.id()]);
    expect(missing).toMatchObject({ status: 1, stderr: expect.stringMatching(/^ocirun: bundle \/no\/such\/bundle: no such file or directory\n$/) });
  });

  it('with no daemon to be had the call still runs, in Node', () => {
    stopDaemons(h.root);
    // A daemon cannot start: its directory is not private.
    const dir = join(h.root, ENGINE_DIR);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    try {
      expect(h.run(['list', '-q'])).toEqual({ status: 0, signal: null, stdout: '', stderr: '' });
      expect(daemonPids(h.root)).toEqual([]);
    } finally {
      chmodSync(dir, 0o700);
    }
    writeFileSync(join(dir, 'placeholder'), '');
  });
});
