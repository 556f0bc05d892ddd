// Applies one layer's tar entries to the rootfs with the OCI layer semantics
// (image-spec layer.md): whiteouts and opaque directories hide what lower
// layers put there, hard links, symlinks, device nodes and fifos, ownership,
// modes (set after chown, which clears setuid), mtimes and xattrs. Every path
// goes through RootFs, which keeps it inside the root.
import { spawnSync } from 'node:child_process';
import {
  chmodSync, closeSync, fchmodSync, fchownSync, futimesSync, lchownSync, lutimesSync, writeSync, type Stats,
} from 'node:fs';
import { UnpackError, withContext } from './errors.js';
import { joinRel, splitEntryPath, type RootFs } from './safe-fs.js';
import type { EntrySink, TarEntry } from './tar.js';

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
/** aufs bookkeeping (.wh..wh.plnk, ...): not content; Docker skips it too. */
const AUFS_META = '.wh..wh.';

export interface DirMeta {
  mode: number;
  mtime: number;
  atime: number;
}

/** What survives from one layer to the next. */
export interface UnpackState {
  readonly fs: RootFs;
  readonly isRoot: boolean;
  /** Directory modes and times, applied once at the end: adding children changes a directory's mtime, and a 0500 directory would stop a rootless unpack. */
  readonly dirMeta: Map<string, DirMeta>;
  readonly warn: (message: string) => void;
  entries: number;
  skippedDevices: number;
}

interface PendingXattrs {
  xattrs: Map<string, Buffer>;
  /** The entry's type: if a later entry of the layer put something else at the path, these are not its xattrs. */
  type: TarEntry['type'];
}

function sameType(st: Stats, type: TarEntry['type']): boolean {
  switch (type) {
    case 'dir': return st.isDirectory();
    case 'symlink': return st.isSymbolicLink();
    case 'char': return st.isCharacterDevice();
    case 'block': return st.isBlockDevice();
    case 'fifo': return st.isFIFO();
    default: return st.isFile();
  }
}

export class LayerApplier {
  /** Everything this layer created (and their parents): whiteouts only hide lower layers' content. */
  private readonly touched = new Set<string>();
  private readonly xattrs = new Map<string, PendingXattrs>();
  private openFd = -1;

  constructor(private readonly state: UnpackState, private readonly label: string) {
    state.fs.onImplicitDir = (rel) => this.touch(rel);
  }

  /** For TarReader: applies the entry; returns where a regular file's data goes. */
  readonly onEntry = (e: TarEntry): EntrySink | null => {
    try {
      this.state.entries++;
      return this.apply(e);
    } catch (err) {
      throw withContext(err, `${this.label}: entry ${JSON.stringify(e.name)}`);
    }
  };

  private touch(rel: string): void {
    let r = rel;
    while (r !== '' && !this.touched.has(r)) {
      this.touched.add(r);
      const i = r.lastIndexOf('/');
      r = i < 0 ? '' : r.slice(0, i);
    }
  }

  private apply(e: TarEntry): EntrySink | null {
    const { fs, isRoot } = this.state;
    const parts = splitEntryPath(e.name);
    if (parts.length === 0) {
      if (e.type !== 'dir') throw new UnpackError('ERR_UNSAFE_ENTRY', `only a directory can stand for the root itself (this is a ${e.type})`);
      this.setXattrs('', e);
      this.dirEntry('', e);
      return null;
    }
    const base = parts[parts.length - 1];
    if (base.startsWith(WHITEOUT)) {
      this.whiteout(parts.slice(0, -1), base);
      return null;
    }
    const dir = fs.resolveDir(parts.slice(0, -1), true, 'path') as string;
    const rel = joinRel(dir, base);
    this.touch(rel);
    this.setXattrs(rel, e);

    switch (e.type) {
      case 'dir':
        this.dirEntry(rel, e);
        return null;
      case 'file':
        return this.fileEntry(rel, e);
      case 'symlink':
        fs.symlink(rel, e.linkname);
        if (isRoot) lchownSync(fs.host(rel), e.uid, e.gid);
        lutimesSync(fs.host(rel), e.atime ?? e.mtime, e.mtime);
        return null;
      case 'hardlink': {
        const target = this.linkTarget(e.linkname);
        fs.link(target, rel);
        return null;
      }
      case 'char':
      case 'block':
        if (!isRoot) {
          // Creating device nodes needs CAP_MKNOD; a rootless unpack leaves them out, like umoci
          // --rootless. What lower layers had there is gone all the same.
          this.state.skippedDevices++;
          this.xattrs.delete(rel);
          fs.remove(rel);
          return null;
        }
        fs.mknod(rel, e.type === 'char' ? 'c' : 'b', e.devmajor, e.devminor, 'mknod');
        this.pathMeta(rel, e);
        return null;
      case 'fifo':
        fs.mknod(rel, 'p', 0, 0, 'mknod');
        this.pathMeta(rel, e);
        return null;
    }
  }

