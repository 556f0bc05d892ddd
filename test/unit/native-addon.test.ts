// The native addon against a fake init helper (the real one is tested on its
// own): spawn, the sealed memfd, fd and signal hygiene of the helper, error
// shapes, exit watching, and the small syscalls. Runs as root on Linux.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import {
  closeSync, constants, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync,
  readlinkSync, rmSync, statSync, utimesSync, writeFileSync, writeSync, ftruncateSync,
} from 'node:fs';
import { execFileSync, spawn as spawnChild, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { native, type ExitStatus, type SpawnResult } from '../../src/native/binding.js';

const FAKE_HELPER_C = String.raw`// Stand-in for ocirun-init: reads the plan from fd 3 until EOF and acts on its
// first line ("ok", "exit:<code>:<ms>", "error", "error-after-pid", "sibling",
// "silent"); the second line names a file that receives our pid(s).
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { MSG_PID = 100, MSG_ERROR = 101, E_ERRNO = 102, E_SYSCALL = 103, E_PATH = 104, E_MESSAGE = 105,
       MSG_READY = 106, MSG_WARNING = 107 };

static size_t put(char *buf, uint16_t tag, const void *p, uint32_t n) {
  uint16_t z = 0;
  memcpy(buf, &tag, 2); memcpy(buf + 2, &z, 2); memcpy(buf + 4, &n, 4);
  if (n) memcpy(buf + 8, p, n);
  return 8 + n;
}
static void all(const char *buf, size_t n) {
  while (n) { ssize_t w = write(3, buf, n); if (w <= 0) _exit(90); buf += w; n -= (size_t)w; }
}
static void msg(uint16_t tag, const void *p, uint32_t n) { char b[4096]; all(b, put(b, tag, p, n)); }
static void send_pid(pid_t pid) {
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  char b[16]; uint32_t p = (uint32_t)pid; size_t n = put(b, MSG_PID, &p, 4);
  struct iovec iov = { b, n };
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &pidfd, sizeof(int));
  if (sendmsg(3, &mh, 0) != (ssize_t)n) _exit(91);
  close(pidfd);
}
static void error(uint32_t err, const char *sc, const char *path, const char *text) {
  char inner[1024]; size_t n = 0;
  n += put(inner + n, E_ERRNO, &err, 4);
  n += put(inner + n, E_SYSCALL, sc, (uint32_t)strlen(sc));
  if (*path) n += put(inner + n, E_PATH, path, (uint32_t)strlen(path));
  n += put(inner + n, E_MESSAGE, text, (uint32_t)strlen(text));
  msg(MSG_ERROR, inner, (uint32_t)n);
}
static pid_t sibling(void) {  // like the real stage 0: the new process is our parent's child
  pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT, 0, 0, 0, 0);
  if (pid < 0) _exit(92);
  return pid;
}

int main(void) {
  // The addon sends one envelope record: u16 tag 99, u16 0, u32 length, then the plan.
  unsigned char head[8];
  size_t got = 0;
  while (got < sizeof head) {
    ssize_t n = read(3, head + got, sizeof head - got);
    if (n <= 0) _exit(93);
    got += (size_t)n;
  }
  uint32_t len32;
  memcpy(&len32, head + 4, 4);
  size_t len = len32;
  char *plan = malloc(len + 1);
  for (got = 0; got < len;) {
    ssize_t n = read(3, plan + got, len - got);
    if (n <= 0) _exit(93);
    got += (size_t)n;
  }
  plan[len] = 0;
  char mode[64] = "", pidfile[512] = "";
  sscanf(plan, "%63[^\n]\n%511[^\n]", mode, pidfile);
  char warning[64];
  snprintf(warning, sizeof warning, "plan bytes %zu", len);
  msg(MSG_WARNING, warning, (uint32_t)strlen(warning));
  FILE *pf = fopen(pidfile, "w");
  if (!pf) _exit(94);
  fprintf(pf, "%d", getpid());

  if (!strcmp(mode, "ok")) {
    fclose(pf);
    free(plan);
    const char hello[] = "hello from the helper\n";
    if (write(1, hello, sizeof hello - 1) < 0) _exit(95);
    send_pid(getpid());
    msg(MSG_READY, "", 0);
    sleep(30);
    _exit(0);
  }
  int code, ms;
  if (sscanf(mode, "exit:%d:%d", &code, &ms) == 2) {
    fclose(pf);
    send_pid(getpid());
    msg(MSG_READY, "", 0);
    usleep((useconds_t)ms * 1000);
    _exit(code);
  }
  if (!strcmp(mode, "error")) {
    fclose(pf);
    error(2, "mount", "/proc", "mounting proc");
    _exit(1);
  }
  if (!strcmp(mode, "error-after-pid")) {
    pid_t child = sibling();
    if (child == 0) { sleep(30); _exit(0); }
    fprintf(pf, " %d", child);
    fclose(pf);
    send_pid(child);
    error(13, "pivot_root", "", "entering the root filesystem");
    _exit(1);
  }
  if (!strcmp(mode, "sibling")) {
    pid_t stage0 = getpid();
    int stage0fd = (int)syscall(SYS_pidfd_open, stage0, 0);
    pid_t child = sibling();
    if (child == 0) {  // the "init": ready once stage 0 has reported us and gone
      struct pollfd p = { stage0fd, POLLIN, 0 };
      poll(&p, 1, -1);
      close(stage0fd);
      msg(MSG_READY, "", 0);
      close(3);
      sleep(30);
      _exit(0);
    }
    fprintf(pf, " %d", child);
    fclose(pf);
    send_pid(child);
    _exit(0);
  }
  if (!strcmp(mode, "init-dies")) {  // stage 0 succeeds, the init dies before MSG_READY
    int stage0fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    pid_t child = sibling();
    if (child == 0) {
      struct pollfd p = { stage0fd, POLLIN, 0 };
      poll(&p, 1, -1);
      _exit(42);
    }
    fprintf(pf, " %d", child);
    fclose(pf);
    send_pid(child);
    _exit(0);
  }
  if (!strcmp(mode, "silent")) {
    fclose(pf);
    _exit(7);
  }
  _exit(99);
}
`;

// Runs a command with clone3 failing ENOSYS, as under Docker's default seccomp profile.
const NO_CLONE3_C = String.raw`#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <unistd.h>
int main(int argc, char **argv) {
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 435 /* clone3 */, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = { sizeof f / sizeof f[0], f };
  if (argc < 2 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) return 100;
  execvp(argv[1], argv + 1);
  return 101;
}
`;

// Scenarios that need a Node process of their own (its exit, its threads).
const CHILD_SCRIPT = String.raw`import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { closeSync, openSync, readlinkSync, readdirSync } from 'node:fs';
const [addonPath, scenario, fake, dir] = process.argv.slice(2);
const addon = createRequire(import.meta.url)(addonPath);
const devnull = openSync('/dev/null', 'r+');
const spawn = (mode) => addon.spawnContainer({ helper: fake, plan: Buffer.from(mode + '\n' + dir + '/child-pids\n'), stdio: [devnull, devnull, devnull] })
  .then((r) => { closeSync(r.controlFd); return r; });
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
if (scenario === 'spawn') {
  const r = await spawn('ok');
  out({ exe: readlinkSync('/proc/' + r.pid + '/exe'), fds: readdirSync('/proc/' + r.pid + '/fd'), pidfd: r.pidfd });
  addon.watchExit(r.pidfd, out);
  addon.pidfdSendSignal(r.pidfd, 9);
  await spawn('error').catch((e) => out({ code: e.code, syscall: e.syscall }));
} else if (scenario === 'keepalive') {
  // Nothing but the pending watch keeps this process alive.
  const r = await spawn('exit:5:300');
  addon.watchExit(r.pidfd, out);
} else if (scenario === 'exit-pending') {
  addon.watchExit(addon.pidfdOpen(process.ppid), out);
  setTimeout(() => process.exit(0), 50);
} else if (scenario === 'worker') {
  const w = new Worker('const { parentPort } = require("node:worker_threads");' +
    'const a = require(' + JSON.stringify(addonPath) + ');' +
    'a.watchExit(a.pidfdOpen(process.pid), () => {});' +
    'parentPort.postMessage("watching");', { eval: true });
  await new Promise((resolve) => w.once('message', resolve));
  await w.terminate();
  const r = await spawn('exit:4:10');
  addon.watchExit(r.pidfd, out);
}
`;

const addon = native();
let dir = '';
let fake = '';
const openFds: number[] = [];
const livePidfds = new Set<number>();

function track(fd: number): number {
  openFds.push(fd);
  return fd;
}

function watch(pidfd: number): Promise<ExitStatus> {
  return new Promise((resolve) => addon.watchExit(pidfd, resolve));
}

/** SIGKILLs a spawned process, waits for its exit status and closes its pidfd. */
async function kill(r: SpawnResult): Promise<ExitStatus> {
  const status = watch(r.pidfd);
  addon.pidfdSendSignal(r.pidfd, 9);
  const s = await status;
  closeSync(r.pidfd);
  livePidfds.delete(r.pidfd);
  return s;
}

let planCount = 0;
/** The fake reads mode and pid file from the first two lines of the plan. */
function plan(mode: string, padding = 0): { plan: Buffer; pidfile: string } {
  const pidfile = join(dir, `pids-${planCount++}`);
  return { plan: Buffer.concat([Buffer.from(`${mode}\n${pidfile}\n`), Buffer.alloc(padding, 0x2a)]), pidfile };
}

function pids(pidfile: string): number[] {
  return readFileSync(pidfile, 'utf8').trim().split(' ').map(Number);
}

async function spawn(mode: string, extra: Partial<Parameters<typeof addon.spawnContainer>[0]> = {}) {
  const p = plan(mode);
  const devnull = openSync('/dev/null', 'r+');
  try {
    const r = await addon.spawnContainer({ helper: fake, plan: p.plan, stdio: [devnull, devnull, devnull], ...extra });
    livePidfds.add(r.pidfd);
    // The fake does not wait for a commit byte; the control socket is ours to close.
    expect(r.controlFd).toBeGreaterThanOrEqual(0);
    closeSync(r.controlFd);
    return { r, pidfile: p.pidfile };
  } finally {
    closeSync(devnull);  // the helper has its own copy
  }
}

function addonPath(): string {
  const build = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build');
  const found = ['Release', 'Debug'].map((d) => join(build, d, 'ocirun_native.node')).find((f) => existsSync(f));
  if (!found) throw new Error('addon not built');
  return found;
}

/** Runs CHILD_SCRIPT in a fresh Node, optionally under a wrapper; returns its JSON lines. */
function runChild(scenario: string, wrapper: string[] = []) {
  const started = Date.now();
  const argv = [...wrapper, process.execPath, join(dir, 'child.mjs'), addonPath(), scenario, fake, dir];
  const res = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 20_000 });
  const lines = res.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { status: res.status, signal: res.signal, stderr: res.stderr, lines, ms: Date.now() - started };
}

