// Content-addressed reading: descriptors are checked, every blob is hashed
// while it is read and compared with its descriptor (digest and size), and
// JSON blobs are verified before they are parsed. Image sources (a directory
// or a tar archive, see archive.ts) only hand out bytes; they decide nothing.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync, readSync, statSync, constants as fsc } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UnpackError } from './errors.js';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
}

export interface Digest {
  algorithm: 'sha256' | 'sha512';
  hex: string;
}

const HEX_LEN = { sha256: 64, sha512: 128 } as const;

const INPUT_FLAGS = fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY;

function kindOf(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * Opens an input file of the image (the archive itself, index.json, a blob)
 * so that nothing it could be blocks us: O_NONBLOCK makes the open of a FIFO
 * with no writer (or of a device) return at once, and the fstat of what was
 * actually opened refuses all but a regular file. Reads of a regular file
 * ignore O_NONBLOCK.
 */
export function openRegular(path: string, what: string): number {
  let fd: number;
  try {
    fd = openSync(path, INPUT_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A socket cannot be open()ed at all.
    if (code === 'ENXIO') throw new UnpackError('ERR_INVALID_IMAGE', `${what} is a socket, not a regular file`);
    throw err;
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new UnpackError('ERR_INVALID_IMAGE', `${what} is ${kindOf(st)}, not a regular file`);
  }
  return fd;
}

/** Validates "alg:hex"; the hex part becomes a file name, so nothing else is allowed. */
export function parseDigest(value: unknown, what: string): Digest {
  const m = typeof value === 'string' ? /^(sha256|sha512):([a-f0-9]+)$/.exec(value) : null;
  if (!m || m[2].length !== HEX_LEN[m[1] as Digest['algorithm']]) {
    throw new UnpackError('ERR_INVALID_IMAGE', `${what}: invalid or unsupported digest ${JSON.stringify(value)}`);
  }
  return { algorithm: m[1] as Digest['algorithm'], hex: m[2] };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks the fields ocirun relies on; `what` names the referrer for messages. */
export function checkDescriptor(value: unknown, what: string): Descriptor {
  if (!isObject(value)) throw new UnpackError('ERR_INVALID_IMAGE', `${what}: descriptor is not an object`);
  parseDigest(value.digest, what);
  const size = value.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new UnpackError('ERR_INVALID_IMAGE', `${what}: descriptor ${String(value.digest)} has an invalid size`);
  }
  if (value.mediaType !== undefined && typeof value.mediaType !== 'string') {
    throw new UnpackError('ERR_INVALID_IMAGE', `${what}: descriptor ${String(value.digest)} has an invalid mediaType`);
  }
  return value as unknown as Descriptor;
}

/** Where an image's files come from. Paths are relative, '/'-separated, already checked. */
export interface ImageSource {
  /** For messages: the IMAGE argument. */
  readonly label: string;
  /** Size of a regular file, or undefined when there is none. */
  size(path: string): number | undefined;
  /** The first bytes of a file (for sniffing compression). */
  head(path: string, n: number): Buffer;
  stream(path: string): Readable;
  close(): void;
}

/** Refuses the names in manifest.json that could point outside the image. */
export function checkMemberPath(p: unknown, what: string): string {
  if (typeof p !== 'string' || p === '' || p.startsWith('/') || p.includes('\0')) {
    throw new UnpackError('ERR_INVALID_IMAGE', `${what}: invalid path ${JSON.stringify(p)}`);
  }
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..') || parts.length === 0) {
    throw new UnpackError('ERR_INVALID_IMAGE', `${what}: path ${JSON.stringify(p)} leaves the image`);
  }
  return parts.join('/');
}

export function blobPath(d: Digest): string {
  return `blobs/${d.algorithm}/${d.hex}`;
}

/** An image that is a directory (OCI layout, or an extracted docker save). */
export class DirSource implements ImageSource {
  constructor(readonly dir: string, readonly label: string) {}

  size(path: string): number | undefined {
    const st = statSync(join(this.dir, path), { throwIfNoEntry: false });
    if (st && !st.isFile()) throw new UnpackError('ERR_INVALID_IMAGE', `${this.label}: ${path} is ${kindOf(st)}, not a regular file`);
    return st?.size;
  }

  head(path: string, n: number): Buffer {
    const fd = openRegular(join(this.dir, path), `${this.label}: ${path}`);
    try {
      const b = Buffer.alloc(n);
      return b.subarray(0, readSync(fd, b, 0, n, 0));
    } finally {
      closeSync(fd);
    }
  }

  stream(path: string): Readable {
    // Opened here, synchronously: an error is the caller's to see now, not a stream event.
    return createReadStream('', { fd: openRegular(join(this.dir, path), `${this.label}: ${path}`), highWaterMark: 1024 * 1024 });
  }

  close(): void {}
}

/** A blob whose bytes do not match its descriptor (digest or size). */
export class VerificationError extends UnpackError {
  constructor(message: string) {
    super('ERR_INVALID_IMAGE', message);
  }
}

/**
 * Passes bytes through while hashing them; at the end the digest and size
 * must match the descriptor or the stream fails (so the consumer's result is
 * never used).
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash;
  private bytes = 0;

  constructor(
    private readonly digest: Digest,
    private readonly size: number | undefined,
    private readonly what: string,
    private readonly onBytes?: (n: number) => void,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.hash = createHash(digest.algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (this.size !== undefined && this.bytes > this.size) {
      cb(new VerificationError(`${this.what}: blob is larger than its descriptor's ${this.size} bytes`));
      return;
    }
    this.onBytes?.(chunk.length);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.size !== undefined && this.bytes !== this.size) {
      cb(new VerificationError(`${this.what}: blob has ${this.bytes} bytes, its descriptor says ${this.size} (truncated?)`));
      return;
    }
    const got = this.hash.digest('hex');
    if (got !== this.digest.hex) {
      cb(new VerificationError(`${this.what}: content does not match its digest (got ${this.digest.algorithm}:${got})`));
      return;
    }
    cb();
  }
}

/** Hashes a whole file of a source; used to name the real cause when a stream failed. */
export async function digestOf(source: ImageSource, path: string, algorithm: Digest['algorithm']): Promise<string> {
  const h = createHash(algorithm);
  for await (const chunk of source.stream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

const JSON_LIMIT = 16 * 1024 * 1024;

/** Reads, verifies and parses a JSON file; `digest` absent for index.json / manifest.json. */
export async function readJson(
  source: ImageSource,
  path: string,
  what: string,
  expect?: { digest: Digest; size?: number },
): Promise<unknown> {
  const size = source.size(path);
  if (size === undefined) throw new UnpackError('ERR_INVALID_IMAGE', `${what}: missing from ${source.label} (no ${path})`);
  if (size > JSON_LIMIT) throw new UnpackError('ERR_INVALID_IMAGE', `${what}: ${size} bytes is too large for a JSON document`);
  const chunks: Buffer[] = [];
  const collect = async (src: AsyncIterable<Buffer>): Promise<void> => {
    for await (const c of src) chunks.push(c);
  };
  if (expect) await pipeline(source.stream(path), new VerifyingStream(expect.digest, expect.size, what), collect);
  else await pipeline(source.stream(path), collect);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new UnpackError('ERR_INVALID_IMAGE', `${what}: invalid JSON (${(err as Error).message})`);
  }
}

/** readJson for a descriptor's blob. */
export function readJsonBlob(source: ImageSource, desc: Descriptor, what: string): Promise<unknown> {
  const digest = parseDigest(desc.digest, what);
  return readJson(source, blobPath(digest), `${what} ${desc.digest}`, { digest, size: desc.size });
}
