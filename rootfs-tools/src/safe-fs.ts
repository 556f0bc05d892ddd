// Every path the unpacker touches is resolved here, component by component,
// inside the rootfs, the way openat2(RESOLVE_IN_ROOT) would: a symlink met on
// the way is followed *within* the root (absolute targets re-rooted, ".."
// stopping at the root, at most 40 hops), never out of it. Entry names
// themselves may not contain "..": an archive that needs it is refused.
//
// This is a userspace walk (lstat, then act on the path it vetted), which is
// only sound because the target is a fresh directory inside a 0700 temp dir
// that nothing but this process writes: no one can swap a component between
// the check and the use. The caches below rely on the same fact, and are
// dropped whenever this process removes a directory or a symlink.
import { spawnSync } from 'node:child_process';
import {
  chmodSync, closeSync, fstatSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, rmdirSync, symlinkSync,
  unlinkSync, constants as fsc, type Stats,
} from 'node:fs';
import { UnpackError } from './errors.js';

const MAX_HOPS = 40;
/** Linux's PATH_MAX, counting the NUL: no path the kernel takes in one piece is longer. */
const PATH_MAX = 4096;
// libuv adds O_CLOEXEC to every open by itself.
const CREATE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;

function unsafe(what: string, why: string): UnpackError {
  return new UnpackError('ERR_UNSAFE_ENTRY', `${what}: ${why}`);
}

/**
 * Splits an archive path into components: empty and "." components and a
 * leading "/" are dropped (an absolute name lands inside the root, like GNU
 * tar), ".." is refused. `what` names the path when it is not the entry's own.
 */
export function splitEntryPath(name: string, what?: string): string[] {
  const subject = what === undefined ? 'the path' : `${what} ${JSON.stringify(name)}`;
  if (name.includes('\0')) throw new UnpackError('ERR_UNSAFE_ENTRY', `${subject} contains a NUL byte`);
  const parts: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') throw new UnpackError('ERR_UNSAFE_ENTRY', `${subject} has a ".." component: refused`);
    parts.push(c);
  }
  return parts;
}

export function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/**
 * rm -rf without recursion. Node 20's rmSync recurses once per level, and a
 * layer can nest directories as deep as PATH_MAX allows (2000 levels), deeper
 * than the JS stack: the walk keeps its own stack of directories instead. A
 * directory we cannot list or empty (a 0500 one, rootless) is opened up first.
 */
export function removeTree(path: string): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return;
  if (!st.isDirectory()) {
    unlinkSync(path);
    return;
  }
  const stack = [path];
  while (stack.length > 0) {
    const dir = stack[stack.length - 1];
    const before = stack.length;
    for (const e of listForRemoval(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) stack.push(p);
      else unlinkSync(p);
    }
    if (stack.length === before) {
      rmdirSync(dir);
      stack.pop();
    }
  }
}

function listForRemoval(dir: string): import('node:fs').Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES') throw err;
    chmodSync(dir, 0o700);
    return readdirSync(dir, { withFileTypes: true });
  }
}

export class RootFs {
  /** Relative paths known to be real directories ('' is the root itself). */
  private readonly dirs = new Set<string>(['']);
  /** Entry parent path as written in the archive → resolved relative path. */
  private readonly parents = new Map<string, string>();
  /** Called for each directory created to hold an entry (layer.ts tracks them as part of the layer). */
  onImplicitDir: ((rel: string) => void) | undefined;
  /** Called after a directory (and all below it) was removed. */
  onRemovedDir: ((rel: string) => void) | undefined;

  /** Longest relative path whose host path the kernel still takes. */
  private readonly maxRel: number;

  constructor(readonly root: string) {
    this.maxRel = PATH_MAX - 1 - Buffer.byteLength(root) - 1;
  }

  host(rel: string): string {
    // Refused here, before any system call: ENAMETOOLONG deep in a walk says nothing about which entry.
    if (rel.length > this.maxRel / 3 && Buffer.byteLength(rel) > this.maxRel) {
      throw new UnpackError('ERR_UNSAFE_ENTRY', `/${rel.slice(0, 40)}... is ${Buffer.byteLength(rel)} bytes long in the rootfs, longer than Linux paths go (${PATH_MAX - 1} bytes)`);
    }
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  lstat(rel: string): Stats | undefined {
    return lstatSync(this.host(rel), { throwIfNoEntry: false });
  }

  private invalidate(): void {
    this.dirs.clear();
    this.dirs.add('');
    this.parents.clear();
  }

  /**
   * Resolves `parts` as directories inside the root and returns the relative
   * path of the real directory they lead to. Missing directories are created
   * (mode 0755) when `create`, else the result is undefined.
   */
  resolveDir(parts: readonly string[], create: boolean, what: string): string | undefined {
    const key = parts.join('/');
    const cached = this.parents.get(key);
    if (cached !== undefined) return cached;
    const stack: string[] = [];
    const pending = parts.slice().reverse();
    let hops = 0;
    while (pending.length > 0) {
      const c = pending.pop() as string;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        // Only symlink targets get here (entry names with ".." are refused): clamp at the root.
        stack.pop();
        continue;
      }
      stack.push(c);
      const rel = stack.join('/');
      if (this.dirs.has(rel)) continue;
      const st = this.lstat(rel);
      if (!st) {
        if (!create) return undefined;
        mkdirSync(this.host(rel), 0o755);
        chmodSync(this.host(rel), 0o755); // whatever the umask
        this.dirs.add(rel);
        this.onImplicitDir?.(rel);
      } else if (st.isDirectory()) {
        this.dirs.add(rel);
      } else if (st.isSymbolicLink()) {
        if (++hops > MAX_HOPS) throw unsafe(what, `too many levels of symbolic links resolving ${JSON.stringify(key)}`);
        const target = readlinkSync(this.host(rel));
        stack.pop();
        if (target.startsWith('/')) stack.length = 0;
        const tparts = target.split('/');
        for (let i = tparts.length - 1; i >= 0; i--) pending.push(tparts[i]);
      } else {
        // Without `create` the question is "does this directory exist": it does not.
        if (!create) return undefined;
        throw new UnpackError('ERR_INVALID_IMAGE', `${what}: /${rel} is not a directory`);
      }
    }
    const result = stack.join('/');
    this.parents.set(key, result);
    return result;
  }

