// A daemon's name in <root>/@engine: <name>.sock, its .pid and the .lock
// whose holder owns them. There is one name per build and namespace set, so
// names of old builds and gone namespaces pile up; each daemon sweeps those
// no live daemon holds, and removes its own on the way out.
//
// The lock is on the file's inode, so a name is owned only while the locked
// inode is still the one at the path: a daemon that locked a file someone
// unlinked meanwhile owns nothing, and tries again with the new file.
import { closeSync, fstatSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../native/binding.js';

const LOCK = '.lock';

function sameFile(fd: number, path: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = statSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/**
 * The fd of `lockPath` locked exclusively and still at its path, or undefined
 * when a live daemon holds it. A sweeping daemon holds a lock for a moment
 * only, so `patienceMs` tells that from an owner.
 */
function lockName(lockPath: string, patienceMs = 0): number | undefined {
  const deadline = Date.now() + patienceMs;
  for (;;) {
    const fd = openSync(lockPath, 'a', 0o600);
    const locked = native().tryLock(fd, true);
    if (locked && sameFile(fd, lockPath)) return fd;
    closeSync(fd);
    if (!locked && Date.now() >= deadline) return undefined;
    if (!locked) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  }
}

/** Removes a name's files, its lock last, while holding that lock. */
function removeName(socket: string, lockFd: number): void {
  rmSync(socket, { force: true });
  rmSync(`${socket}.pid`, { force: true });
  rmSync(`${socket}${LOCK}`, { force: true });
  closeSync(lockFd);
}

export interface OwnedName {
  lockFd: number;
  /** Removes the name's files (the socket only if it is still ours) and gives the lock up. */
  release(ownSocketIno?: number): void;
}

/** Takes `socket`'s name, or undefined when a live daemon has it. */
export function claimName(socket: string): OwnedName | undefined {
  const lockFd = lockName(`${socket}${LOCK}`, 200);
  if (lockFd === undefined) return undefined;
  return {
    lockFd,
    release(ownSocketIno?: number) {
      let ours = true;
      try {
        ours = ownSocketIno === undefined || statSync(socket).ino === ownSocketIno;
      } catch {
        // already gone
      }
      if (ours) removeName(socket, lockFd);
      else closeSync(lockFd);
    },
  };
}

/** Removes every other name in `engineDir` whose lock no live daemon holds; returns the sockets removed. */
export function sweepStaleNames(engineDir: string, ownSocket: string): string[] {
  const swept: string[] = [];
  let files: string[];
  try {
    files = readdirSync(engineDir);
  } catch {
    return swept;
  }
  for (const f of files) {
    if (!f.endsWith(`.sock${LOCK}`)) continue;
    const socket = join(engineDir, f.slice(0, -LOCK.length));
    if (socket === ownSocket) continue;
    try {
      const fd = lockName(join(engineDir, f));
      if (fd === undefined) continue;
      removeName(socket, fd);
      swept.push(socket);
    } catch {
      // gone meanwhile, or not ours to open: leave it
    }
  }
  return swept;
}
