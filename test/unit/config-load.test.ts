import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_CONFIG_BYTES, loadBundle } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

let dir: string;
beforeEach(() => { dir = realpathSync(mkdtempSync(join(tmpdir(), 'ocirun-load-'))); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

const config = (extra: Record<string, unknown> = {}): any => ({
  ociVersion: '1.2.0',
  root: { path: 'rootfs' },
  process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 } },
  linux: { namespaces: [{ type: 'mount' }] },
  ...extra,
});

function bundle(cfg: unknown = config(), opts: { rootfs?: boolean } = {}): string {
  if (opts.rootfs !== false) mkdirSync(join(dir, 'rootfs'), { recursive: true });
  writeFileSync(join(dir, 'config.json'), typeof cfg === 'string' ? cfg : JSON.stringify(cfg));
  return dir;
}

async function failure(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected loadBundle to fail');
}

describe('loadBundle', () => {
  it('loads a valid bundle and resolves a relative root.path against it', async () => {
    const b = bundle();
    const got = await loadBundle(b);
    expect(got.bundle).toBe(dir);
    expect(got.rootfs).toBe(join(dir, 'rootfs'));
    expect(got.spec.process?.args).toEqual(['sh']);
    expect(got.warnings).toEqual([]);
  });

  it('returns real paths for a bundle reached through a symlink or a relative path', async () => {
    bundle();
    const link = `${dir}-link`;
    symlinkSync(dir, link);
    try {
      expect((await loadBundle(link)).bundle).toBe(dir);
      expect((await loadBundle(relative(process.cwd(), dir))).bundle).toBe(dir);
    } finally {
      rmSync(link);
    }
  });

  it('accepts an absolute root.path outside the bundle', async () => {
    const other = mkdtempSync(join(tmpdir(), 'ocirun-rootfs-'));
    try {
      const got = await loadBundle(bundle(config({ root: { path: other } }), { rootfs: false }));
      expect(got.rootfs).toBe(realpathSync(other));
    } finally {
      rmSync(other, { recursive: true });
    }
  });

  it('names a missing bundle directory', async () => {
    const err = await failure(loadBundle(join(dir, 'nope')));
    expect(err.message).toBe(`bundle ${join(dir, 'nope')}: no such file or directory`);
  });

  it('names a missing config.json', async () => {
    const err = await failure(loadBundle(dir));
    expect(err.message).toBe(`${join(dir, 'config.json')}: no such file or directory`);
  });

  it('refuses a config.json that is not a regular file', async () => {
    mkdirSync(join(dir, 'config.json'));
    const err = await failure(loadBundle(dir));
    expect(err.message).toBe(`${join(dir, 'config.json')} is not a regular file`);
  });

  it('reports invalid JSON with the file and the position', async () => {
    bundle('{\n  "ociVersion": "1.2.0",\n  "root": }\n');
    const err = await failure(loadBundle(dir));
    expect(err.message).toBe(`${join(dir, 'config.json')}: invalid JSON at line 3, column 11 (offset 37): unexpected character '}'`);
  });

  it('reports truncated JSON', async () => {
    bundle('{"ociVersion": "1.2.0"');
    const err = await failure(loadBundle(dir));
    expect(err.message).toBe(`${join(dir, 'config.json')}: invalid JSON at line 1, column 23 (offset 22): unexpected end of input`);
  });

  it('refuses a 17 MiB config.json before reading it', async () => {
    const file = join(dir, 'config.json');
    writeFileSync(file, '');
    truncateSync(file, 17 * 1024 * 1024); // sparse: cheap to create, costly to parse
    const started = performance.now();
    const err = await failure(loadBundle(dir));
    expect(performance.now() - started).toBeLessThan(500);
    expect(err.message).toBe(`${file} is too large (${17 * 1024 * 1024} bytes, limit ${MAX_CONFIG_BYTES})`);
  });

  it('reports a missing rootfs at root.path', async () => {
    const err = await failure(loadBundle(bundle(config(), { rootfs: false })));
    expect(err.problems).toEqual([{ path: 'root.path', message: `"${join(dir, 'rootfs')}" does not exist` }]);
  });

  it('reports a rootfs that is not a directory', async () => {
    writeFileSync(join(dir, 'rootfs'), '');
    const err = await failure(loadBundle(bundle(config(), { rootfs: false })));
    expect(err.message).toBe(`root.path: "${join(dir, 'rootfs')}" is not a directory`);
  });

  it('refuses a root.path reached through a symlink, as runc does', async () => {
    mkdirSync(join(dir, 'real'));
    symlinkSync('real', join(dir, 'rootfs'));
    const err = await failure(loadBundle(bundle(config(), { rootfs: false })));
    expect(err.message).toBe(`root.path: "${join(dir, 'rootfs')}" goes through a symlink (to "${join(dir, 'real')}"); give the real path`);
    // A symlink on the way (a parent directory) counts too.
    mkdirSync(join(dir, 'real', 'fs'));
    const err2 = await failure(loadBundle(bundle(config({ root: { path: join(dir, 'rootfs', 'fs') } }), { rootfs: false })));
    expect(err2.problems).toEqual([{ path: 'root.path', message: `"${join(dir, 'rootfs', 'fs')}" goes through a symlink (to "${join(dir, 'real', 'fs')}"); give the real path` }]);
  });

  it('throws every validation problem at once', async () => {
    const cfg = config();
    cfg.process.args = [];
    cfg.linux.namespaces.push({ type: 'foo' });
    const err = await failure(loadBundle(bundle(cfg)));
    expect(err.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'process.args: must not be empty',
      'linux.namespaces[1].type: unknown namespace "foo"',
    ]);
    expect(err.message).toBe('process.args: must not be empty (and 1 more problem)');
  });

  it('requires a process by default', async () => {
    const cfg = config();
    delete cfg.process;
    expect((await failure(loadBundle(bundle(cfg)))).message).toBe('process: is required');
    expect((await loadBundle(dir, { requireProcess: false })).spec.process).toBeUndefined();
  });

  it('checks namespace paths and bind sources, relative sources against the bundle', async () => {
    mkdirSync(join(dir, 'data'));
    const cfg = config({
      mounts: [
        { destination: '/data', type: 'bind', source: 'data' },
        { destination: '/gone', type: 'none', source: 'gone', options: ['rbind'] },
        { destination: '/tmp', type: 'tmpfs', source: 'whatever' },
      ],
    });
    cfg.linux.namespaces.push({ type: 'network', path: join(dir, 'netns') });
    const err = await failure(loadBundle(bundle(cfg)));
    expect(err.problems).toEqual([
      { path: 'linux.namespaces[1].path', message: `"${join(dir, 'netns')}" does not exist` },
      { path: 'mounts[1].source', message: `"${join(dir, 'gone')}" does not exist` },
    ]);
  });

  it.skipIf(!existsSync('/proc/self/ns/uts'))("refuses to set the hostname in the runtime's own UTS namespace", async () => {
    const cfg = config({ hostname: 'oops' });
    cfg.linux.namespaces.push({ type: 'uts', path: '/proc/self/ns/uts' });
    const err = await failure(loadBundle(bundle(cfg)));
    expect(err.message).toBe("hostname: refusing to set hostname in the host's UTS namespace (/proc/self/ns/uts)");
  });

  it.skipIf(!existsSync('/proc/self/ns/net'))("refuses a net sysctl in the runtime's own network namespace", async () => {
    const cfg = config({});
    cfg.linux.namespaces.push({ type: 'network', path: '/proc/self/ns/net' });
    cfg.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
    const err = await failure(loadBundle(bundle(cfg)));
    expect(err.message).toBe(`linux.sysctl["net.ipv4.ip_forward"]: refusing to set a sysctl in the host's net namespace (/proc/self/ns/net)`);
  });

  it('returns warnings as one-line strings', async () => {
    const cfg = config();
    cfg.process.capabilities = { bounding: ['CAP_NOPE'] };
    expect((await loadBundle(bundle(cfg))).warnings).toEqual(['process.capabilities.bounding[0]: unknown capability "CAP_NOPE", ignored']);
  });

  it('leaves the bundle as it found it, even on failure', async () => {
    const cfg = config();
    cfg.linux.intelRdt = { closID: 'x' };
    bundle(cfg);
    const before = readdirSync(dir).sort();
    await failure(loadBundle(dir));
    expect(readdirSync(dir).sort()).toEqual(before);
  });
});