async function rejection(p: Promise<unknown>): Promise<NodeJS.ErrnoException> {
  try {
    await p;
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
  throw new Error('expected a rejection');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ocirun-addon-'));
  writeFileSync(join(dir, 'fake.c'), FAKE_HELPER_C);
  fake = join(dir, 'fake-init');
  execFileSync('cc', ['-O1', '-o', fake, join(dir, 'fake.c')]);
  writeFileSync(join(dir, 'noclone3.c'), NO_CLONE3_C);
  execFileSync('cc', ['-O1', '-o', join(dir, 'noclone3'), join(dir, 'noclone3.c')]);
  writeFileSync(join(dir, 'child.mjs'), CHILD_SCRIPT);
});

afterAll(async () => {
  for (const pidfd of livePidfds) {
    const status = watch(pidfd);
    try {
      addon.pidfdSendSignal(pidfd, 9);
      await status;
    } catch {
      // already gone
    }
    closeSync(pidfd);
  }
  for (const fd of openFds) closeSync(fd);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('spawnContainer', () => {
  it('starts the helper from a sealed memfd with exactly stdio, the socket and the extra fds', async () => {
    const fifo = join(dir, 'stdout.fifo');
    addon.mkfifo(fifo, 0o600);
    const reader = track(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
    const writer = track(openSync(fifo, constants.O_WRONLY));
    const devnull = track(openSync('/dev/null', 'r'));
    const extraA = track(openSync(join(dir, 'extra-a'), 'w'));
    const extraB = track(openSync(join(dir, 'extra-b'), 'w'));
    // Big enough that the plan cannot go out in one write.
    const p = plan('ok', 4 << 20);

    const r = await addon.spawnContainer({
      helper: fake, plan: p.plan, stdio: [devnull, writer, writer], extraFds: [extraB, extraA],
    });
    livePidfds.add(r.pidfd);
    closeSync(r.controlFd);

    expect(r.pid).toBe(pids(p.pidfile)[0]);
    expect(r.pidfd).toBeGreaterThan(2);
    expect(r.warnings).toEqual([`plan bytes ${p.plan.length}`]);
    expect(readFileSync(`/proc/${r.pid}/stat`, 'utf8')).toMatch(/^\d+ \(.*\) [RS] /);

    const fds = readdirSync(`/proc/${r.pid}/fd`).map(Number).sort((a, b) => a - b);
    expect(fds).toEqual([0, 1, 2, 3, 4, 5]);
    expect(readlinkSync(`/proc/${r.pid}/fd/0`)).toBe('/dev/null');
    expect(readlinkSync(`/proc/${r.pid}/fd/1`)).toBe(fifo);
    expect(readlinkSync(`/proc/${r.pid}/fd/2`)).toBe(fifo);
    expect(readlinkSync(`/proc/${r.pid}/fd/3`)).toMatch(/^socket:/);
    expect(readlinkSync(`/proc/${r.pid}/fd/4`)).toBe(join(dir, 'extra-b'));
    expect(readlinkSync(`/proc/${r.pid}/fd/5`)).toBe(join(dir, 'extra-a'));

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
    const exe = track(openSync(`/proc/${r.pid}/exe`, 'r'));

    expect(await kill(r)).toEqual({ exitCode: null, signal: 9, known: true });
    expect(existsSync(`/proc/${r.pid}`)).toBe(false);

    // No longer executing, so nothing but the seals stands in the way of a write.
    // (Closed right away: a writable open makes every later exec of the copy ETXTBSY.)
    const rw = openSync(`/proc/self/fd/${exe}`, 'r+');
    try {
      expect(() => writeSync(rw, 'x', 0)).toThrow(expect.objectContaining({ code: 'EPERM' }));
      expect(() => ftruncateSync(rw, 0)).toThrow(expect.objectContaining({ code: 'EPERM' }));
      expect(fstatSync(rw).size).toBe(statSync(fake).size);
    } finally {
      closeSync(rw);
    }
  });

  it('copies the helper once and again only when the file changes', async () => {
    const inode = async () => {
      const { r } = await spawn('ok');
      const ino = statSync(`/proc/${r.pid}/exe`).ino;
      await kill(r);
      return ino;
    };
    const first = await inode();
    expect(await inode()).toBe(first);
    const later = new Date(Date.now() + 5000);
    utimesSync(fake, later, later);
    const third = await inode();
    expect(third).not.toBe(first);
    expect(await inode()).toBe(third);
  });

  it('returns the init that stage 0 cloned as our child, and reaps stage 0', async () => {
    const { r, pidfile } = await spawn('sibling');
    const [stage0, init] = pids(pidfile);
    expect(r.pid).toBe(init);
    expect(existsSync(`/proc/${stage0}`)).toBe(false);
    expect(readFileSync(`/proc/${init}/stat`, 'utf8').split(' ')[3]).toBe(String(process.pid));
    expect(await kill(r)).toEqual({ exitCode: null, signal: 9, known: true });
  });

  it('rejects with the helper error as a SystemError and reaps the helper', async () => {
    const p = plan('error');
    const devnull = track(openSync('/dev/null', 'r+'));
    const err = await rejection(addon.spawnContainer({ helper: fake, plan: p.plan, stdio: [devnull, devnull, devnull] }));
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('mounting proc: mount /proc: ENOENT: no such file or directory');
    expect(err).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'mount', path: '/proc' });
    expect(existsSync(`/proc/${pids(p.pidfile)[0]}`)).toBe(false);
  });

  it('kills and reaps an init reported before the error', async () => {
    const p = plan('error-after-pid');
    const devnull = track(openSync('/dev/null', 'r+'));
    const err = await rejection(addon.spawnContainer({ helper: fake, plan: p.plan, stdio: [devnull, devnull, devnull] }));
    expect(err).toMatchObject({ code: 'EACCES', errno: -13, syscall: 'pivot_root' });
    expect(err.path).toBeUndefined();
    expect(err.message).toBe('entering the root filesystem: pivot_root: EACCES: permission denied');
    const [stage0, init] = pids(p.pidfile);
    expect(existsSync(`/proc/${stage0}`)).toBe(false);
    expect(existsSync(`/proc/${init}`)).toBe(false);
  });

  it('reports a helper that exits without a word', async () => {
    const p = plan('silent');
    const devnull = track(openSync('/dev/null', 'r+'));
    const started = Date.now();
    const err = await rejection(addon.spawnContainer({ helper: fake, plan: p.plan, stdio: [devnull, devnull, devnull] }));
    expect(err.message).toBe('init helper exited unexpectedly (exit status 7)');
    expect(err.code).toBe('ERR_OCIRUN_HELPER');
    expect(Date.now() - started).toBeLessThan(1500);
    expect(existsSync(`/proc/${pids(p.pidfile)[0]}`)).toBe(false);
  });

  it('reports an init that dies before it is ready', async () => {
    const p = plan('init-dies');
    const devnull = track(openSync('/dev/null', 'r+'));
    const err = await rejection(addon.spawnContainer({ helper: fake, plan: p.plan, stdio: [devnull, devnull, devnull] }));
    expect(err.message).toBe('container init exited during setup (exit status 42)');
    const [stage0, init] = pids(p.pidfile);
    expect(existsSync(`/proc/${stage0}`)).toBe(false);
    expect(existsSync(`/proc/${init}`)).toBe(false);
  });

  it('reports a helper that cannot be executed', async () => {
    const notElf = join(dir, 'not-an-elf');
    writeFileSync(notElf, 'this is not an executable\n', { mode: 0o755 });
    const devnull = track(openSync('/dev/null', 'r+'));
    const err = await rejection(addon.spawnContainer({ helper: notElf, plan: plan('ok', 1 << 20).plan, stdio: [devnull, devnull, devnull] }));
    expect(err).toMatchObject({ code: 'ENOEXEC', errno: -8, syscall: 'execveat', path: notElf });
    expect(err.message).toBe(`starting the init helper: execveat ${notElf}: ENOEXEC: exec format error`);

    const missing = join(dir, 'missing');
    const err2 = await rejection(addon.spawnContainer({ helper: missing, plan: Buffer.alloc(1), stdio: [devnull, devnull, devnull] }));
    expect(err2).toMatchObject({ code: 'ENOENT', errno: -2, path: missing });
  });

  it('falls back to fork() where clone3 is refused', () => {
    const res = runChild('spawn', [join(dir, 'noclone3')]);
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(res.lines[0]).toMatchObject({ exe: '/memfd:ocirun-init (deleted)', fds: ['0', '1', '2', '3'] });
    expect(res.lines[0].pidfd).toBeGreaterThan(2);
    expect(res.lines.slice(1)).toEqual(
      expect.arrayContaining([{ exitCode: null, signal: 9, known: true }, { code: 'ENOENT', syscall: 'mount' }]));
  });

  it('leaves no descriptor behind, whatever the outcome', async () => {
    const fdCount = () => readdirSync('/proc/self/fd').length;
    const devnull = track(openSync('/dev/null', 'r+'));
    const stdio: [number, number, number] = [devnull, devnull, devnull];
    const notElf = join(dir, 'not-an-elf-2');
    writeFileSync(notElf, 'nope\n', { mode: 0o755 });
    await kill((await spawn('ok')).r);  // warm-up: the watcher's epoll fd and eventfd stay
    const before = fdCount();
    for (let i = 0; i < 3; i++) {
      await kill((await spawn('ok')).r);
      await kill((await spawn('sibling')).r);
      await rejection(addon.spawnContainer({ helper: fake, plan: plan('error').plan, stdio }));
      await rejection(addon.spawnContainer({ helper: fake, plan: plan('error-after-pid').plan, stdio }));
      await rejection(addon.spawnContainer({ helper: fake, plan: plan('silent').plan, stdio }));
      await rejection(addon.spawnContainer({ helper: notElf, plan: plan('ok').plan, stdio }));
    }
    expect(fdCount()).toBe(before);
  });

  it('rejects bad options and unusable fds without starting anything', async () => {
    const devnull = track(openSync('/dev/null', 'r+'));
    const base = { helper: fake, plan: plan('ok').plan, stdio: [devnull, devnull, devnull] as [number, number, number] };
    await expect(addon.spawnContainer({ ...base, plan: 'x' as unknown as Buffer })).rejects.toThrow(TypeError);
    await expect(addon.spawnContainer({ ...base, stdio: [0, 1] as unknown as [number, number, number] })).rejects.toThrow(TypeError);
    const closed = openSync('/dev/null', 'r');
    closeSync(closed);
    await expect(addon.spawnContainer({ ...base, extraFds: [closed] })).rejects.toMatchObject({ code: 'EBADF', errno: -9 });
  });
});

describe('watchExit', () => {
  it('reports an exit code', async () => {
    const { r } = await spawn('exit:3:100');
    expect(await watch(r.pidfd)).toEqual({ exitCode: 3, signal: null, known: true });
    closeSync(r.pidfd);
    livePidfds.delete(r.pidfd);
    expect(existsSync(`/proc/${r.pid}`)).toBe(false);
  });

  it('serves 20 concurrent watches', async () => {
    const spawned = await Promise.all(Array.from({ length: 20 }, (_, i) => spawn(`exit:${i + 10}:${50 + 10 * i}`)));
    const statuses = await Promise.all(spawned.map(({ r }) => watch(r.pidfd)));
    statuses.forEach((s, i) => expect(s).toEqual({ exitCode: i + 10, signal: null, known: true }));
    for (const { r } of spawned) {
      closeSync(r.pidfd);
      livePidfds.delete(r.pidfd);
      expect(existsSync(`/proc/${r.pid}`)).toBe(false);
    }
  });

  it('reports known=false for a process that is not our child', async () => {
    // A grandchild that its own parent (the shell) reaps, so nothing is orphaned.
    const sh = spawnChild('sh', ['-c', 'sleep 0.3 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const shellDone = new Promise((resolve) => sh.once('exit', resolve));
    const pid = await new Promise<number>((resolve) => sh.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
    const pidfd = addon.pidfdOpen(pid);
    expect(await watch(pidfd)).toEqual({ exitCode: null, signal: null, known: false });
    closeSync(pidfd);
    await shellDone;
  });

  it('keeps the event loop alive until the callback, and no longer', () => {
    const res = runChild('keepalive');
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(res.lines).toEqual([{ exitCode: 5, signal: null, known: true }]);
    expect(res.ms).toBeLessThan(10_000);
  });

  it('lets the process exit with watches pending', () => {
    const res = runChild('exit-pending');
    expect(res).toMatchObject({ status: 0, signal: null, stderr: '', lines: [] });
  });

  it('survives a worker thread that ends with a watch pending', () => {
    const res = runChild('worker');
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(res.lines).toEqual([{ exitCode: 4, signal: null, known: true }]);
  });

  it('refuses what is not a pidfd', () => {
    const fd = track(openSync('/dev/null', 'r'));
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
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: 'ESRCH', errno: -3, syscall: 'pidfd_open' });
    expect(err!.message).toBe('pidfd_open: ESRCH: no such process');
  });
});

describe('mkfifo and locks', () => {
  it('creates a FIFO and reports EEXIST with the path', () => {
    const path = join(dir, 'exec.fifo');
    addon.mkfifo(path, 0o600);
    expect(statSync(path).isFIFO()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600 & ~process.umask());
    expect(() => addon.mkfifo(path, 0o600)).toThrow(expect.objectContaining({ code: 'EEXIST', errno: -17, syscall: 'mkfifo', path }));
  });

  it('takes flock locks without blocking', () => {
    const path = join(dir, 'lock');
    writeFileSync(path, '');
    const a = track(openSync(path, 'r'));
    const b = track(openSync(path, 'r'));
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