  private setXattrs(rel: string, e: TarEntry): void {
    if (e.xattrs && e.xattrs.size > 0) this.xattrs.set(rel, { xattrs: e.xattrs, type: e.type === 'hardlink' ? 'file' : e.type });
    else this.xattrs.delete(rel);
  }

  private dirEntry(rel: string, e: TarEntry): void {
    const { fs, isRoot } = this.state;
    fs.mkdir(rel);
    if (isRoot) lchownSync(fs.host(rel), e.uid, e.gid);
    this.state.dirMeta.set(rel, { mode: e.mode, mtime: e.mtime, atime: e.atime ?? e.mtime });
  }

  private fileEntry(rel: string, e: TarEntry): EntrySink {
    const fd = this.state.fs.createFile(rel);
    this.openFd = fd;
    const { isRoot } = this.state;
    const context = (err: unknown): Error => withContext(err, `${this.label}: entry ${JSON.stringify(e.name)}`);
    return {
      write: (data: Buffer): void => {
        try {
          let off = 0;
          while (off < data.length) off += writeSync(fd, data, off, data.length - off);
        } catch (err) {
          throw context(err);
        }
      },
      end: (): void => {
        try {
          // chown first: it clears setuid/setgid, which the chmod then sets.
          if (isRoot) fchownSync(fd, e.uid, e.gid);
          fchmodSync(fd, e.mode);
          futimesSync(fd, e.atime ?? e.mtime, e.mtime);
        } catch (err) {
          throw context(err);
        } finally {
          this.openFd = -1;
          closeSync(fd);
        }
      },
    };
  }

  /** Ownership, mode and times of a node made by path (devices, fifos): nothing else can have replaced it meanwhile. */
  private pathMeta(rel: string, e: TarEntry): void {
    const p = this.state.fs.host(rel);
    if (this.state.isRoot) lchownSync(p, e.uid, e.gid);
    chmodSync(p, e.mode);
    lutimesSync(p, e.atime ?? e.mtime, e.mtime);
  }

  /** A hard link's target: resolved in the root like any path, and it must be a regular file there. */
  private linkTarget(linkname: string): string {
    const { fs } = this.state;
    const parts = splitEntryPath(linkname, 'hard link target');
    if (parts.length === 0) throw new UnpackError('ERR_UNSAFE_ENTRY', 'hard link to the root directory');
    const dir = fs.resolveDir(parts.slice(0, -1), false, 'hard link target');
    const rel = dir === undefined ? undefined : joinRel(dir, parts[parts.length - 1]);
    const st = rel === undefined ? undefined : fs.lstat(rel);
    if (rel === undefined || !st) {
      throw new UnpackError('ERR_INVALID_IMAGE', `hard link target ${JSON.stringify(linkname)} does not exist in the rootfs`);
    }
    if (!st.isFile()) {
      throw new UnpackError('ERR_UNSAFE_ENTRY', `hard link target ${JSON.stringify(linkname)} is not a regular file`);
    }
    return rel;
  }

  private whiteout(dirParts: string[], base: string): void {
    const { fs } = this.state;
    if (base !== OPAQUE && base.startsWith(AUFS_META)) return;
    const name = base.slice(WHITEOUT.length);
    if (base !== OPAQUE && (name === '' || name === '.' || name === '..')) {
      throw new UnpackError('ERR_UNSAFE_ENTRY', `whiteout ${JSON.stringify(base)} names ${JSON.stringify(name)}`);
    }
    const dir = fs.resolveDir(dirParts, false, 'whiteout');
    if (dir === undefined) return; // nothing below to hide
    if (base === OPAQUE) {
      if (!fs.lstat(dir)?.isDirectory()) return;
      for (const child of fs.readdir(dir)) this.hideLower(joinRel(dir, child));
    } else {
      this.hideLower(joinRel(dir, name));
    }
  }

