// A streaming tar reader that only parses: it reports entries and their data
// and never touches the filesystem, so where bytes land is decided elsewhere
// (safe-fs.ts). Understands ustar, GNU (long names, base-256 numbers) and pax
// (path, linkpath, size, ids, times, SCHILY.xattr.*, LIBARCHIVE.xattr.*).
// Synchronous on purpose: the caller writes each chunk with sync syscalls,
// which for many small files is much faster than a promise per operation.
import { Writable } from 'node:stream';
import { UnpackError } from './errors.js';

export type EntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  name: string;
  linkname: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch, possibly fractional (pax). */
  mtime: number;
  atime: number | undefined;
  devmajor: number;
  devminor: number;
  /** Raw values: xattrs are bytes, not text. */
  xattrs: Map<string, Buffer> | undefined;
  /** Offset of the entry's header in the uncompressed stream, for messages. */
  offset: number;
}

export interface EntrySink {
  write(data: Buffer): void;
  end(): void;
}

export const BLOCK = 512;
/** pax and GNU long-name records bigger than this are refused rather than buffered. */
const MAX_META = 16 * 1024 * 1024;

interface Extended {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  atime?: number;
  xattrs?: Map<string, Buffer>;
}

export type Decoded =
  | { kind: 'meta'; typeflag: string; size: number }
  | { kind: 'entry'; entry: TarEntry; dataSize: number }
  | { kind: 'end' };

function bad(offset: number, what: string): UnpackError {
  return new UnpackError('ERR_INVALID_IMAGE', `invalid tar header at offset ${offset}: ${what}`);
}

export function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i += 4) if (b.readUInt32LE(i) !== 0) return false;
  return true;
}

function cstring(b: Buffer, off: number, len: number): string {
  let end = off;
  const max = off + len;
  while (end < max && b[end] !== 0) end++;
  return b.toString('utf8', off, end);
}

function numeric(b: Buffer, off: number, len: number, at: number, field: string): number {
  if (b[off] & 0x80) {
    // GNU base-256: big-endian two's complement; 0x80 marks a positive number, 0xff a negative one.
    const negative = b[off] === 0xff;
    let v = negative ? 0 : b[off] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + (negative ? b[off + i] ^ 0xff : b[off + i]);
    if (!Number.isSafeInteger(v)) throw bad(at, `${field} too large`);
    return negative ? -(v + 1) : v;
  }
  let s = cstring(b, off, len).trim();
  const sp = s.indexOf(' ');
  if (sp >= 0) s = s.slice(0, sp);
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw bad(at, `${field} is not an octal number`);
  return parseInt(s, 8);
}

/** Everything but times: a negative size, id or mode is an error, not a value. */
function unsigned(b: Buffer, off: number, len: number, at: number, field: string): number {
  const v = numeric(b, off, len, at, field);
  if (v < 0) throw bad(at, `negative ${field}`);
  return v;
}

function checksumOk(b: Buffer, at: number): boolean {
  const want = numeric(b, 148, 8, at, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i];
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return want === unsigned || want === signed;
}

const TYPES: Record<string, EntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo',
};

/**
 * Turns header blocks into entries, carrying pax and GNU extended data from
 * the meta entries that precede a real one. Shared by the streaming reader
 * and the archive indexer (archive.ts).
 */
export class HeaderDecoder {
  private ext: Extended = {};
  private global: Extended = {};

