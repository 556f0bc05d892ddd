// Layers built to exhaust the unpacker: paths thousands of levels deep, long
// symlink chains, 100,000 entries in one directory, and inputs that are not
// files at all (FIFOs, devices, sockets). Each is refused with one line or
// unpacked; either way nothing is left beside the bundle, also when the
// unpack is stopped by SIGINT or SIGTERM. Time and memory: bench/unpack-bounds.mjs.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { blobFile, leftovers, makeTemp, removeTemp, tarArchive, writeLayout, type Entry, unpack } from './helpers.js';

const OCIRUN = fileURLToPath(new URL('../../bin/ocirun', import.meta.url));

let work: string;
let n = 0;
beforeAll(() => {
  work = makeTemp('bounds');
});
afterAll(() => removeTemp(work));
afterEach(() => {
  expect(leftovers(work)).toEqual([]);
});

function image(layers: Entry[][], compression: 'gzip' | 'none' = 'gzip'): string {
  const dir = join(work, `img${++n}`);
  writeLayout(dir, { layers: layers.map((l) => tarArchive(l)), compression });
  return dir;
}

async function attempt(img: string): Promise<{ bundle: string; error?: { code: string; message: string } }> {
  const bundle = join(work, `bundle${++n}`);
  try {
    await unpack(img, bundle);
    return { bundle };
  } catch (err) {
    const e = err as { code: string; message: string };
    expect(e.message).not.toContain('\n');
    expect(existsSync(bundle)).toBe(false);
    return { bundle, error: e };
  }
}

/** Depth of the chain of single subdirectories below `dir`, walked without recursion. */
function chainDepth(dir: string): number {
  let depth = 0;
  for (let d = dir; ; depth++) {
    const subs = readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory());
    if (subs.length === 0) return depth;
    d = join(d, subs[0].name);
  }
}

