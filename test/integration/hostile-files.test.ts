// Files that are not what they claim: a fifo, a device or a socket where the
// bundle, the config or the caller names a file. None may block the runtime;
// each is refused in one line (or, for outputs, replaced), leaving nothing
// behind (root only). Every run has a short timeout: a hang fails as a signal.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, OCIRUN, isRoot, type Result } from './harness.js';
import type { Spec } from '../../src/oci/types.js';

const TIMEOUT = 10_000;

describe.runIf(isRoot)('files that are not what they claim', () => {
  let h: Harness;
  const listeners: ChildProcess[] = [];
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    for (const l of listeners.splice(0)) l.kill('SIGKILL');
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  const fifo = (name: string): string => {
    const path = join(h.work, `${name}-${h.id()}`);
    expect(spawnSync('mkfifo', [path]).status).toBe(0);
    return path;
  };

  function refused(r: Result, pattern: RegExp): void {
    expect(r.signal, 'the runtime hung').toBeNull();
    expect(r.status, r.stderr).not.toBe(0);
    expect(r.stderr).toMatch(/^ocirun: [^\n]+\n$/);
    expect(r.stderr).toMatch(pattern);
    expect(h.stateDirs()).toEqual([]);
  }

  /** A unix socket that never accepts, its backlog already full: connect() would block forever. */
  async function deafSocket(): Promise<string> {
    const path = join(h.work, `deaf-${h.id()}.sock`);
    const l = spawn('python3', ['-c', [
      'import socket,sys,time', 's=socket.socket(socket.AF_UNIX)', 's.bind(sys.argv[1])', 's.listen(0)',
      'c=socket.socket(socket.AF_UNIX)', 'c.connect(sys.argv[1])', 'print("ready",flush=True)', 'time.sleep(60)',
    ].join('\n'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
    listeners.push(l);
    await new Promise<void>((res) => l.stdout!.once('data', () => res()));
    return path;
  }

  it.each<[string, (dir: string) => void]>([
    ['a fifo', (dir) => { expect(spawnSync('mkfifo', [join(dir, 'config.json')]).status).toBe(0); }],
    ['a character device', (dir) => { symlinkSync('/dev/zero', join(dir, 'config.json')); }],
    ['a directory', (dir) => { mkdirSync(join(dir, 'config.json')); }],
  ])('refuses config.json that is %s', (_, make) => {
    const dir = join(h.work, `cfg-${h.id()}`);
    mkdirSync(dir);
    make(dir);
    refused(h.run(['run', '--bundle', dir, h.id()], { timeout: TIMEOUT }), /config\.json (is not a regular file|: is a directory)/);
  });

  it.each<[string, () => string, RegExp]>([
    ['a fifo', () => fifo('ns'), /linux\.namespaces\[\d\]\.path: .* is a fifo, not a namespace file/],
    ['a device', () => '/dev/null', /linux\.namespaces\[\d\]\.path: "\/dev\/null" is a device, not a namespace file/],
    ['a plain file', () => { const f = join(h.work, `plain-${h.id()}`); writeFileSync(f, ''); return f; }, /is a file, not a namespace file/],
    ['a directory', () => h.work, /is a directory, not a namespace file/],
    // Checked by the helper (NS_GET_NSTYPE): the type of the namespace behind the file.
    ['another namespace type', () => '/proc/self/ns/uts', /network namespace path \/proc\/self\/ns\/uts is a uts namespace/],
  ])('refuses a network namespace path that is %s', (_, path, pattern) => {
    const ns = path();
    const bundle = h.bundle((s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network').concat({ type: 'network', path: ns });
    });
    refused(h.run(['run', '--bundle', bundle, h.id()], { timeout: TIMEOUT }), pattern);
  });

  it.each(['prestart', 'createContainer'] as const)('fails a %s hook whose path is a fifo, without hanging', (kind) => {
    const hook = fifo('hook');
    const bundle = h.bundle((s: Spec) => { s.hooks = { [kind]: [{ path: hook }] }; });
    refused(h.run(['run', '--bundle', bundle, h.id()], { timeout: TIMEOUT }), new RegExp(`${kind} hook #0 \\(${hook}\\)`));
  });

  it('refuses exec --process that is a fifo or a device', () => {
    const id = h.id();
    expect(h.run(['run', '-d', '--bundle', h.bundle((s) => { s.process!.args = ['sleep', '30']; }), id]).status).toBe(0);
    for (const file of [fifo('process'), '/dev/zero']) {
      const r = h.run(['exec', '--process', file, id], { timeout: TIMEOUT });
      expect(r.signal, 'exec hung').toBeNull();
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`--process ${file}: not a regular file`));
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    h.run(['delete', '--force', id]);
  });

  it('replaces a fifo at --pid-file with the pid, as runc does', () => {
    const pidFile = fifo('pidfile');
    const id = h.id();
    const r = h.run(['create', '--bundle', h.bundle(), '--pid-file', pidFile, id], { timeout: TIMEOUT });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(pidFile, 'utf8')).toBe(String(JSON.parse(h.run(['state', id]).stdout).pid));
    h.run(['delete', '--force', id]);
  });

  it.each(['--console-socket', '--pidfd-socket'])('refuses %s that is a fifo, or a socket that never accepts', async (flag) => {
    const terminal = flag === '--console-socket';
    const bundle = h.bundle((s) => { s.process!.terminal = terminal; });
    refused(h.run(['create', '--bundle', bundle, flag, fifo('sock'), h.id()], { timeout: TIMEOUT }), /connect .*ECONNREFUSED/);
    refused(h.run(['create', '--bundle', bundle, flag, await deafSocket(), h.id()], { timeout: TIMEOUT }), /connect .*EAGAIN/);
  });

  it('hands a fifo given with --preserve-fds to the container as it is', () => {
    const path = fifo('preserved');
    // O_RDWR: a fifo opened both ways never blocks the opener.
    const fd = openSync(path, 'r+');
    try {
      const r = spawnSync(OCIRUN, ['--root', h.root, 'run', '--preserve-fds', '1', '--bundle',
        h.bundle((s) => { s.process!.args = ['sh', '-c', 'echo through >&3; read line <&3; echo "$line"']; }), h.id()],
      { stdio: ['ignore', 'pipe', 'pipe', fd], encoding: 'utf8', timeout: TIMEOUT });
      expect(r.signal, 'run hung').toBeNull();
      expect(r).toMatchObject({ status: 0, stdout: 'through\n' });
    } finally {
      closeSync(fd);
    }
  });
});
