// Hostile layers, written byte by byte by the tests' own tar writer: every
// attempt to write outside the rootfs is refused or confined to the rootfs,
// and a sentinel directory outside it (plus the host's /etc/passwd) stays
// exactly as it was.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { has, isRoot, leftovers, makeTemp, removeTemp, sha256, snapshot, tarArchive, treeHash, writeLayout, type Entry, unpack } from './helpers.js';

let work: string;
let sentinel: string;
let before: string;
const passwdBefore = sha256(readFileSync('/etc/passwd'));
let n = 0;

beforeAll(() => {
  work = makeTemp('hostile');
  sentinel = join(work, 'sentinel');
  mkdirSync(join(sentinel, 'sub'), { recursive: true });
  writeFileSync(join(sentinel, 'file'), 'precious\n');
  writeFileSync(join(sentinel, 'sub', 'inner'), 'also precious\n');
  before = treeHash(sentinel);
});
afterAll(() => removeTemp(work));

function image(layers: Entry[][], compression: 'gzip' | 'zstd' = 'gzip'): string {
  const dir = join(work, `img${++n}`);
  writeLayout(dir, { layers: layers.map((l) => tarArchive(l)), compression });
  return dir;
}

async function run(layers: Entry[][], compression: 'gzip' | 'zstd' = 'gzip'): Promise<{ bundle: string; rootfs: string; error?: { code: string; message: string } }> {
  const bundle = join(work, `bundle${n + 1}`);
  const img = image(layers, compression);
  try {
    await unpack(img, bundle);
    return { bundle, rootfs: join(bundle, 'rootfs') };
  } catch (err) {
    return { bundle, rootfs: join(bundle, 'rootfs'), error: err as { code: string; message: string } };
  }
}

function expectRefused(r: Awaited<ReturnType<typeof run>>, entry: string, code = 'ERR_UNSAFE_ENTRY'): void {
  expect(r.error, 'the unpack should have failed').toBeDefined();
  expect(r.error?.code).toBe(code);
  expect(r.error?.message).toContain(JSON.stringify(entry));
  expect(r.error?.message).toMatch(/^layer \d+\/\d+ \(sha256:[0-9a-f]{64}\): entry /);
  expect(existsSync(r.bundle)).toBe(false);
}