  decode(block: Buffer, at: number): Decoded {
    if (isZeroBlock(block)) return { kind: 'end' };
    if (!checksumOk(block, at)) throw bad(at, 'checksum mismatch (not a tar archive, or corrupt)');
    const typeflag = String.fromCharCode(block[156]);
    const size = unsigned(block, 124, 12, at, 'size');
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (size > MAX_META) throw bad(at, `extended header of ${size} bytes`);
      return { kind: 'meta', typeflag, size };
    }
    let name = cstring(block, 0, 100);
    // POSIX ustar splits long names into prefix + name; GNU uses that space for other fields.
    if (block.toString('latin1', 257, 263) === 'ustar\0') {
      const prefix = cstring(block, 345, 155);
      if (prefix !== '') name = `${prefix}/${name}`;
    }
    let type = TYPES[typeflag];
    if (type === undefined) {
      const what = typeflag === 'S' ? 'GNU sparse files are not supported' : `unsupported entry type ${JSON.stringify(typeflag)}`;
      throw new UnpackError('ERR_NOT_SUPPORTED', `tar entry ${JSON.stringify(this.ext.path ?? name)}: ${what}`);
    }
    const x = { ...this.global, ...this.ext };
    this.ext = {};
    if (x.path !== undefined) name = x.path;
    // Old tars mark directories only by the trailing slash.
    if (typeflag === '\0' && name.endsWith('/')) type = 'dir';
    const entry: TarEntry = {
      name,
      linkname: x.linkpath ?? cstring(block, 157, 100),
      type,
      mode: unsigned(block, 100, 8, at, 'mode') & 0o7777,
      uid: x.uid ?? unsigned(block, 108, 8, at, 'uid'),
      gid: x.gid ?? unsigned(block, 116, 8, at, 'gid'),
      size: x.size ?? size,
      mtime: x.mtime ?? numeric(block, 136, 12, at, 'mtime'),
      atime: x.atime,
      devmajor: type === 'char' || type === 'block' ? unsigned(block, 329, 8, at, 'devmajor') : 0,
      devminor: type === 'char' || type === 'block' ? unsigned(block, 337, 8, at, 'devminor') : 0,
      xattrs: x.xattrs,
      offset: at,
    };
    // Like Go's archive/tar (and so umoci and Docker): only regular files carry
    // data; a size on a link, directory or device is ignored, not skipped.
    return { kind: 'entry', entry, dataSize: type === 'file' ? entry.size : 0 };
  }

  /** Consumes the data of a meta entry returned by decode(). */
  meta(typeflag: string, data: Buffer, at: number): void {
    if (typeflag === 'L' || typeflag === 'K') {
      const end = data.indexOf(0);
      const s = data.toString('utf8', 0, end < 0 ? data.length : end);
      if (typeflag === 'L') this.ext.path = s;
      else this.ext.linkpath = s;
      return;
    }
    parsePax(data, typeflag === 'g' ? this.global : this.ext, at);
  }
}

function paxNumber(v: string, key: string, at: number): number {
  const n = Number(v);
  // Times before 1970 are negative; nothing else may be.
  if (v === '' || !Number.isFinite(n) || (n < 0 && key !== 'mtime' && key !== 'atime')) throw bad(at, `pax ${key}=${JSON.stringify(v)}`);
  return n;
}

function unsetPax(into: Extended, key: string): void {
  if (key.startsWith('SCHILY.xattr.')) into.xattrs?.delete(key.slice(13));
  else if (key.startsWith('LIBARCHIVE.xattr.')) into.xattrs?.delete(decodeURIComponent(key.slice(17)));
  else if (key in { path: 1, linkpath: 1, size: 1, uid: 1, gid: 1, mtime: 1, atime: 1 }) delete into[key as keyof Extended];
}

/** "%d %s=%s\n" records; values stay bytes until we know the key. */
function parsePax(data: Buffer, into: Extended, at: number): void {
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // some writers pad the record block with NULs
    const sp = data.indexOf(0x20, pos);
    const len = sp < 0 ? NaN : Number(data.toString('latin1', pos, sp));
    if (!Number.isInteger(len) || len <= 0 || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw bad(at, 'malformed pax record');
    }
    const rec = data.subarray(sp + 1, pos + len - 1);
    pos += len;
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw bad(at, 'malformed pax record');
    const key = rec.toString('utf8', 0, eq);
    const raw = rec.subarray(eq + 1);
    const text = (): string => raw.toString('utf8');
    if (raw.length === 0) {
      // POSIX: an empty value removes the keyword (Go's archive/tar, and so umoci, agree).
      unsetPax(into, key);
      continue;
    }
    if (key === 'path') into.path = text();
    else if (key === 'linkpath') into.linkpath = text();
    else if (key === 'size') into.size = paxNumber(text(), key, at);
    else if (key === 'uid') into.uid = paxNumber(text(), key, at);
    else if (key === 'gid') into.gid = paxNumber(text(), key, at);
    else if (key === 'mtime') into.mtime = paxNumber(text(), key, at);
    else if (key === 'atime') into.atime = paxNumber(text(), key, at);
    else if (key.startsWith('SCHILY.xattr.')) (into.xattrs ??= new Map()).set(key.slice(13), Buffer.from(raw));
    else if (key.startsWith('LIBARCHIVE.xattr.')) {
      (into.xattrs ??= new Map()).set(decodeURIComponent(key.slice(17)), Buffer.from(raw.toString('latin1'), 'base64'));
    } else if (key.startsWith('GNU.sparse.')) {
      throw new UnpackError('ERR_NOT_SUPPORTED', `tar entry at offset ${at}: GNU sparse files are not supported`);
    }
    // Other keys (uname, gname, ctime, comment, charset, ...) do not affect the result.
  }
}

const enum State { Header, Meta, Data, Pad, End }

/**
 * Push-based reader: push() chunks of the uncompressed stream, then finish().
 * onEntry gets each entry and returns where its data goes (null: skip it).
 */