  /**
   * Removes what lower layers put at `rel`, keeping what this layer added.
   * Iterative: the tree below an opaque directory may be thousands of levels deep.
   */
  private hideLower(rel: string): void {
    const { fs } = this.state;
    const pending = [rel];
    while (pending.length > 0) {
      const r = pending.pop() as string;
      const st = fs.lstat(r);
      if (!st) continue;
      if (!this.touched.has(r)) fs.remove(r, st);
      else if (st.isDirectory()) for (const child of fs.readdir(r)) pending.push(joinRel(r, child));
    }
  }

  /** Called after the tar stream ended: the xattrs, which must come after the last write and chown (both clear security.capability). */
  finish(): void {
    this.state.fs.onImplicitDir = undefined;
    this.flushXattrs();
  }

  /** Called when the layer failed: releases the file being written. */
  abort(): void {
    this.state.fs.onImplicitDir = undefined;
    if (this.openFd >= 0) {
      closeSync(this.openFd);
      this.openFd = -1;
    }
  }

  /**
   * All of the layer's xattrs in one `setfattr --restore` run (Node has no
   * xattr calls; Debian package attr). -h: a symlink's own xattrs, never its
   * target's. Each path is re-checked first: a later entry may have replaced
   * one of its directories with a symlink.
   */
  private flushXattrs(): void {
    if (this.xattrs.size === 0) return;
    const { fs, isRoot } = this.state;
    const seen = new Set<string>();
    let dump = '';
    let skipped = 0;
    for (const [rel, { xattrs, type }] of this.xattrs) {
      const st = fs.isPlainPath(rel, seen);
      if (!st || !sameType(st, type)) continue;
      let block = '';
      for (const [name, value] of xattrs) {
        // Without root only user.* can be set; security.capability and trusted.* need privileges.
        if (!isRoot && !name.startsWith('user.')) {
          skipped++;
          continue;
        }
        block += `${quote(Buffer.from(name))}=${value.length === 0 ? '""' : `0x${value.toString('hex')}`}\n`;
      }
      if (block !== '') dump += `# file: ${quote(Buffer.from(fs.host(rel)))}\n${block}\n`;
    }
    this.xattrs.clear();
    if (skipped > 0) this.state.warn(`${this.label}: ${skipped} privileged xattr(s) not set (not running as root)`);
    if (dump === '') return;
    const r = spawnSync('setfattr', ['-h', '--restore=-'], { input: dump, encoding: 'utf8', stdio: ['pipe', 'ignore', 'pipe'] });
    if (r.error) {
      const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new UnpackError(
        missing ? 'ERR_NOT_SUPPORTED' : 'ERR_INVALID_IMAGE',
        missing ? `${this.label}: has xattrs, which need the setfattr command (apt-get install attr)` : `${this.label}: setfattr: ${r.error.message}`,
      );
    }
    if (r.status !== 0) {
      const why = r.stderr.trim().split('\n')[0] || `exit status ${r.status}`;
      throw new UnpackError('ERR_INVALID_IMAGE', `${this.label}: setting xattrs failed: ${why}`);
    }
  }
}

/** getfattr's dump quoting: octal escapes for anything that is not plain printable text. */
function quote(b: Buffer): string {
  let s = '';
  for (const c of b) {
    s += c <= 0x20 || c >= 0x7f || c === 0x5c || c === 0x3d || c === 0x22 ? `\\${c.toString(8).padStart(3, '0')}` : String.fromCharCode(c);
  }
  return s;
}

/** Forgets the modes and times recorded for a removed directory tree, so a directory made again later does not get them. */
export function forgetDirectories(state: UnpackState, rel: string): void {
  state.dirMeta.delete(rel);
  const prefix = rel === '' ? '' : `${rel}/`;
  for (const k of state.dirMeta.keys()) if (k.startsWith(prefix)) state.dirMeta.delete(k);
}

/** Directory modes and times, deepest first, on paths that are still plain directories. */
export function finishDirectories(state: UnpackState): void {
  const { fs } = state;
  const seen = new Set<string>();
  const rels = [...state.dirMeta.keys()].sort((a, b) => depth(b) - depth(a));
  for (const rel of rels) {
    const m = state.dirMeta.get(rel) as DirMeta;
    if (!fs.isPlainPath(rel, seen)?.isDirectory()) continue;
    chmodSync(fs.host(rel), m.mode);
    lutimesSync(fs.host(rel), m.atime, m.mtime);
  }
}

function depth(rel: string): number {
  let n = rel === '' ? 0 : 1;
  for (let i = 0; i < rel.length; i++) if (rel.charCodeAt(i) === 47) n++;
  return n;
}
