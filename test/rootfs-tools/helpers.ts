// Test helpers for rootfs-tools: a tar writer that can produce any header
// (hostile ones included), an OCI layout / docker-save writer, and a tree
// snapshot for comparing two rootfs directories.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { removeTree } from '../../rootfs-tools/src/safe-fs.js';
import { unpack as unpackWith, type UnpackOptions } from '../../rootfs-tools/src/unpack.js';
import { defaultSpec } from '../../src/config/default-spec.js';

/** unpack() on top of ocirun's default spec, as `ocirun unpack` runs it. */
export function unpack(image: string, bundle: string, opts: Partial<UnpackOptions> = {}): ReturnType<typeof unpackWith> {
  return unpackWith(image, bundle, { spec: defaultSpec(), ...opts });
}

export const isRoot = process.getuid?.() === 0;

export function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function makeTemp(tag: string): string {
  return mkdtempSync(join(tmpdir(), `ocirun-rt-${tag}-`));
}

/** Node's rmSync recurses per level and overflows on the deep trees the bounds tests unpack. */
export function removeTemp(dir: string): void {
  removeTree(dir);
}

/** Temp dirs an unpack may have left beside `bundle` (there must be none). */
export function leftovers(parent: string): string[] {
  return readdirSync(parent).filter((n) => n.includes('.unpack-'));
}

export interface Entry {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';
  data?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, string | Buffer>;
}

const TYPEFLAG = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' } as const;

function octal(b: Buffer, off: number, len: number, v: number): void {
  b.write(`${v.toString(8).padStart(len - 1, '0')}\0`, off, len, 'latin1');
}

function header(name: string, typeflag: string, size: number, e: Partial<Entry>, linkname = ''): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  octal(b, 100, 8, e.mode ?? (typeflag === '5' ? 0o755 : 0o644));
  octal(b, 108, 8, e.uid ?? 0);
  octal(b, 116, 8, e.gid ?? 0);
  octal(b, 124, 12, size);
  octal(b, 136, 12, e.mtime ?? 1_700_000_000);
  b.write('        ', 148, 8, 'latin1');
  b.write(typeflag, 156, 1, 'latin1');
  b.write(linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 6, 'latin1');
  b.write('00', 263, 2, 'latin1');
  octal(b, 329, 8, e.devmajor ?? 0);
  octal(b, 337, 8, e.devminor ?? 0);
  let sum = 0;
  for (const c of b) sum += c;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return b;
}

function pad(data: Buffer): Buffer {
  const rem = data.length % 512;
  return rem === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rem)]);
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** One entry (with a pax header when needed). */
export function tarEntry(e: Entry): Buffer {
  const type = e.type ?? 'file';
  const data = type === 'file' ? Buffer.from(e.data ?? '') : Buffer.alloc(0);
  const records: Buffer[] = [];
  if (Buffer.byteLength(e.name) > 99) records.push(paxRecord('path', Buffer.from(e.name)));
  if (e.linkname && Buffer.byteLength(e.linkname) > 99) records.push(paxRecord('linkpath', Buffer.from(e.linkname)));
  for (const [k, v] of Object.entries(e.xattrs ?? {})) records.push(paxRecord(`SCHILY.xattr.${k}`, Buffer.from(v)));
  const parts: Buffer[] = [];
  if (records.length > 0) {
    const pax = Buffer.concat(records);
    parts.push(header('PaxHeader', 'x', pax.length, {}), pad(pax));
  }
  parts.push(header(e.name.slice(0, 99), TYPEFLAG[type], data.length, e, (e.linkname ?? '').slice(0, 99)), pad(data));
  return Buffer.concat(parts);
}

export function tarArchive(entries: Entry[], opts: { trailer?: boolean } = {}): Buffer {
  return Buffer.concat([...entries.map(tarEntry), ...(opts.trailer === false ? [] : [Buffer.alloc(1024)])]);
}

export function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

export interface LayoutImage {
  layers: Buffer[];
  compression?: 'gzip' | 'none' | 'zstd';
  config?: Record<string, unknown>;
  ref?: string;
  platform?: { os: string; architecture: string; variant?: string };
}

export interface WrittenImage {
  manifest: string;
  config: string;
  layers: string[];
}

function putBlob(dir: string, data: Buffer): string {
  const hex = sha256(data);
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'blobs', 'sha256', hex), data);
  return `sha256:${hex}`;
}

export function compress(b: Buffer, how: 'gzip' | 'none' | 'zstd'): Buffer {
  if (how === 'gzip') return gzipSync(b);
  if (how === 'zstd') return execFileSync('zstd', ['-q', '-c'], { input: b, maxBuffer: 1 << 30 });
  return b;
}

const LAYER_MT = { gzip: 'application/vnd.oci.image.layer.v1.tar+gzip', none: 'application/vnd.oci.image.layer.v1.tar', zstd: 'application/vnd.oci.image.layer.v1.tar+zstd' };

