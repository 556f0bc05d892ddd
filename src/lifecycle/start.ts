// start: the init is blocked opening exec.fifo for writing; opening the read side
// releases it, and the byte it writes proves it got past the open. The fifo is
// then removed, which is what makes the container "running".
import { closeSync, constants, openSync, readSync } from 'node:fs';
import type { RuntimeContext } from '../context.js';
import { OciError } from '../errors.js';
import { isInitHelper, isSameLiveProcess } from '../state/proc.js';
import { deriveStatus } from '../state/status.js';
import type { ContainerRecord } from '../state/store.js';
import { crashPoint } from '../faults.js';
import { runPoststart } from '../hooks/lifecycle.js';
import { killAndWait, openInit } from './process.js';
import { native } from '../native/binding.js';

export async function startContainer(ctx: RuntimeContext, id: string): Promise<ContainerRecord> {
  const { store } = ctx;
  return store.withLock(id, async () => {
    const record = store.read(id);
    const status = deriveStatus(store, record);
    if (status !== 'created') {
      const why = status === 'stopped'
        ? 'cannot start a container that has stopped'
        : status === 'running' ? 'cannot start an already running container' : `cannot start a container in the ${status} state`;
      throw new OciError('ERR_NOT_CREATED', why);
    }
    try {
      await releaseInit(record, store.fifoPath(id));
      crashPoint(ctx, 'start:released');
      store.removeFifo(id);
      ctx.logger.debug(`start ${id}: init released`);
      await runPoststart(record.config.hooks, record, record.pid, ctx.caller);
    } catch (err) {
      // A failed startContainer or poststart hook stops the container (the
      // init exits by itself after the former); delete does the rest.
      if ((err as OciError).code === 'ERR_HOOK_FAILED') {
        store.removeFifo(id);
        const fd = openInit(record);
        if (fd >= 0) await killAndWait(fd);
      }
      throw err;
    }
    return record;
  });
}

/**
 * Were we killed after the byte was read but before the fifo was removed, the
 * init has gone on to execve: deriveStatus then sees it is no longer the
 * helper and reports running, and a second start stops waiting for the same reason.
 */
async function releaseInit(record: ContainerRecord, fifo: string): Promise<void> {
  // Non-blocking: a blocking open would hang forever if the init died meanwhile.
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(1);
    let delay = 1;
    const readByte = (): boolean => {
      try {
        return readSync(fd, buf, 0, 1, null) === 1;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        return false;
      }
    };
    for (;;) {
      if (readByte()) return checkAnswer(fd, buf[0], record);
      // No writer yet (or the writer closed without writing): check the init lives.
      if (!isSameLiveProcess(record.pid, record.pidStartTime)) {
        // A short program may have been released, run and exited since that read.
        if (readByte()) return checkAnswer(fd, buf[0], record);
        throw new OciError('ERR_NOT_CREATED', `container "${record.id}" init process exited before start`);
      }
      await readableWithin(fd, delay);
      delay = Math.min(delay + 1, 10);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Resolves once fd is readable (the init wrote its answer, or closed the fifo)
 * or after ms, whichever comes first. Polled rather than slept on: the init
 * answers within ~0.1 ms of the open, and a sleep of even 1 ms was most of start.
 */
function readableWithin(fd: number, ms: number): Promise<void> {
  return new Promise((resolvePromise) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      watch.close();
      resolvePromise();
    };
    const timer = setTimeout(finish, ms);
    const watch = native().watchReadable(fd, finish);
  });
}

/** The init answers "0" (the user process is next) or "E<message>" (a startContainer hook failed). */
function checkAnswer(fd: number, first: number, record: ContainerRecord): void {
  if (first === 0x30) return;
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (;;) {
    let n = 0;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch {
      break; // EAGAIN: the message came in one write, so this is all of it
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  const message = Buffer.concat(chunks).toString('utf8');
  throw new OciError('ERR_HOOK_FAILED', message || `container "${record.id}" failed to start`);
}