describe('deep paths', () => {
  it('refuses a path longer than Linux paths go, naming the entry, instead of overflowing the stack', async () => {
    const name = `${'a/'.repeat(3000)}f`;
    const r = await attempt(image([[{ name, data: 'x' }]]));
    expect(r.error?.code).toBe('ERR_UNSAFE_ENTRY');
    expect(r.error?.message).toContain('longer than Linux paths go (4095 bytes)');
    expect(r.error?.message).toMatch(/^layer 1\/1 \(sha256:[0-9a-f]{64}\): entry "a\/a\/a/);
  });

  it('refuses a deep path reached through a symlink to a deep directory', async () => {
    const deep = 'b/'.repeat(1000);
    const r = await attempt(image([[
      { name: `${deep}f`, data: 'x' },
      { name: 'l', type: 'symlink', linkname: `/${deep}` },
      { name: `l/${'c/'.repeat(1500)}g`, data: 'y' },
    ]]));
    expect(r.error?.code).toBe('ERR_UNSAFE_ENTRY');
    expect(r.error?.message).toContain('longer than Linux paths go');
  });

  it('unpacks 1900 levels, removes them again on a later failure, and hides them under an opaque whiteout', async () => {
    const deep = 'a/'.repeat(1900);
    const lower: Entry[] = [{ name: `${deep}f`, data: 'deep' }];
    const ok = await attempt(image([lower]));
    expect(ok.error).toBeUndefined();
    expect(chainDepth(join(ok.bundle, 'rootfs'))).toBe(1900);

    // The failure comes after the deep tree exists: its removal is what used to overflow.
    const bad = await attempt(image([lower, [{ name: 'x/../y', data: 'z' }]]));
    expect(bad.error?.code).toBe('ERR_UNSAFE_ENTRY');
    expect(bad.error?.message).toContain('".." component');

    const hidden = await attempt(image([lower, [{ name: 'a/', type: 'dir' }, { name: 'a/.wh..wh..opq', data: '' }, { name: 'a/kept', data: 'k' }]]));
    expect(hidden.error).toBeUndefined();
    expect(readdirSync(join(hidden.bundle, 'rootfs', 'a'))).toEqual(['kept']);

    const gone = await attempt(image([lower, [{ name: '.wh.a', data: '' }]]));
    expect(gone.error).toBeUndefined();
    expect(readdirSync(join(gone.bundle, 'rootfs'))).toEqual([]);
  });
});

describe('symlink chains', () => {
  const chain = (len: number, end: string): Entry[] => {
    const out: Entry[] = [{ name: 'end/', type: 'dir' }];
    for (let i = 0; i < len; i++) out.push({ name: `l${i}`, type: 'symlink', linkname: i === len - 1 ? end : `l${i + 1}` });
    return out;
  };

  it('refuses a write through 2,000 chained symlinks (more than 40 hops), in the same or a lower layer', async () => {
    const same = await attempt(image([[...chain(2000, 'end'), { name: 'l0/x', data: 'x' }]]));
    expect(same.error?.code).toBe('ERR_UNSAFE_ENTRY');
    expect(same.error?.message).toContain('too many levels of symbolic links');
    const lower = await attempt(image([chain(2000, 'end'), [{ name: 'l0/x', data: 'x' }]]));
    expect(lower.error?.message).toContain('too many levels of symbolic links');
  });

  it('refuses a hard link whose target goes through the chain', async () => {
    const r = await attempt(image([[...chain(100, 'end'), { name: 'end/f', data: 'f' }, { name: 'h', type: 'hardlink', linkname: 'l0/f' }]]));
    expect(r.error?.code).toBe('ERR_UNSAFE_ENTRY');
    expect(r.error?.message).toContain('too many levels of symbolic links');
  });

  it('follows a chain of 40 hops, the kernel\'s own limit, within the rootfs', async () => {
    const r = await attempt(image([[...chain(39, '/end'), { name: 'l0/x', data: 'x' }]]));
    expect(r.error).toBeUndefined();
    expect(readdirSync(join(r.bundle, 'rootfs', 'end'))).toEqual(['x']);
  });
});

/** 100,000 empty files in one directory (about 50 MB of tar headers). */
function wideLayer(): Entry[] {
  const entries: Entry[] = [{ name: 'd/', type: 'dir' }];
  for (let i = 0; i < 100_000; i++) entries.push({ name: `d/f${i}`, data: '' });
  return entries;
}

describe('wide directories', () => {
  let wide: string;
  beforeAll(() => {
    wide = image([wideLayer(), [{ name: 'd/', type: 'dir' }, { name: 'd/.wh..wh..opq', data: '' }, { name: 'd/only', data: '1' }]]);
  });

  it('unpacks 100,000 entries in one directory and hides them all under an opaque whiteout', async () => {
    const r = await attempt(wide);
    expect(r.error).toBeUndefined();
    expect(readdirSync(join(r.bundle, 'rootfs', 'd'))).toEqual(['only']);
  }, 120_000);

  it.each(['SIGINT', 'SIGTERM'] as const)('%s (sent twice) stops `ocirun unpack` mid-layer: one line, exit 130/143, nothing left', async (sig) => {
    const bundle = join(work, `sig-${sig}`);
    const child = spawn(OCIRUN, ['unpack', '--quiet', wide, bundle], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    // Wait until the layer is being written.
    const deadline = Date.now() + 60_000;
    const rootfsOf = (): string | undefined => leftovers(work).map((t) => join(work, t, 'rootfs', 'd')).find((p) => existsSync(p));
    while (!rootfsOf() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(rootfsOf(), 'the unpack never started writing').toBeDefined();
    child.kill(sig);
    await new Promise((r) => setTimeout(r, 5));
    child.kill(sig);
    const code = await exited;
    expect(code).not.toBe(0);
    expect(stderr.trim().split('\n')).toEqual(['ocirun: unpack interrupted']);
    expect(existsSync(bundle)).toBe(false);
    expect(leftovers(work)).toEqual([]);
  }, 120_000);
});

describe('inputs that are not files', () => {
  const servers: Server[] = [];
  afterAll(() => {
    for (const s of servers) s.close();
  });
  /**
   * A listening socket at `path`; it stays open (closing would unlink it) but
   * never answers. Bound at a short name and renamed: sun_path holds 108 bytes.
   */
  async function socketAt(path: string): Promise<void> {
    const s = createServer();
    servers.push(s);
    const short = join(work, `s${++n}`);
    await new Promise<void>((res) => s.listen(short, res));
    renameSync(short, path);
  }

  /** `ocirun unpack` must answer at once, with one line: never wait on what the path is. */
  function cli(img: string): { status: number | null; stderr: string } {
    const bundle = join(work, `nf${++n}`);
    const r = spawnSync(OCIRUN, ['unpack', '--quiet', img, bundle], { encoding: 'utf8', timeout: 20_000 });
    expect(r.signal, 'ocirun unpack hung').toBeNull();
    expect(existsSync(bundle)).toBe(false);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    return { status: r.status, stderr: r.stderr.trim() };
  }

  it('refuses a FIFO, a device and a socket as the image', async () => {
    const fifo = join(work, 'image.fifo');
    spawnSync('mkfifo', [fifo]);
    const sock = join(work, 'image.sock');
    await socketAt(sock);
    for (const p of [fifo, '/dev/zero', sock]) {
      const r = cli(p);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/^ocirun: image .* is neither a directory nor a file$/);
    }
  });

  it('refuses a FIFO, a device or a socket where index.json, oci-layout, a blob or a docker manifest.json should be', async () => {
    const cases: Array<[string, (dir: string) => string]> = [
      ['index.json', (d) => join(d, 'index.json')],
      ['oci-layout', (d) => join(d, 'oci-layout')],
      ['a blob', (d) => blobFile(d, readdirSync(join(d, 'blobs', 'sha256')).map((h) => `sha256:${h}`).find((x) => x !== '') as string)],
    ];
    for (const [what, pick] of cases) {
      for (const kind of ['fifo', 'device', 'socket'] as const) {
        const dir = image([[{ name: 'f', data: 'x' }]]);
        const target = pick(dir);
        rmSync(target);
        if (kind === 'fifo') spawnSync('mkfifo', [target]);
        else if (kind === 'device') symlinkSync('/dev/zero', target);
        else await socketAt(target);
        const r = cli(dir);
        expect(r.status, `${what} as a ${kind}`).not.toBe(0);
        expect(r.stderr, `${what} as a ${kind}`).toMatch(/is (a FIFO|a device|a socket), not a regular file$/);
      }
    }
  });

  it('refuses a FIFO as a docker-save directory\'s manifest.json', () => {
    const dir = join(work, `docker${++n}`);
    mkdirSync(dir);
    spawnSync('mkfifo', [join(dir, 'manifest.json')]);
    writeFileSync(join(dir, 'repositories'), '{}');
    const r = cli(dir);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/manifest\.json is a FIFO, not a regular file$/);
  });
});