describe('hostile layers', () => {
  beforeEach(() => {
    expect(treeHash(sentinel)).toBe(before);
  });
  afterAll(() => {
    expect(treeHash(sentinel)).toBe(before);
    expect(sha256(readFileSync('/etc/passwd'))).toBe(passwdBefore);
    expect(leftovers(work)).toEqual([]);
  });

  it('confines absolute paths to the rootfs', async () => {
    const r = await run([[{ name: `${sentinel}/file`, data: 'pwned' }, { name: '/etc/passwd', data: 'root::0:0::/:/bin/sh\n' }]]);
    expect(r.error).toBeUndefined();
    expect(readFileSync(join(r.rootfs, sentinel, 'file'), 'utf8')).toBe('pwned');
    expect(readFileSync(join(r.rootfs, 'etc/passwd'), 'utf8')).toContain('root::0:0');
  });

  it.each(['../pwned', 'a/../../pwned', './../../pwned', '/../pwned', 'ok/..'])('refuses ".." in %s', async (name) => {
    expectRefused(await run([[{ name, data: 'pwned' }]]), name);
  });

  it.skipIf(!has('zstd'))('refuses ".." in a zstd layer too (the zstd process is stopped)', async () => {
    const big = Buffer.alloc(4 << 20, 1); // more than a pipe holds, so zstd is still running when the entry is refused
    expectRefused(await run([[{ name: '../pwned', data: 'x' }, { name: 'big', data: big }]], 'zstd'), '../pwned');
    const zstdChildren = (): string => spawnSync('pgrep', ['-x', '-P', String(process.pid), 'zstd'], { encoding: 'utf8' }).stdout.trim();
    for (let i = 0; i < 40 && zstdChildren() !== ''; i++) await new Promise((r) => setTimeout(r, 50));
    expect(zstdChildren()).toBe('');
  });

  it('refuses ".." in a pax path longer than a ustar name', async () => {
    const name = `${'a/'.repeat(60)}${'../'.repeat(70)}pwned`;
    expectRefused(await run([[{ name, data: 'pwned' }]]), name);
  });

  it('confines a write through a symlink planted earlier in the same layer', async () => {
    const r = await run([[
      { name: 'abs', type: 'symlink', linkname: sentinel },
      { name: 'abs/file', data: 'pwned' },
      { name: 'rel', type: 'symlink', linkname: `${'../'.repeat(20)}${sentinel}` },
      { name: 'rel/sub/inner', data: 'pwned' },
      { name: 'abs/newdir/', type: 'dir' },
      { name: 'abs/fifo', type: 'fifo' },
    ]]);
    expect(r.error).toBeUndefined();
    expect(readFileSync(join(r.rootfs, sentinel, 'file'), 'utf8')).toBe('pwned');
    expect(readFileSync(join(r.rootfs, sentinel, 'sub/inner'), 'utf8')).toBe('pwned');
    expect(lstatSync(join(r.rootfs, sentinel, 'newdir')).isDirectory()).toBe(true);
    expect(lstatSync(join(r.rootfs, sentinel, 'fifo')).isFIFO()).toBe(true);
    expect(readlinkSync(join(r.rootfs, 'abs'))).toBe(sentinel);
  });

  it('confines a write through a symlink planted by a lower layer', async () => {
    const r = await run([
      [{ name: 'evil', type: 'symlink', linkname: sentinel }, { name: 'loop', type: 'symlink', linkname: 'loop' }],
      [{ name: 'evil/file', data: 'pwned' }, { name: 'evil/sub/deeper/x', data: 'pwned' }],
    ]);
    expect(r.error).toBeUndefined();
    expect(readFileSync(join(r.rootfs, sentinel, 'file'), 'utf8')).toBe('pwned');
    expect(readFileSync(join(r.rootfs, sentinel, 'sub/deeper/x'), 'utf8')).toBe('pwned');
  });

  it('refuses a symlink loop instead of spinning', async () => {
    expectRefused(await run([[{ name: 'loop', type: 'symlink', linkname: 'loop' }, { name: 'loop/x', data: 'x' }]]), 'loop/x');
  });

  it('replaces a planted symlink at the final component instead of following it', async () => {
    const r = await run([
      [{ name: 'victim', type: 'symlink', linkname: `${sentinel}/file` }, { name: 'dirlink', type: 'symlink', linkname: `${sentinel}/sub` }],
      [{ name: 'victim', data: 'pwned', mode: 0o4755 }, { name: 'dirlink/', type: 'dir', mode: 0o777 }],
    ]);
    expect(r.error).toBeUndefined();
    expect(lstatSync(join(r.rootfs, 'victim')).isFile()).toBe(true);
    expect(readFileSync(join(r.rootfs, 'victim'), 'utf8')).toBe('pwned');
    expect(lstatSync(join(r.rootfs, 'dirlink')).isDirectory()).toBe(true);
  });

  it('resolves hard link targets inside the rootfs', async () => {
    expectRefused(await run([[{ name: 'pw', type: 'hardlink', linkname: '/etc/passwd' }]]), 'pw', 'ERR_INVALID_IMAGE');
    expectRefused(await run([[{ name: 'pw', type: 'hardlink', linkname: '../../../../etc/passwd' }]]), 'pw');
    expectRefused(
      await run([[{ name: 's', type: 'symlink', linkname: sentinel }, { name: 'h', type: 'hardlink', linkname: 's/file' }]]),
      'h',
      'ERR_INVALID_IMAGE',
    );
    // A hard link to a symlink that points out would be a second name for that symlink: refused.
    expectRefused(await run([[{ name: 'ln', type: 'symlink', linkname: '/etc/passwd' }, { name: 'h', type: 'hardlink', linkname: 'ln' }]]), 'h');
    expectRefused(await run([[{ name: 'd/', type: 'dir' }, { name: 'h', type: 'hardlink', linkname: 'd' }]]), 'h');
  });

  it('links hard links to files inside the rootfs, also through an in-root symlinked directory', async () => {
    const r = await run([[
      { name: 'real/', type: 'dir' },
      { name: 'real/f', data: 'content' },
      { name: 'alias', type: 'symlink', linkname: '/real' },
      { name: 'h', type: 'hardlink', linkname: 'alias/f' },
    ]]);
    expect(r.error).toBeUndefined();
    expect(lstatSync(join(r.rootfs, 'h')).ino).toBe(lstatSync(join(r.rootfs, 'real/f')).ino);
  });

  it.each(['.wh...', '.wh..', 'dir/.wh...'])('refuses the whiteout %s', async (name) => {
    expectRefused(await run([[{ name: 'dir/', type: 'dir' }], [{ name, data: '' }]]), name);
  });

  it('confines whiteouts and opaque markers under a symlinked directory', async () => {
    const r = await run([
      [{ name: 'evil', type: 'symlink', linkname: sentinel }, { name: 'up', type: 'symlink', linkname: '../../../..' }],
      [{ name: 'evil/.wh.file', data: '' }, { name: 'evil/sub/.wh..wh..opq', data: '' }, { name: `up${sentinel}/.wh.sub`, data: '' }],
    ]);
    expect(r.error).toBeUndefined();
    expect(lstatSync(join(r.rootfs, 'evil')).isSymbolicLink()).toBe(true);
    expect(existsSync(join(r.rootfs, sentinel))).toBe(false); // nothing was made at the in-root target
  });

  it('never sets xattrs through a directory replaced by a symlink later in the layer', async () => {
    const r = await run([[
      { name: 'x/', type: 'dir' },
      { name: 'x/file', data: 'mine', xattrs: { 'user.pwned': 'yes' } },
      { name: 'x', type: 'symlink', linkname: sentinel },
    ]]);
    expect(r.error).toBeUndefined();
    expect(readlinkSync(join(r.rootfs, 'x'))).toBe(sentinel);
  });

  it('applies the root entry to the rootfs directory, xattrs included, and drops xattrs of a replaced entry', async () => {
    const r = await run([[
      { name: './', type: 'dir', mode: 0o750, xattrs: { 'user.root': 'yes' } },
      { name: 'f', data: 'x', xattrs: { 'user.f': 'yes' } },
      { name: 'f', type: 'symlink', linkname: '/etc/passwd' },
    ]]);
    expect(r.error).toBeUndefined();
    expect(lstatSync(r.rootfs).mode & 0o7777).toBe(0o750);
    expect(snapshot(r.rootfs).get('.')?.xattrs).toBe('user.root=0x796573');
    expect(lstatSync(join(r.rootfs, 'f')).isSymbolicLink()).toBe(true);
  });

  it('refuses a non-directory entry for the root itself', async () => {
    expectRefused(await run([[{ name: './', type: 'symlink', linkname: sentinel }]]), './');
    expectRefused(await run([[{ name: '/', data: 'x' }]]), '/');
  });

  it.skipIf(!isRoot || !has('mknod'))('creates device nodes only inside the rootfs', async () => {
    const r = await run([[{ name: 'evil', type: 'symlink', linkname: sentinel }, { name: 'evil/null', type: 'char', devmajor: 1, devminor: 3 }]]);
    expect(r.error).toBeUndefined();
    expect(lstatSync(join(r.rootfs, sentinel, 'null')).isCharacterDevice()).toBe(true);
  });
});
