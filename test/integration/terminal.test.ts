// process.terminal as a user sees it: the pty comes from the container's own
// devpts, reaches a --console-socket the way runc sends it, and in the
// foreground `run` and `exec -t` behave like a terminal session (raw mode,
// resizes, the terminal restored afterwards). The terminal side is driven by
// ptyctl.py, since Node has no ptys of its own.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Harness, OCIRUN, isRoot } from './harness.js';
import type { Spec } from '../../src/oci/types.js';

const PTYCTL = fileURLToPath(new URL('./ptyctl.py', import.meta.url));
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

interface PtyRun { exit: number; output: string; restored: boolean; timedOut: boolean }
interface Received { payload: string; fds: number; isChar: boolean; major: number; isatty: boolean; link: string; pid?: number; output: string }

const tty = (script: string, size?: { height: number; width: number }) => (spec: Spec): void => {
  spec.process!.terminal = true;
  spec.process!.args = ['sh', '-c', script];
  if (size) spec.process!.consoleSize = size;
};

describe.runIf(isRoot)('terminals', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  /** The CLI as the session leader of a fresh pty of the given size. */
  function inPty(args: string[], o: { rows?: number; cols?: number; send?: string; resize?: string; after?: string } = {}): PtyRun {
    const flags = [`--rows=${o.rows ?? 24}`, `--cols=${o.cols ?? 80}`];
    if (o.send !== undefined) flags.push(`--send=${o.send}`);
    if (o.resize) flags.push(`--resize=${o.resize}`);
    if (o.after) flags.push(`--after=${o.after}`);
    const r = spawnSync(PYTHON, [PTYCTL, 'run', ...flags, '--', OCIRUN, '--root', h.root, ...args], {
      encoding: 'utf8', timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout) as PtyRun;
  }

  /** A runc-style recvtty on a fresh socket; resolves with what it got once the pty closes. */
  async function receiver(send?: string): Promise<{ socket: string; result: Promise<Received> }> {
    const socket = join(h.work, `console-${h.id()}.sock`);
    const child = spawn(PYTHON, [PTYCTL, 'recv', socket, ...(send === undefined ? [] : [`--send=${send}`])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    await new Promise<void>((res, rej) => {
      child.stderr!.on('data', (d) => { if (String(d).includes('ready')) res(); });
      child.on('exit', () => rej(new Error('receiver exited early')));
    });
    const result = new Promise<Received>((res) => child.on('exit', () => res(JSON.parse(out) as Received)));
    return { socket, result };
  }

  it('refuses a terminal nobody could reach, and a console socket without a terminal', () => {
    const withTty = h.bundle(tty('true'));
    const create = h.run(['create', '--bundle', withTty, h.id()]);
    expect(create.status).toBe(1);
    expect(create.stderr).toMatch(/^ocirun: cannot allocate a terminal for a detached process without --console-socket/);
    expect(create.stderr.trim().split('\n')).toHaveLength(1);
    expect(h.run(['run', '-d', '--bundle', withTty, h.id()]).stderr).toMatch(/without --console-socket/);
    const noTty = h.run(['create', '--bundle', h.bundle(), '--console-socket', join(h.work, 'none.sock'), h.id()]);
    expect(noTty.status).toBe(1);
    expect(noTty.stderr).toMatch(/--console-socket given but the process has no terminal/);
    const foreground = h.run(['run', '--bundle', withTty, '--console-socket', join(h.work, 'none.sock'), h.id()]);
    expect(foreground.stderr).toMatch(/--console-socket is only for detached processes/);
    const missing = h.run(['create', '--bundle', withTty, '--console-socket', join(h.work, 'missing.sock'), h.id()]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/connect .*missing\.sock.*ENOENT/);
    expect(h.stateDirs()).toEqual([]);
  });

  it('sends the master of a container-owned pty to --console-socket, as runc does', async () => {
    const { socket, result } = await receiver('typed-in\n');
    const id = h.id();
    const script = 'read line; echo "line=$line"; tty; stty size; ls -l /dev/console; '
      + 'echo "ctty=$(cut -d" " -f7 /proc/self/stat)"; test -t 0 && test -t 1 && test -t 2 && echo all-tty';
    const bundle = h.bundle(tty(script, { height: 33, width: 101 }));
    expect(h.run(['create', '--bundle', bundle, '--console-socket', socket, id])).toMatchObject({ status: 0, stderr: '' });
    expect(h.run(['start', id]).status).toBe(0);
    const got = await result;
    // runc 1.1 sends the name it opened the master by, with the fd in SCM_RIGHTS.
    expect(got).toMatchObject({ payload: '/dev/ptmx', fds: 1, isChar: true, isatty: true });
    // Typed input echoes (cooked mode) and reaches the process.
    expect(got.output).toContain('line=typed-in\r\n');
    // The container's devpts numbers its first pty 0, whatever the host has.
    expect(got.output).toContain('/dev/pts/0\r\n');
    expect(got.output).toContain('33 101\r\n');
    // /dev/console is the same pty (character device 136, 0).
    expect(got.output).toMatch(/crw--w----\s+1 root\s+\S+\s+136,\s+0 .* \/dev\/console/);
    expect(got.output).toMatch(/ctty=34816\r\n/);  // (136 << 8) | 0: it is the controlling terminal
    expect(got.output).toContain('all-tty');
  });

  it('--pidfd-socket receives a pidfd of the init (create) or of the exec\'d process', async () => {
    const id = h.id();
    let rx = await receiver();
    expect(h.run(['create', '--bundle', h.bundle((s) => { s.process!.args = ['sleep', '60']; }), '--pidfd-socket', rx.socket, id]).status).toBe(0);
    const init = JSON.parse(h.run(['state', id]).stdout).pid as number;
    expect(await rx.result).toMatchObject({ payload: 'pidfd', fds: 1, link: 'anon_inode:[pidfd]', pid: init });
    expect(h.run(['start', id]).status).toBe(0);
    rx = await receiver();
    const pidFile = join(h.work, `${id}.exec.pid`);
    expect(h.run(['exec', '-d', '--pid-file', pidFile, '--pidfd-socket', rx.socket, id, 'sleep', '30']).status).toBe(0);
    expect(await rx.result).toMatchObject({ payload: 'pidfd', link: 'anon_inode:[pidfd]', pid: Number(readFileSync(pidFile, 'utf8')) });
    const missing = h.run(['create', '--bundle', h.bundle(), '--pidfd-socket', join(h.work, 'nobody.sock'), h.id()]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/connect .*nobody\.sock.*ENOENT/);
  });

  it('runs attached in the foreground: size, resize, input, exit code, terminal restored', () => {
    const script = 'trap "echo size=\\$(stty size)" WINCH; echo "size=$(stty size)"; tty; echo READY; '
      + 'while ! read x; do :; done; echo "got=$x"; exit 3';
    const r = inPty(['run', '--bundle', h.bundle(tty(script)), h.id()], {
      rows: 30, cols: 100, after: 'READY', resize: '40x120', send: 'hello\n',
    });
    expect(r.timedOut).toBe(false);
    expect(r.exit).toBe(3);
    expect(r.output).toContain('size=30 100\r\n');
    expect(r.output).toContain('/dev/pts/0\r\n');
    expect(r.output).toContain('size=40 120\r\n');
    expect(r.output).toContain('got=hello\r\n');
    // Raw mode was on while it ran and is off again.
    expect(r.restored).toBe(true);
  });

  it('^C typed in the foreground reaches the container as SIGINT through its own pty', () => {
    const script = 'trap "echo interrupted; exit 130" INT; echo READY; while :; do sleep 0.05; done';
    const r = inPty(['run', '--bundle', h.bundle(tty(script)), h.id()], { after: 'READY', send: '\x03' });
    expect(r.output).toContain('interrupted');
    expect(r.exit).toBe(130);
    expect(r.restored).toBe(true);
  });

  it('exec -t attaches a new pty of the container; exec -t -d sends it to --console-socket', async () => {
    const id = h.id();
    expect(h.run(['run', '-d', '--bundle', h.bundle((s) => { s.process!.args = ['sleep', '60']; }), id]).status).toBe(0);
    const r = inPty(['exec', '-t', id, 'sh', '-c', 'tty; echo "size=$(stty size)"; read x; echo "got=$x"; exit 4'],
      { rows: 11, cols: 66, send: 'abc\n' });
    expect(r).toMatchObject({ exit: 4, restored: true, timedOut: false });
    expect(r.output).toMatch(/\/dev\/pts\/\d+\r\n/);
    expect(r.output).toContain('size=11 66\r\n');
    expect(r.output).toContain('got=abc\r\n');

    const { socket, result } = await receiver('echo via-socket; exit\n');
    const d = h.run(['exec', '-t', '-d', '--console-socket', socket, id, 'sh']);
    expect(d).toMatchObject({ status: 0, stderr: '' });
    const got = await result;
    expect(got).toMatchObject({ payload: '/dev/ptmx', isatty: true });
    expect(got.output).toContain('via-socket\r\n');
    // Without -d the terminal is ours to attach; with -d somebody must take it.
    expect(h.run(['exec', '-t', '-d', id, 'true']).stderr).toMatch(/without --console-socket/);
    expect(h.run(['kill', id, 'KILL']).status).toBe(0);
  });
});
