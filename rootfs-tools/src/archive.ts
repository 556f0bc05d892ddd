// An image packed in an uncompressed tar file (`docker save`, an OCI layout
// tarball): the headers are indexed once with positioned reads, then each
// member is streamed straight from its offset, so nothing is extracted to disk.
import { closeSync, createReadStream, fstatSync, readSync } from 'node:fs';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { openRegular, type ImageSource } from './blobs.js';
import { UnpackError } from './errors.js';
import { BLOCK, HeaderDecoder, type EntryType } from './tar.js';

interface Member {
  type: EntryType;
  /** Offset of the data in the file. */
  offset: number;
  size: number;
  linkname: string;
}

/** "./a//b/" → "a/b"; undefined for names that climb out with "..". */
export function normalizeMemberName(name: string): string | undefined {
  const n = posix.normalize(`/${name}`).slice(1).replace(/\/$/, '');
  return n.startsWith('..') ? undefined : n;
}

export class TarSource implements ImageSource {
  private readonly members = new Map<string, Member>();
  private readonly fd: number;

  constructor(readonly file: string, readonly label: string) {
    this.fd = openRegular(file, label);
    try {
      this.index();
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  private read(n: number, pos: number, what: string): Buffer {
    const b = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const r = readSync(this.fd, b, got, n - got, pos + got);
      if (r === 0) throw new UnpackError('ERR_INVALID_IMAGE', `${this.label}: archive is truncated (${what} at offset ${pos})`);
      got += r;
    }
    return b;
  }

  private index(): void {
    const total = fstatSync(this.fd).size;
    const decoder = new HeaderDecoder();
    let pos = 0;
    while (pos + BLOCK <= total) {
      const d = decoder.decode(this.read(BLOCK, pos, 'header'), pos);
      if (d.kind === 'end') return;
      pos += BLOCK;
      const size = d.kind === 'meta' ? d.size : d.dataSize;
      if (pos + size > total) throw new UnpackError('ERR_INVALID_IMAGE', `${this.label}: archive is truncated (member data at offset ${pos})`);
      if (d.kind === 'meta') decoder.meta(d.typeflag, this.read(size, pos, 'extended header'), pos - BLOCK);
      else {
        const name = normalizeMemberName(d.entry.name);
        if (name !== undefined && name !== '') {
          this.members.set(name, { type: d.entry.type, offset: pos, size, linkname: d.entry.linkname });
        }
      }
      pos += Math.ceil(size / BLOCK) * BLOCK;
    }
    if (pos !== total && this.members.size === 0) throw new UnpackError('ERR_INVALID_IMAGE', `${this.label}: not a tar archive`);
  }

  /** True when the archive has a member by that name (links not followed). */
  has(path: string): boolean {
    return this.members.has(path);
  }

  names(): IterableIterator<string> {
    return this.members.keys();
  }

  /** The regular file a path names, following the archive's own links (docker save dedups layers with symlinks). */
  private lookup(path: string): Member | undefined {
    let name: string | undefined = path;
    for (let hops = 0; hops < 16 && name !== undefined; hops++) {
      const m = this.members.get(name);
      if (!m) return undefined;
      if (m.type === 'file') return m;
      if (m.type === 'symlink') {
        name = m.linkname.startsWith('/') ? undefined : normalizeMemberName(posix.join(posix.dirname(name), m.linkname));
      } else if (m.type === 'hardlink') name = normalizeMemberName(m.linkname);
      else return undefined;
    }
    return undefined;
  }

  size(path: string): number | undefined {
    return this.lookup(path)?.size;
  }

  head(path: string, n: number): Buffer {
    const m = this.lookup(path);
    if (!m) throw new UnpackError('ERR_INVALID_IMAGE', `${this.label}: no member ${path}`);
    return this.read(Math.min(n, m.size), m.offset, path);
  }

  stream(path: string): Readable {
    const m = this.lookup(path);
    if (!m) throw new UnpackError('ERR_INVALID_IMAGE', `${this.label}: no member ${path}`);
    // createReadStream's end is inclusive and may not precede start.
    if (m.size === 0) return Readable.from([]);
    // The fd checked at open, read positionally: never the path again, which could be something else by now.
    return createReadStream('', { fd: this.fd, autoClose: false, start: m.offset, end: m.offset + m.size - 1, highWaterMark: 1024 * 1024 });
  }

  close(): void {
    closeSync(this.fd);
  }
}