/** Adds an image to an OCI layout in `dir` (created if needed), listed in index.json. */
export function writeLayout(dir: string, img: LayoutImage): WrittenImage {
  const how = img.compression ?? 'gzip';
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const layers = img.layers.map((l) => ({ mediaType: LAYER_MT[how], digest: '', size: 0, raw: compress(l, how) }));
  for (const l of layers) {
    l.digest = putBlob(dir, l.raw);
    l.size = l.raw.length;
  }
  const config = {
    architecture: 'amd64', os: 'linux', config: {},
    rootfs: { type: 'layers', diff_ids: img.layers.map((l) => `sha256:${sha256(l)}`) },
    ...img.config,
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = putBlob(dir, configBytes);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: configBytes.length },
    layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
  }));
  const manifestDigest = putBlob(dir, manifest);
  let index: { schemaVersion: number; manifests: unknown[] } = { schemaVersion: 2, manifests: [] };
  try {
    index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  } catch {
    // a new layout
  }
  index.manifests.push({
    mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length,
    ...(img.platform ? { platform: img.platform } : {}),
    ...(img.ref ? { annotations: { 'org.opencontainers.image.ref.name': img.ref } } : {}),
  });
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  return { manifest: manifestDigest, config: configDigest, layers: layers.map((l) => l.digest) };
}

export function blobFile(dir: string, digest: string): string {
  return join(dir, 'blobs', ...digest.split(':'));
}

/** A `docker save` archive (old format): <id>.json, <n>/layer.tar, manifest.json. */
export function writeDockerSave(file: string, layers: Buffer[], opts: { tags?: string[]; config?: Record<string, unknown> } = {}): void {
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${sha256(l)}`) },
    ...opts.config,
  }));
  const id = sha256(config);
  const entries: Entry[] = [{ name: `${id}.json`, data: config }];
  // Layer directories are named by (v1) ids, 64 hex digits, as docker names them.
  const ids = layers.map((l, i) => sha256(`${i}:${sha256(l)}`));
  layers.forEach((l, i) => {
    entries.push({ name: `${ids[i]}/`, type: 'dir' }, { name: `${ids[i]}/layer.tar`, data: l }, { name: `${ids[i]}/VERSION`, data: '1.0' });
  });
  entries.push({
    name: 'manifest.json',
    data: JSON.stringify([{ Config: `${id}.json`, RepoTags: opts.tags ?? ['test/image:latest'], Layers: ids.map((id) => `${id}/layer.tar`) }]),
  });
  writeFileSync(file, tarArchive(entries));
}

export interface Node {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  link?: string;
  sha?: string;
  rdev?: number;
  nlinkGroup?: string;
  xattrs?: string;
}

/** getfattr's octal escapes (\\012) back to bytes. */
function unquote(s: string): string {
  return Buffer.from(s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))), 'latin1').toString('utf8');
}

/** All xattrs under `root`, one getfattr run: absolute path → "name=0xhex ..." (sorted). */
function xattrsUnder(root: string): Map<string, string> {
  const r = spawnSync('getfattr', ['-R', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', root], { encoding: 'latin1', maxBuffer: 1 << 30 });
  const out = new Map<string, string>();
  let file = '';
  let attrs: string[] = [];
  const flush = (): void => {
    if (file !== '' && attrs.length > 0) out.set(file, attrs.sort().join(' '));
    attrs = [];
  };
  for (const line of (r.stdout ?? '').split('\n')) {
    if (line.startsWith('# file: ')) {
      flush();
      file = unquote(line.slice(8));
    } else if (line.includes('=')) attrs.push(line);
  }
  flush();
  return out;
}

/** Every path under `root` with type, mode, owner, link target, content hash, device number and xattrs. */
export function snapshot(root: string): Map<string, Node> {
  const out = new Map<string, Node>();
  const inodes = new Map<number, string>();
  const xattrs = xattrsUnder(root);
  const walk = (rel: string): void => {
    const p = rel === '' ? root : join(root, rel);
    const st = lstatSync(p);
    const n: Node = { type: '?', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    if (st.isDirectory()) n.type = 'dir';
    else if (st.isSymbolicLink()) {
      n.type = 'symlink';
      n.link = readlinkSync(p);
      n.mode = 0;
    } else if (st.isFile()) {
      n.type = 'file';
      n.sha = sha256(readFileSync(p));
      if (st.nlink > 1) {
        // Hard links: same group name for paths sharing an inode.
        if (!inodes.has(st.ino)) inodes.set(st.ino, rel);
        n.nlinkGroup = inodes.get(st.ino);
      }
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      n.type = st.isCharacterDevice() ? 'char' : 'block';
      n.rdev = st.rdev;
    } else if (st.isFIFO()) n.type = 'fifo';
    const x = xattrs.get(p);
    if (x) n.xattrs = x;
    out.set(rel === '' ? '.' : rel, n);
    if (st.isDirectory()) for (const c of readdirSync(p).sort()) walk(rel === '' ? c : `${rel}/${c}`);
  };
  walk('');
  return out;
}

/** A list of differences between two snapshots (empty when equal). */
export function diffSnapshots(a: Map<string, Node>, b: Map<string, Node>): string[] {
  const out: string[] = [];
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w) out.push(`only in first: ${k}`);
    else if (JSON.stringify(v) !== JSON.stringify(w)) out.push(`${k}: ${JSON.stringify(v)} != ${JSON.stringify(w)}`);
  }
  for (const k of b.keys()) if (!a.has(k)) out.push(`only in second: ${k}`);
  return out;
}

/** Content fingerprint of a directory tree, to prove nothing outside the rootfs changed. */
export function treeHash(dir: string): string {
  const h = createHash('sha256');
  for (const [k, v] of snapshot(dir)) {
    h.update(`${k}\0${JSON.stringify(v)}\0${lstatSync(join(dir, k)).mtimeMs}\n`);
  }
  for (const name of readdirSync(dir)) h.update(name);
  return h.digest('hex');
}
