// Bad input gets one clear line, exit 1, and leaves nothing behind: no state
// dir, no process, no host mount (root only).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, isRoot } from './harness.js';
import { daemonPids, ENGINE_DIR } from '../support/engine.js';
import type { Spec } from '../../src/oci/types.js';

describe.runIf(isRoot)('refusals leave the host unchanged', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  function expectOneLineFailure(args: string[], pattern: RegExp): void {
    for (const cmd of [['create', ...args], ['run', ...args]]) {
      const r = h.run(cmd);
      expect(r.status, `${cmd.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(/^ocirun: [^\n]+\n$/);
      expect(r.stderr).toMatch(pattern);
      expect(r.stdout).toBe('');
      expect(h.stateDirs()).toEqual([]);
    }
  }

  it.each([
    ['', /must not be empty/],
    ['..', /invalid container id/],
    ['a/b', /invalid container id/],
    ['x'.repeat(300), /longer than 255/],
  ])('refuses the ID %j before touching anything', (id, msg) => {
    expectOneLineFailure(['--bundle', h.bundle(), id], msg);
    // Nothing but the engine daemon's own directory (its socket and log), never container state.
    expect(existsSync(h.root) ? readdirSync(h.root) : []).toEqual(daemonPids(h.root).length ? [ENGINE_DIR] : []);
  });

  const configCases: Array<[string, (s: Spec) => void, RegExp]> = [
    ['an unknown namespace', (s) => { s.linux!.namespaces!.push({ type: 'foo' as never }); }, /linux\.namespaces\[\d\]\.type: unknown namespace "foo"/],
    ['a duplicate namespace', (s) => { s.linux!.namespaces!.push({ type: 'pid' }); }, /linux\.namespaces\[\d\]/],
    ['a relative namespace path', (s) => { s.linux!.namespaces![0].path = 'proc/1/ns/pid'; }, /linux\.namespaces\[0\]\.path/],
    ['empty args', (s) => { s.process!.args = []; }, /process\.args/],
    ['a relative cwd', (s) => { s.process!.cwd = 'tmp'; }, /process\.cwd/],
    ['an unsupported field', (s) => { s.linux!.intelRdt = { closID: 'guaranteed' }; }, /linux\.intelRdt: not supported yet/],
  ];
  it.each(configCases)('refuses a config with %s', (_, edit, msg) => {
    expectOneLineFailure(['--bundle', h.bundle(edit), h.id()], msg);
  });

  it('refuses invalid JSON naming the file', () => {
    const dir = join(h.work, 'badjson');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), '{"ociVersion": "1.0.2",');
    expectOneLineFailure(['--bundle', dir, h.id()], /config\.json/);
  });

  it('refuses a missing bundle', () => {
    expectOneLineFailure(['--bundle', join(h.work, 'nope'), h.id()], /bundle .*nope/);
  });

  it('fails cleanly when the program does not exist in the container', () => {
    expectOneLineFailure(['--bundle', h.bundle((s) => { s.process!.args = ['no-such-program']; }), h.id()],
      /exec: "no-such-program": executable file not found in \$PATH/);
  });

  it('fails cleanly when a bind source does not exist', () => {
    const missing = join(h.work, 'missing-src');
    expectOneLineFailure(['--bundle', h.bundle((s) => { s.mounts!.push({ destination: '/m', type: 'bind', source: missing, options: ['rbind'] }); }), h.id()],
      /missing-src|\/m/);
  });

  it('fails cleanly when a namespace path is not a namespace', () => {
    const notNs = join(h.work, 'not-a-ns');
    writeFileSync(notNs, '');
    expectOneLineFailure(['--bundle', h.bundle((s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: notNs } : n));
    }), h.id()], /network|not-a-ns/);
  });

  it('refuses unknown commands and flags with exit 1', () => {
    expect(h.run(['frobnicate']).status).toBe(1);
    expect(h.run(['create', '--bogus', 'x']).status).toBe(1);
    expect(h.run(['list', '--format', 'yaml'])).toMatchObject({ status: 1, stderr: expect.stringMatching(/invalid format "yaml"/) });
  });
});

describe.runIf(isRoot)('spec and features', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterAll(() => h?.destroy());

  it('spec writes a config that runs, and refuses to overwrite it', () => {
    const dir = join(h.work, 'specdir');
    mkdirSync(dir);
    expect(h.run(['spec', '--bundle', dir]).status).toBe(0);
    const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(spec).toMatchObject({ ociVersion: expect.any(String), root: { path: 'rootfs' }, process: { args: ['sh'] } });
    expect(h.run(['spec', '--bundle', dir])).toMatchObject({ status: 1, stderr: expect.stringMatching(/already exists/) });
  });

  it('features lists what is implemented', () => {
    const f = JSON.parse(h.run(['features']).stdout);
    expect(f.ociVersionMin).toBe('1.0.0');
    expect(f.linux.namespaces).toEqual(expect.arrayContaining(['pid', 'network', 'mount', 'user', 'time']));
    expect(f.mountOptions).toContain('rbind');
    expect(h.run(['--version']).stdout).toMatch(/\d+\.\d+\.\d+/);
  });
});
