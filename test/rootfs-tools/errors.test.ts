// Broken images: truncated, corrupt, missing and malformed blobs give one
// clear line naming the blob, BUNDLE_DIR is not created (or left as it was)
// and no temp dir is left behind.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as zlib from 'node:zlib';
import { blobFile, has, leftovers, makeTemp, removeTemp, sha256, tarArchive, writeLayout, type Entry, unpack } from './helpers.js';

const OCIRUN = fileURLToPath(new URL('../../bin/ocirun', import.meta.url));

let work: string;
let n = 0;
beforeAll(() => {
  work = makeTemp('errors');
});
afterAll(() => removeTemp(work));
afterEach(() => {
  expect(leftovers(work)).toEqual([]);
});

const LAYER1: Entry[] = [{ name: 'etc/', type: 'dir' }, { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' }];
const LAYER2: Entry[] = [{ name: 'big', data: Buffer.alloc(200_000, 7) }, { name: 'x', data: 'x' }];

function layout(opts: { compression?: 'gzip' | 'none' } = {}): { dir: string; manifest: string; config: string; layers: string[] } {
  const dir = join(work, `img${++n}`);
  return { dir, ...writeLayout(dir, { layers: [tarArchive(LAYER1), tarArchive(LAYER2)], ...opts }) };
}

/** Replaces a blob's bytes and re-points every descriptor so the digests match again: the damage is then in the content only. */
function replaceBlob(dir: string, oldDigest: string, bytes: Buffer): string {
  const newDigest = `sha256:${sha256(bytes)}`;
  writeFileSync(blobFile(dir, newDigest), bytes);
  rmSync(blobFile(dir, oldDigest));
  const fix = (file: string): void => {
    if (!existsSync(file)) return; // an earlier fix replaced it
    const text = readFileSync(file, 'utf8');
    const updated = text.split(oldDigest).join(newDigest).replace(
      new RegExp(`("digest":"${newDigest}","size":)\\d+`),
      `$1${bytes.length}`,
    );
    if (updated === text) return;
    const content = Buffer.from(updated);
    if (file.endsWith('index.json')) writeFileSync(file, content);
    else replaceBlob(dir, `sha256:${file.split('/').pop()}`, content);
  };
  for (const name of readdirSync(join(dir, 'blobs/sha256'))) {
    if (`sha256:${name}` !== newDigest) fix(join(dir, 'blobs/sha256', name));
  }
  fix(join(dir, 'index.json'));
  return newDigest;
}

async function failure(image: string, bundle = join(work, `bundle${n}`)): Promise<{ code: string; message: string }> {
  try {
    await unpack(image, bundle);
  } catch (err) {
    const e = err as { code: string; message: string };
    expect(e.message).not.toContain('\n');
    return e;
  }
  throw new Error('unpack should have failed');
}

describe('broken images', () => {
  it('truncated gzip layer (with matching digest): names the layer, no bundle', async () => {
    const img = layout();
    const bytes = readFileSync(blobFile(img.dir, img.layers[1]));
    const digest = replaceBlob(img.dir, img.layers[1], bytes.subarray(0, bytes.length - 40));
    const bundle = join(work, 'b-trunc');
    const e = await failure(img.dir, bundle);
    expect(e.code).toBe('ERR_INVALID_IMAGE');
    expect(e.message).toContain(`layer 2/2 (${digest})`);
    expect(e.message).toMatch(/gzip data is corrupt or truncated/);
    expect(existsSync(bundle)).toBe(false);
  });

  it('truncated uncompressed layer: "tar stream is truncated"', async () => {
    const img = layout({ compression: 'none' });
    const bytes = readFileSync(blobFile(img.dir, img.layers[1]));
    const digest = replaceBlob(img.dir, img.layers[1], bytes.subarray(0, 100_000));
    const e = await failure(img.dir);
    expect(e.message).toContain(digest);
    expect(e.message).toContain('tar stream is truncated');
  });

  it('corrupt layer blob: digest mismatch named', async () => {
    const img = layout();
    const file = blobFile(img.dir, img.layers[1]);
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(file, bytes);
    const e = await failure(img.dir);
    expect(e.code).toBe('ERR_INVALID_IMAGE');
    expect(e.message).toContain(`layer 2/2 (${img.layers[1]}): content does not match its digest`);
  });

  it('blob shorter than its descriptor: size mismatch named', async () => {
    const img = layout();
    const file = blobFile(img.dir, img.layers[0]);
    writeFileSync(file, readFileSync(file).subarray(0, 20));
    const e = await failure(img.dir);
    expect(e.message).toContain(img.layers[0]);
    expect(e.message).toMatch(/content does not match its digest|descriptor says/);
  });

  it('corrupt config blob', async () => {
    const img = layout();
    writeFileSync(blobFile(img.dir, img.config), '{"tampered":true}');
    const e = await failure(img.dir);
    expect(e.message).toContain(`image config ${img.config}`);
    expect(e.message).toMatch(/does not match its digest|descriptor says/);
  });

  it('missing layer blob', async () => {
    const img = layout();
    rmSync(blobFile(img.dir, img.layers[0]));
    const e = await failure(img.dir);
    expect(e.message).toBe(`layer 1/2 (${img.layers[0]}): blob is missing from ${img.dir} (no blobs/${img.layers[0].replace(':', '/')})`);
  });

  it('missing manifest blob', async () => {
    const img = layout();
    rmSync(blobFile(img.dir, img.manifest));
    const e = await failure(img.dir);
    expect(e.message).toContain(`manifest ${img.manifest}: missing`);
  });

  it('invalid JSON in a manifest (whose digest matches)', async () => {
    const img = layout();
    const digest = replaceBlob(img.dir, img.manifest, Buffer.from('{"schemaVersion": 2, "config": '));
    const e = await failure(img.dir);
    expect(e.code).toBe('ERR_INVALID_IMAGE');
    expect(e.message).toMatch(new RegExp(`^manifest ${digest}: invalid JSON`));
  });

  it('invalid index.json', async () => {
    const img = layout();
    writeFileSync(join(img.dir, 'index.json'), '{"manifests": [');
    const e = await failure(img.dir);
    expect(e.message).toMatch(/^index\.json: invalid JSON/);
  });

  it('a descriptor with a path-like digest is refused before any file is read', async () => {
    const img = layout();
    writeFileSync(join(img.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ digest: 'sha256:../../../etc/passwd', size: 1 }] }));
    const e = await failure(img.dir);
    expect(e.message).toContain('invalid or unsupported digest');
  });

  it('a layer that is not a tar archive', async () => {
    const img = layout();
    const digest = replaceBlob(img.dir, img.layers[1], Buffer.alloc(4096, 0x41));
    const e = await failure(img.dir);
    expect(e.message).toContain(digest);
    expect(e.message).toContain('invalid tar header at offset 0');
  });

  it('leaves an existing non-empty BUNDLE_DIR alone, and a failed unpack into an empty one keeps it empty', async () => {
    const img = layout();
    const bundle = join(work, 'b-exists');
    mkdirSync(bundle);
    writeFileSync(join(bundle, 'mine'), 'keep');
    const e = await failure(img.dir, bundle);
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(readdirSync(bundle)).toEqual(['mine']);

    const empty = join(work, 'b-empty');
    mkdirSync(empty);
    rmSync(blobFile(img.dir, img.layers[1]));
    await failure(img.dir, empty);
    expect(readdirSync(empty)).toEqual([]);
  });

  it('removes the parent directories it created when the unpack fails', async () => {
    const img = layout();
    rmSync(blobFile(img.dir, img.layers[1]));
    await failure(img.dir, join(work, 'new-parent', 'deeper', 'bundle'));
    expect(existsSync(join(work, 'new-parent'))).toBe(false);
  });

  it('a file that is no image at all', async () => {
    const file = join(work, 'not-an-image');
    writeFileSync(file, 'hello, world\n'.repeat(100));
    const e = await failure(file);
    expect(e.message).toBe(`${file}: not an OCI layout, docker save archive or (compressed) tar file`);
  });

  it.skipIf(!has('zstd'))('zstd layers without a zstd decoder: a clear "not supported"', () => {
    const dir = join(work, `img${++n}`);
    writeLayout(dir, { layers: [tarArchive(LAYER1)], compression: 'zstd' });
    const bundle = join(work, 'b-nozstd');
    // No PATH: Node 20 has no zstd in zlib, and the zstd command cannot be found.
    const r = spawnSync(OCIRUN, ['unpack', dir, bundle], { encoding: 'utf8', env: { PATH: '/nonexistent', OCIRUN_ENGINE: 'off' } });
    if (typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function') {
      expect(r.status).toBe(0);
      return;
    }
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^ocirun: layer 1\/1 \(sha256:[0-9a-f]{64}\): zstd layers not supported here: Node [\d.]+ has no zstd decoder and the zstd command is missing \(apt-get install zstd\)\n$/);
    expect(existsSync(bundle)).toBe(false);
  });

  it('ocirun unpack prints one line and exits non-zero', () => {
    const img = layout();
    rmSync(blobFile(img.dir, img.layers[0]));
    const bundle = join(work, 'b-cli');
    const r = spawnSync(OCIRUN, ['unpack', img.dir, bundle], { encoding: 'utf8', env: { ...process.env, OCIRUN_ENGINE: 'off' } });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`ocirun: layer 1/2 (${img.layers[0]}): blob is missing from ${img.dir} (no blobs/${img.layers[0].replace(':', '/')})\n`);
    expect(existsSync(bundle)).toBe(false);
  });
});
