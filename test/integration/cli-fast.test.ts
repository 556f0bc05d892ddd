// The CLI's fast path (src/cli/fast.ts) against the commander CLI: the same
// command must print, fail and exit identically whichever parses it. A `--`
// before the ID sends a command to commander (the fast path never takes it).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness, isRoot } from './harness.js';

describe.runIf(isRoot)('CLI fast path', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  const both = (fast: string[], slow: string[]) => {
    const a = h.run(fast);
    const b = h.run(slow);
    // created timestamps and pids are the container's, so equal output means equal behaviour.
    expect(a).toEqual(b);
    return a;
  };

  it('state, kill, start and delete behave identically on both paths', () => {
    const id = h.id();
    const bundle = h.bundle((s) => { s.process!.args = ['sleep', '30']; });
    expect(h.run(['create', '--bundle', bundle, id]).status).toBe(0);
    expect(both(['state', id], ['state', '--', id])).toMatchObject({ status: 0, stdout: expect.stringContaining('"status": "created"') });
    expect(both(['state', 'nope'], ['state', '--', 'nope'])).toMatchObject({ status: 1, stdout: '', stderr: 'ocirun: container "nope" does not exist\n' });
    expect(both(['kill', id, 'SIGNOPE'], ['kill', '--', id, 'SIGNOPE'])).toMatchObject({ status: 1, stderr: 'ocirun: unknown signal "SIGNOPE"\n' });
    expect(both(['start', 'nope'], ['start', '--', 'nope']).status).toBe(1);
    // Stateful ones on twin containers: the same result for each.
    const twin = h.id();
    expect(h.run(['create', '--bundle', bundle, twin]).status).toBe(0);
    expect(h.run(['start', id])).toEqual(h.run(['start', '--', twin]));
    expect(h.run(['kill', id, 'KILL'])).toEqual(h.run(['kill', '--', twin, 'KILL']));
    const del = h.run(['delete', '--force', id]);
    expect(del).toEqual({ status: 0, signal: null, stdout: '', stderr: '' });
    expect(h.run(['delete', '--force', '--', twin])).toEqual(del);
    expect(both(['delete', '-f', id], ['delete', '-f', '--', id])).toEqual({ status: 0, signal: null, stdout: '', stderr: '' });
    expect(both(['delete', id], ['delete', '--', id])).toMatchObject({ status: 1, stderr: `ocirun: container "${id}" does not exist\n` });
  });

  it('run and create behave identically on both paths', () => {
    const bundle = h.bundle((s) => { s.process!.args = ['sh', '-c', 'echo out; echo err >&2; exit 5']; });
    const fast = h.run(['run', '--bundle', bundle, h.id()]);
    const slow = h.run(['run', '--bundle', bundle, '--', h.id()]);
    expect(fast).toEqual({ status: 5, signal: null, stdout: 'out\n', stderr: 'err\n' });
    expect(slow).toEqual(fast);
    const missing = both(['create', '--bundle', '/no/such/bundle', h.id()], ['create', '--bundle', '/no/such/bundle', '--', h.id()]);
    expect(missing).toMatchObject({ status: 1, stderr: expect.stringMatching(/^ocirun: bundle \/no\/such\/bundle: no such file or directory\n$/) });
  });
});