  /**
   * Resolves a path to an existing object inside the root, following
   * symlinks in every component, the last one included. Undefined if missing.
   */
  resolveExisting(parts: readonly string[], what: string): string | undefined {
    let cur = parts.slice();
    for (let hops = 0; hops <= MAX_HOPS; hops++) {
      if (cur.length === 0) return '';
      const dir = this.resolveDir(cur.slice(0, -1), false, what);
      if (dir === undefined) return undefined;
      const rel = joinRel(dir, cur[cur.length - 1]);
      const st = this.lstat(rel);
      if (!st) return undefined;
      if (!st.isSymbolicLink()) return rel;
      const target = readlinkSync(this.host(rel));
      const base = target.startsWith('/') ? [] : dir.split('/').filter(Boolean);
      cur = [...base, ...target.split('/')].filter((c) => c !== '' && c !== '.');
      // ".." in a symlink target: resolve lexically, clamped at the root.
      const clamped: string[] = [];
      for (const c of cur) {
        if (c === '..') clamped.pop();
        else clamped.push(c);
      }
      cur = clamped;
    }
    throw unsafe(what, 'too many levels of symbolic links');
  }

  /** Removes whatever is at `rel` (a directory with all it holds). */
  remove(rel: string, st: Stats | undefined = this.lstat(rel)): void {
    if (!st) return;
    if (st.isDirectory()) {
      removeTree(this.host(rel));
      this.invalidate();
      this.onRemovedDir?.(rel);
    } else {
      unlinkSync(this.host(rel));
      if (st.isSymbolicLink()) this.invalidate();
    }
  }

  /** A new regular file (any old object at `rel` is replaced, a symlink there is never followed). */
  createFile(rel: string): number {
    try {
      return openSync(this.host(rel), CREATE_FLAGS, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    this.remove(rel);
    return openSync(this.host(rel), CREATE_FLAGS, 0o600);
  }

  /** Makes a directory; an existing one is kept (layers merge), anything else replaced. */
  mkdir(rel: string): void {
    if (rel === '' || this.dirs.has(rel)) return;
    try {
      mkdirSync(this.host(rel), 0o755);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = this.lstat(rel);
      if (!st?.isDirectory()) {
        this.remove(rel);
        mkdirSync(this.host(rel), 0o755);
      }
    }
    this.dirs.add(rel);
  }

  symlink(rel: string, target: string): void {
    try {
      symlinkSync(target, this.host(rel));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    this.remove(rel);
    symlinkSync(target, this.host(rel));
  }

  /** Hard link to `targetRel`, which the caller resolved inside the root. */
  link(targetRel: string, rel: string): void {
    try {
      linkSync(this.host(targetRel), this.host(rel));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (targetRel === rel) return;
    this.remove(rel);
    linkSync(this.host(targetRel), this.host(rel));
  }

  /**
   * Device nodes and fifos. Node has no mknod(2), so this runs coreutils'
   * mknod: a process per node, which is fine for the handful images carry.
   */
  mknod(rel: string, kind: 'c' | 'b' | 'p', major: number, minor: number, what: string): void {
    this.remove(rel);
    const args = kind === 'p' ? [this.host(rel), 'p'] : [this.host(rel), kind, String(major), String(minor)];
    const r = spawnSync('mknod', args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.error || r.status !== 0) {
      const why = r.error ? r.error.message : r.stderr.trim() || `exit status ${r.status}`;
      throw new UnpackError('ERR_INVALID_IMAGE', `${what}: mknod failed: ${why}`);
    }
  }

  readdir(rel: string): string[] {
    return readdirSync(this.host(rel));
  }

  /**
   * True when every component of `rel` is a real directory (no symlink) and
   * the last exists: checked before deferred work (directory modes, xattrs)
   * touches a path vetted earlier. `seen` caches directories across calls.
   */
  isPlainPath(rel: string, seen: Set<string>): Stats | undefined {
    const parts = rel === '' ? [] : rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (seen.has(prefix)) continue;
      if (!this.lstat(prefix)?.isDirectory()) return undefined;
      seen.add(prefix);
    }
    return this.lstat(rel);
  }

  /** Reads a small regular file by its in-container path (e.g. /etc/passwd), symlinks resolved in the root. */
  readFile(path: string, limit: number): Buffer | undefined {
    const rel = this.resolveExisting(splitEntryPath(path, 'path'), path);
    if (rel === undefined) return undefined;
    let fd: number;
    try {
      fd = openSync(this.host(rel), fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    } catch {
      return undefined;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return undefined;
      const b = Buffer.alloc(Math.min(st.size, limit));
      let got = 0;
      while (got < b.length) {
        const n = readSync(fd, b, got, b.length - got, got);
        if (n === 0) break;
        got += n;
      }
      return b.subarray(0, got);
    } finally {
      closeSync(fd);
    }
  }
}
