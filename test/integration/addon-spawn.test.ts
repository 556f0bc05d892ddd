// spawnContainer against a fake init helper (test/fixtures/native/fake-init.c;
// the real one is tested through the CLI): the sealed memfd, fd and signal
// hygiene of the helper, and the shapes of its errors.
import { describe, expect, it } from 'vitest';
import {
  closeSync, constants, existsSync, fstatSync, ftruncateSync, openSync, readFileSync, readSync, readdirSync, readlinkSync,
  statSync, utimesSync, writeFileSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { OciError, SystemError } from '../../src/errors.js';
import { addon, rejection, useAddonFixture } from '../support/addon.js';

const fx = useAddonFixture();

describe('spawnContainer', () => {
  it('starts the helper from a sealed memfd with exactly stdio, the socket and the extra fds', async () => {
    const fifo = join(fx.dir, 'stdout.fifo');
    addon.mkfifo(fifo, 0o600);
    const reader = fx.track(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
    const writer = fx.track(openSync(fifo, constants.O_WRONLY));
    const devnull = fx.track(openSync('/dev/null', 'r'));
    const extraA = fx.track(openSync(join(fx.dir, 'extra-a'), 'w'));
    const extraB = fx.track(openSync(join(fx.dir, 'extra-b'), 'w'));
    // Big enough that the plan cannot go out in one write.
    const p = fx.plan('ok', 4 << 20);

    const r = await addon.spawnContainer({
      helper: fx.fake, plan: p.plan, stdio: [devnull, writer, writer], extraFds: [extraB, extraA],
    });
    fx.adopt(r.pidfd);
    closeSync(r.controlFd);

    expect(r.pid).toBe(fx.pids(p.pidfile)[0]);
    expect(r.pidfd).toBeGreaterThan(2);
    expect(r.warnings).toEqual([`plan bytes ${p.plan.length}`]);
    expect(readFileSync(`/proc/${r.pid}/stat`, 'utf8')).toMatch(/^\d+ \(.*\) [RS] /);

    const fds = readdirSync(`/proc/${r.pid}/fd`).map(Number).sort((a, b) => a - b);
    expect(fds).toEqual([0, 1, 2, 3, 4, 5]);
    expect(readlinkSync(`/proc/${r.pid}/fd/0`)).toBe('/dev/null');
    expect(readlinkSync(`/proc/${r.pid}/fd/1`)).toBe(fifo);
    expect(readlinkSync(`/proc/${r.pid}/fd/2`)).toBe(fifo);
    expect(readlinkSync(`/proc/${r.pid}/fd/3`)).toMatch(/^socket:/);
    expect(readlinkSync(`/proc/${r.pid}/fd/4`)).toBe(join(fx.dir, 'extra-b'));
    expect(readlinkSync(`/proc/${r.pid}/fd/5`)).toBe(join(fx.dir, 'extra-a'));

    const buf = Buffer.alloc(100);
    const n = readSync(reader, buf);
    expect(buf.subarray(0, n).toString()).toBe('hello from the helper\n');

    // Node ignores SIGPIPE; none of that may leak into the helper, nor our environment.
    const status = readFileSync(`/proc/${r.pid}/status`, 'utf8');
    expect(status).toMatch(/^SigBlk:\s+0+$/m);
    expect(status).toMatch(/^SigIgn:\s+0+$/m);
    expect(readFileSync(`/proc/${r.pid}/environ`).length).toBe(0);
    expect(readFileSync(`/proc/${r.pid}/cmdline`, 'utf8')).toBe('ocirun-init\0');

    expect(readlinkSync(`/proc/${r.pid}/exe`)).toBe('/memfd:ocirun-init (deleted)');
    expect(statSync(`/proc/${r.pid}/exe`).mode & 0o7777).toBe(0o555);
    const exe = fx.track(openSync(`/proc/${r.pid}/exe`, 'r'));

    expect(await fx.kill(r)).toEqual({ exitCode: null, signal: 9, known: true });
    expect(existsSync(`/proc/${r.pid}`)).toBe(false);

    // No longer executing, so nothing but the seals stands in the way of a write.
    // (Closed right away: a writable open makes every later exec of the copy ETXTBSY.)
    const rw = openSync(`/proc/self/fd/${exe}`, 'r+');
    try {
      expect(() => writeSync(rw, 'x', 0)).toThrow(expect.objectContaining({ code: 'EPERM' }));
      expect(() => ftruncateSync(rw, 0)).toThrow(expect.objectContaining({ code: 'EPERM' }));
      expect(fstatSync(rw).size).toBe(statSync(fx.fake).size);
    } finally {
      closeSync(rw);
    }
  });

  it('copies the helper once and again only when the file changes', async () => {
    const inode = async () => {
      const { r } = await fx.spawn('ok');
      const ino = statSync(`/proc/${r.pid}/exe`).ino;
      await fx.kill(r);
      return ino;
    };
    const first = await inode();
    expect(await inode()).toBe(first);
    const later = new Date(Date.now() + 5000);
    utimesSync(fx.fake, later, later);
    const third = await inode();
    expect(third).not.toBe(first);
    expect(await inode()).toBe(third);
  });

  it('returns the init that stage 0 cloned as our child, and reaps stage 0', async () => {
    const { r, pidfile } = await fx.spawn('sibling');
    const [stage0, init] = fx.pids(pidfile);
    expect(r.pid).toBe(init);
    expect(existsSync(`/proc/${stage0}`)).toBe(false);
    expect(readFileSync(`/proc/${init}/stat`, 'utf8').split(' ')[3]).toBe(String(process.pid));
    expect(await fx.kill(r)).toEqual({ exitCode: null, signal: 9, known: true });
  });

  it('rejects with the helper error as a SystemError and reaps the helper', async () => {
    const p = fx.plan('error');
    const devnull = fx.track(openSync('/dev/null', 'r+'));
    const err = await rejection(addon.spawnContainer({ helper: fx.fake, plan: p.plan, stdio: [devnull, devnull, devnull] }));
    expect(err).toBeInstanceOf(SystemError);
    expect(err.message).toBe('mounting proc: mount /proc: ENOENT: no such file or directory');
    expect(err).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'mount', path: '/proc' });
    expect(existsSync(`/proc/${fx.pids(p.pidfile)[0]}`)).toBe(false);
  });

  it('kills and reaps an init reported before the error', async () => {
    const p = fx.plan('error-after-pid');
    const devnull = fx.track(openSync('/dev/null', 'r+'));
    const err = await rejection(addon.spawnContainer({ helper: fx.fake, plan: p.plan, stdio: [devnull, devnull, devnull] }));
    expect(err).toMatchObject({ code: 'EACCES', errno: -13, syscall: 'pivot_root' });
    expect(err.path).toBeUndefined();
    expect(err.message).toBe('entering the root filesystem: pivot_root: EACCES: permission denied');
    const [stage0, init] = fx.pids(p.pidfile);
    expect(existsSync(`/proc/${stage0}`)).toBe(false);
    expect(existsSync(`/proc/${init}`)).toBe(false);
  });

  it('reports a helper that exits without a word', async () => {
    const p = fx.plan('silent');
    const devnull = fx.track(openSync('/dev/null', 'r+'));
    const started = Date.now();
    const err = await rejection(addon.spawnContainer({ helper: fx.fake, plan: p.plan, stdio: [devnull, devnull, devnull] }));
    expect(err.message).toBe('init helper exited unexpectedly (exit status 7)');
    // No errno to name: the project's OciError, never a bare Error.
    expect(err).toBeInstanceOf(OciError);
    expect(err).not.toBeInstanceOf(SystemError);
    expect(err).toMatchObject({ code: 'ERR_OCIRUN_HELPER', exitCode: 1 });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(existsSync(`/proc/${fx.pids(p.pidfile)[0]}`)).toBe(false);
  });

  it('reports an init that dies before it is ready', async () => {
    const p = fx.plan('init-dies');
    const devnull = fx.track(openSync('/dev/null', 'r+'));
    const err = await rejection(addon.spawnContainer({ helper: fx.fake, plan: p.plan, stdio: [devnull, devnull, devnull] }));
    expect(err.message).toBe('container init exited during setup (exit status 42)');
    const [stage0, init] = fx.pids(p.pidfile);
    expect(existsSync(`/proc/${stage0}`)).toBe(false);
    expect(existsSync(`/proc/${init}`)).toBe(false);
  });

  it('reports a helper that cannot be executed', async () => {
    const notElf = join(fx.dir, 'not-an-elf');
    writeFileSync(notElf, 'this is not an executable\n', { mode: 0o755 });
    const devnull = fx.track(openSync('/dev/null', 'r+'));
    const err = await rejection(addon.spawnContainer({ helper: notElf, plan: fx.plan('ok', 1 << 20).plan, stdio: [devnull, devnull, devnull] }));
    expect(err).toMatchObject({ code: 'ENOEXEC', errno: -8, syscall: 'execveat', path: notElf });
    expect(err.message).toBe(`starting the init helper: execveat ${notElf}: ENOEXEC: exec format error`);

    const missing = join(fx.dir, 'missing');
    const err2 = await rejection(addon.spawnContainer({ helper: missing, plan: Buffer.alloc(1), stdio: [devnull, devnull, devnull] }));
    expect(err2).toMatchObject({ code: 'ENOENT', errno: -2, path: missing });
  });

  it('starts the helper where clone3 is refused (Docker\'s default seccomp profile): it is spawned with clone(CLONE_VM|CLONE_VFORK)', () => {
    const res = fx.runChild('spawn', [join(fx.dir, 'noclone3')]);
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(res.lines[0]).toMatchObject({ exe: '/memfd:ocirun-init (deleted)', fds: ['0', '1', '2', '3'] });
    expect(res.lines[0].pidfd).toBeGreaterThan(2);
    expect(res.lines.slice(1)).toEqual(
      expect.arrayContaining([{ exitCode: null, signal: 9, known: true }, { code: 'ENOENT', syscall: 'mount' }]));
  });

  it('leaves no descriptor behind, whatever the outcome', async () => {
    const fdCount = () => readdirSync('/proc/self/fd').length;
    const devnull = fx.track(openSync('/dev/null', 'r+'));
    const stdio: [number, number, number] = [devnull, devnull, devnull];
    const notElf = join(fx.dir, 'not-an-elf-2');
    writeFileSync(notElf, 'nope\n', { mode: 0o755 });
    await fx.kill((await fx.spawn('ok')).r);  // warm-up: the watcher's epoll fd and eventfd stay
    const before = fdCount();
    for (let i = 0; i < 3; i++) {
      await fx.kill((await fx.spawn('ok')).r);
      await fx.kill((await fx.spawn('sibling')).r);
      await rejection(addon.spawnContainer({ helper: fx.fake, plan: fx.plan('error').plan, stdio }));
      await rejection(addon.spawnContainer({ helper: fx.fake, plan: fx.plan('error-after-pid').plan, stdio }));
      await rejection(addon.spawnContainer({ helper: fx.fake, plan: fx.plan('silent').plan, stdio }));
      await rejection(addon.spawnContainer({ helper: notElf, plan: fx.plan('ok').plan, stdio }));
    }
    expect(fdCount()).toBe(before);
  });

  it('rejects bad options and unusable fds without starting anything', async () => {
    const devnull = fx.track(openSync('/dev/null', 'r+'));
    const base = { helper: fx.fake, plan: fx.plan('ok').plan, stdio: [devnull, devnull, devnull] as [number, number, number] };
    await expect(addon.spawnContainer({ ...base, plan: 'x' as unknown as Buffer })).rejects.toThrow(TypeError);
    await expect(addon.spawnContainer({ ...base, stdio: [0, 1] as unknown as [number, number, number] })).rejects.toThrow(TypeError);
    const closed = openSync('/dev/null', 'r');
    closeSync(closed);
    await expect(addon.spawnContainer({ ...base, extraFds: [closed] })).rejects.toMatchObject({ code: 'EBADF', errno: -9 });
  });
});
