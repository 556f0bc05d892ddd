// The state directory: <root>/<id>/{state.json, exec.fifo}. Creating the
// directory claims the ID (mkdir is atomic); an flock on the directory
// serialises commands on one container; state.json is replaced by rename, so a
// reader never sees half a file.
import { chmodSync, mkdirSync, openSync, closeSync, fstatSync, readFileSync, writeFileSync, renameSync, rmSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { OciError, SystemError } from '../errors.js';
import { native } from '../native/binding.js';
import type { Spec } from '../oci/types.js';
import type { CgroupRecord } from '../cgroups/index.js';
import type { HostMounts } from '../rootfs/host-mounts.js';
import { validateId } from './id.js';

export const EXEC_FIFO = 'exec.fifo';
const STATE_FILE = 'state.json';

/** What ocirun remembers about a container; status is derived, never stored as truth. */
export interface ContainerRecord {
  ociVersion: string;
  id: string;
  /** 0 until the init exists. */
  pid: number;
  /** /proc/<pid>/stat start time, to detect pid reuse. */
  pidStartTime: string;
  /** The process running create, and its start time, while the container is being made. */
  creatorPid: number;
  creatorStartTime: string;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations: Record<string, string>;
  /** The config as it was at create: later edits of config.json must not matter. */
  config: Spec;
  /** The container's cgroup directories (absent with --cgroup-manager=disabled). */
  cgroup?: CgroupRecord;
  /** No mount namespace: what delete detaches (src/rootfs/host-mounts.ts). */
  hostMounts?: HostMounts;
}

export class StateStore {
  constructor(readonly root: string) {}

  dir(id: string): string {
    return join(this.root, id);
  }

  fifoPath(id: string): string {
    return join(this.dir(id), EXEC_FIFO);
  }

  ensureRoot(): void {
    this.writingRoot(() => mkdirSync(this.root, { recursive: true, mode: 0o700 }));
  }

  /** A state root this user may not write is one line that says what to do, with the errno kept. */
  private writingRoot<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code !== 'EACCES' && e.code !== 'EPERM' && e.code !== 'EROFS') throw err;
      const who = process.geteuid?.() === 0 ? '' : ` by uid ${process.geteuid?.()}`;
      const hint = process.geteuid?.() === 0 ? 'pass --root DIR' : 'pass --root DIR or set XDG_RUNTIME_DIR to a directory of yours';
      throw new SystemError({
        code: e.code, errno: typeof e.errno === 'number' ? e.errno : 0, syscall: e.syscall ?? 'mkdir', path: this.root,
        message: `state root ${this.root} is not writable${who} (${e.code}): ${hint}`, cause: err,
      });
    }
  }

  /**
   * Claims the ID: the directory appears, by rename, already holding its
   * state.json and exec.fifo, so nobody ever sees a container without state.
   * Fails with ERR_CONTAINER_EXISTS if the ID is taken.
   */
  claim(record: ContainerRecord): void {
    validateId(record.id);
    this.ensureRoot();
    // ':' cannot appear in an ID, so a leftover temp dir is never taken for a container.
    const tmp = join(this.root, `.tmp:${record.id}:${process.pid}:${Date.now()}:${++tmpSerial}`);
    // Searchable by all: a user-namespaced init (an unprivileged host uid) opens
    // exec.fifo through it. The root above stays 0700, so nobody else gets here.
    this.writingRoot(() => mkdirSync(tmp, { mode: 0o711 }));
    try {
      const fifo = join(tmp, EXEC_FIFO);
      native().mkfifo(fifo, 0o622);
      // Past the umask: a user-namespaced init writes to it as an unprivileged host uid.
      chmodSync(fifo, 0o622);
      writeFileSync(join(tmp, STATE_FILE), JSON.stringify(record), { mode: 0o600 });
      try {
        renameSync(tmp, this.dir(record.id));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST' || code === 'ENOTEMPTY') {
          throw new OciError('ERR_CONTAINER_EXISTS', `container "${record.id}" already exists`);
        }
        throw err;
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  exists(id: string): boolean {
    try {
      return statSync(this.dir(id)).isDirectory();
    } catch {
      return false;
    }
  }

  /**
   * Runs fn holding the container's lock. Rejects with ERR_CONTAINER_NOT_FOUND
   * if the directory is gone, including when it was deleted while we waited.
   */
  async withLock<T>(id: string, fn: () => Promise<T> | T): Promise<T> {
    validateId(id);
    let fd: number;
    try {
      fd = openSync(this.dir(id), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(id);
      throw err;
    }
    try {
      const addon = native();
      let delay = 1;
      while (!addon.tryLock(fd, true)) {
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 20);
      }
      // A delete that held the lock before us removed the directory.
      if (fstatSync(fd).nlink === 0) throw notFound(id);
      return await fn();
    } finally {
      closeSync(fd); // closing drops the flock
    }
  }

  read(id: string): ContainerRecord {
    validateId(id);
    let text: string;
    try {
      text = readFileSync(join(this.dir(id), STATE_FILE), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        if (this.exists(id)) {
          throw new OciError('ERR_STATE_CORRUPT', `container "${id}" has no state file (interrupted create?); use "delete --force ${id}"`);
        }
        throw notFound(id);
      }
      throw err;
    }
    try {
      return JSON.parse(text) as ContainerRecord;
    } catch {
      throw new OciError('ERR_STATE_CORRUPT', `container "${id}": state file ${join(this.dir(id), STATE_FILE)} is corrupt; use "delete --force ${id}"`);
    }
  }

  write(record: ContainerRecord): void {
    const dir = this.dir(record.id);
    const tmp = join(dir, `.${STATE_FILE}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
    renameSync(tmp, join(dir, STATE_FILE));
  }

  /** Removes the fifo: from then on a live init counts as running. */
  removeFifo(id: string): void {
    try {
      unlinkSync(this.fifoPath(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  hasFifo(id: string): boolean {
    try {
      statSync(this.fifoPath(id));
      return true;
    } catch {
      return false;
    }
  }

  remove(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }

  /** IDs of every directory under the root that is a valid ID. */
  list(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names.filter((n) => {
      try {
        validateId(n);
        return statSync(join(this.root, n)).isDirectory();
      } catch {
        return false;
      }
    }).sort();
  }
}

export function notFound(id: string): OciError {
  return new OciError('ERR_CONTAINER_NOT_FOUND', `container "${id}" does not exist`);
}

/** Temp names unique within this process too: the daemon runs many calls at once. */
let tmpSerial = 0;

/**
 * Writes a file so that readers see either nothing or the whole content.
 * With `mode`, the file gets exactly that (the daemon applies its caller's umask).
 */
export function writeFileAtomic(path: string, content: string, mode?: number): void {
  const tmp = `${path}.${process.pid}.${++tmpSerial}.tmp`;
  // O_EXCL: whatever sits at the temporary name (a fifo would block the
  // write forever, a symlink would redirect it) is removed, never opened.
  rmSync(tmp, { force: true });
  writeFileSync(tmp, content, { flag: 'wx', ...(mode === undefined ? {} : { mode }) });
  try {
    if (mode !== undefined) chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