export class TarReader {
  private state = State.Header;
  private readonly block = Buffer.alloc(BLOCK);
  private filled = 0;
  private pos = 0; // stream offset of the next byte
  private remaining = 0; // data (or meta) bytes left in the current entry
  private pad = 0;
  private sink: EntrySink | null = null;
  private metaType = '';
  private metaBuf: Buffer = Buffer.alloc(0);
  private metaFilled = 0;
  private headerAt = 0;
  private readonly decoder = new HeaderDecoder();

  constructor(private readonly onEntry: (entry: TarEntry) => EntrySink | null) {}

  get offset(): number {
    return this.pos;
  }

  push(chunk: Buffer): void {
    let off = 0;
    const len = chunk.length;
    while (off < len) {
      switch (this.state) {
        case State.Header: {
          const n = Math.min(BLOCK - this.filled, len - off);
          chunk.copy(this.block, this.filled, off, off + n);
          this.filled += n;
          off += n;
          this.pos += n;
          if (this.filled === BLOCK) {
            this.filled = 0;
            this.header();
          }
          break;
        }
        case State.Data: {
          const n = Math.min(this.remaining, len - off);
          if (this.sink) this.sink.write(chunk.subarray(off, off + n));
          off += n;
          this.pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.endData();
          break;
        }
        case State.Meta: {
          const n = Math.min(this.remaining, len - off);
          chunk.copy(this.metaBuf, this.metaFilled, off, off + n);
          this.metaFilled += n;
          off += n;
          this.pos += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            this.decoder.meta(this.metaType, this.metaBuf, this.headerAt);
            this.afterData();
          }
          break;
        }
        case State.Pad: {
          const n = Math.min(this.pad, len - off);
          off += n;
          this.pos += n;
          this.pad -= n;
          if (this.pad === 0) this.state = State.Header;
          break;
        }
        case State.End:
          // Whatever follows the end marker (record padding) is not part of the archive.
          this.pos += len - off;
          return;
      }
    }
  }

  /** Throws when the stream stopped inside an entry. */
  finish(): void {
    if (this.state === State.End) return;
    // Like Go's archive/tar, a stream that ends exactly between entries is
    // complete even without the two zero blocks; one that ends mid-entry is not.
    if (this.state === State.Header && this.filled === 0) return;
    // The last entry's data is complete and only its padding is missing:
    // umoci insert writes such layers, and Go's reader accepts them.
    if (this.state === State.Pad) return;
    const where = this.state === State.Header ? 'inside a header' : `inside the entry at offset ${this.headerAt}`;
    throw new UnpackError('ERR_INVALID_IMAGE', `tar stream is truncated (ends ${where}, after ${this.pos} bytes)`);
  }

  private header(): void {
    this.headerAt = this.pos - BLOCK;
    const d = this.decoder.decode(this.block, this.headerAt);
    if (d.kind === 'end') {
      this.state = State.End;
      return;
    }
    if (d.kind === 'meta') {
      this.metaType = d.typeflag;
      this.metaBuf = Buffer.alloc(d.size);
      this.metaFilled = 0;
      this.remaining = d.size;
      this.pad = (BLOCK - (d.size % BLOCK)) % BLOCK;
      if (d.size === 0) {
        this.decoder.meta(this.metaType, this.metaBuf, this.headerAt);
        this.afterData();
      } else this.state = State.Meta;
      return;
    }
    this.sink = this.onEntry(d.entry);
    this.remaining = d.dataSize;
    this.pad = (BLOCK - (d.dataSize % BLOCK)) % BLOCK;
    if (d.dataSize === 0) this.endData();
    else this.state = State.Data;
  }

  private endData(): void {
    const sink = this.sink;
    this.sink = null;
    if (sink) sink.end();
    this.afterData();
  }

  private afterData(): void {
    this.state = this.pad > 0 ? State.Pad : State.Header;
  }
}

/**
 * A stream end that feeds `reader`; a throw from its entry callback fails the
 * pipeline. `finish` runs once the upstream ended cleanly (digests checked).
 */
export function tarSink(reader: TarReader, opts: { highWaterMark?: number; finish?: () => void } = {}): Writable {
  const guarded = (fn: () => void, cb: (err?: Error | null) => void): void => {
    try {
      fn();
      cb();
    } catch (err) {
      cb(err as Error);
    }
  };
  return new Writable({
    highWaterMark: opts.highWaterMark,
    write: (chunk: Buffer, _enc, cb) => guarded(() => reader.push(chunk), cb),
    final: (cb) => guarded(() => opts.finish?.(), cb),
  });
}
