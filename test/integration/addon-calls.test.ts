// The addon's exit watching, pidfds, FIFOs and locks, with processes started
// through the fake init helper (test/support/addon.ts).
import { describe, expect, it } from 'vitest';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { spawn as spawnChild, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { SystemError } from '../../src/errors.js';
import { addon, useAddonFixture } from '../support/addon.js';

const fx = useAddonFixture();

describe('watchExit', () => {
  it('reports an exit code', async () => {
    const { r } = await fx.spawn('exit:3:100');
    expect(await fx.watch(r.pidfd)).toEqual({ exitCode: 3, signal: null, known: true });
    closeSync(r.pidfd);
    fx.forget(r.pidfd);
    expect(existsSync(`/proc/${r.pid}`)).toBe(false);
  });

  it('serves 20 concurrent watches', async () => {
    const spawned = await Promise.all(Array.from({ length: 20 }, (_, i) => fx.spawn(`exit:${i + 10}:${50 + 10 * i}`)));
    const statuses = await Promise.all(spawned.map(({ r }) => fx.watch(r.pidfd)));
    statuses.forEach((s, i) => expect(s).toEqual({ exitCode: i + 10, signal: null, known: true }));
    for (const { r } of spawned) {
      closeSync(r.pidfd);
      fx.forget(r.pidfd);
      expect(existsSync(`/proc/${r.pid}`)).toBe(false);
    }
  });

  it('reports known=false for a process that is not our child', async () => {
    // A grandchild that its own parent (the shell) reaps, so nothing is orphaned.
    const sh = spawnChild('sh', ['-c', 'sleep 0.3 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const shellDone = new Promise((resolve) => sh.once('exit', resolve));
    const pid = await new Promise<number>((resolve) => sh.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
    const pidfd = addon.pidfdOpen(pid);
    expect(await fx.watch(pidfd)).toEqual({ exitCode: null, signal: null, known: false });
    closeSync(pidfd);
    await shellDone;
  });

  it('keeps the event loop alive until the callback, and no longer', () => {
    const res = fx.runChild('keepalive');
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(res.lines).toEqual([{ exitCode: 5, signal: null, known: true }]);
    expect(res.ms).toBeLessThan(10_000);
  });

  it('lets the process exit with watches pending', () => {
    const res = fx.runChild('exit-pending');
    expect(res).toMatchObject({ status: 0, signal: null, stderr: '', lines: [] });
  });

  it('survives a worker thread that ends with a watch pending', () => {
    const res = fx.runChild('worker');
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(res.lines).toEqual([{ exitCode: 4, signal: null, known: true }]);
  });

  it('refuses what is not a pidfd', () => {
    const fd = fx.track(openSync('/dev/null', 'r'));
    expect(() => addon.watchExit(fd, () => {})).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => addon.watchExit(fd, undefined as unknown as () => void)).toThrow(TypeError);
  });
});

describe('pidfds', () => {
  it('opens and signals a live process', () => {
    const pidfd = addon.pidfdOpen(process.pid);
    expect(readFileSync(`/proc/self/fdinfo/${pidfd}`, 'utf8')).toMatch(/^flags:\s+\d*2\d{6}$/m); // O_CLOEXEC
    addon.pidfdSendSignal(pidfd, 0);
    closeSync(pidfd);
  });

  it('throws ESRCH for a process that is gone', () => {
    const gone = spawnSync('true').pid!;
    let err: NodeJS.ErrnoException | undefined;
    try {
      addon.pidfdOpen(gone);
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err).toBeInstanceOf(SystemError);
    expect(err).toMatchObject({ code: 'ESRCH', errno: -3, syscall: 'pidfd_open' });
    expect(err!.message).toBe('pidfd_open: ESRCH: no such process');
  });
});

describe('mkfifo and locks', () => {
  it('creates a FIFO and reports EEXIST with the path', () => {
    const path = join(fx.dir, 'exec.fifo');
    addon.mkfifo(path, 0o600);
    expect(statSync(path).isFIFO()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600 & ~process.umask());
    expect(() => addon.mkfifo(path, 0o600)).toThrow(expect.objectContaining({ code: 'EEXIST', errno: -17, syscall: 'mkfifo', path }));
  });

  it('takes flock locks without blocking', () => {
    const path = join(fx.dir, 'lock');
    writeFileSync(path, '');
    const a = fx.track(openSync(path, 'r'));
    const b = fx.track(openSync(path, 'r'));
    expect(addon.tryLock(a, true)).toBe(true);
    expect(addon.tryLock(b, true)).toBe(false);
    expect(addon.tryLock(b, false)).toBe(false);
    addon.unlock(a);
    expect(addon.tryLock(b, false)).toBe(true);
    expect(addon.tryLock(a, false)).toBe(true);
    expect(addon.tryLock(a, true)).toBe(false);
    addon.unlock(b);
    expect(addon.tryLock(a, true)).toBe(true);
    addon.unlock(a);
    const closed = openSync(path, 'r');
    closeSync(closed);
    expect(() => addon.tryLock(closed, true)).toThrow(expect.objectContaining({ code: 'EBADF', errno: -9, syscall: 'flock' }));
  });
});
