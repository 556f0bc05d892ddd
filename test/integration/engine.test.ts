// Who the daemon serves: only callers of its own build, uid and namespaces.
// Each refusal must still leave the call working, in a Node process of its own.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness, isRoot, OCIRUN, waitFor } from './harness.js';
import { daemonPids, ENGINE_DIR, stopDaemons } from '../support/engine.js';
import { native } from '../../src/native/binding.js';
import { refusePeer, SHARED_NAMESPACES } from '../../src/daemon/server.js';

const DAEMON = fileURLToPath(new URL('../../dist/daemon/main.js', import.meta.url));
const CONTEXT = fileURLToPath(new URL('../../dist/context.js', import.meta.url));

describe.runIf(isRoot)('engine daemon', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    stopDaemons(h.root);
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  const engineDir = () => join(h.root, ENGINE_DIR);
  /** The sockets of live daemons (a SIGKILLed daemon leaves its socket file behind). */
  const sockets = () => (existsSync(engineDir()) ? readdirSync(engineDir()) : [])
    .filter((f) => f.endsWith('.sock') && existsSync(join(engineDir(), `${f}.pid`)) && daemonPids(h.root).includes(Number(readFileSync(join(engineDir(), `${f}.pid`), 'utf8'))));
  const log = () => readFileSync(join(engineDir(), 'daemon.log'), 'utf8');

  it('passes the container\'s exit code to run, and the process\'s (or 128 + its signal) to exec', () => {
    expect(h.run(['run', '--bundle', h.bundle((s) => { s.process!.args = ['sh', '-c', 'exit 42']; }), h.id()]).status).toBe(42);
    const id = h.id();
    expect(h.run(['run', '--detach', '--bundle', h.bundle((s) => { s.process!.args = ['sleep', '30']; }), id]).status).toBe(0);
    expect(h.run(['exec', id, 'sh', '-c', 'echo in; exit 7'])).toMatchObject({ status: 7, stdout: 'in\n' });
    // Not pid 1 of its namespace, so a signal of its own does kill it.
    expect(h.run(['exec', id, 'sh', '-c', 'kill -TERM $$']).status).toBe(143);
    expect(h.run(['exec', id, 'sh', '-c', 'kill -9 $$']).status).toBe(137);
    expect(daemonPids(h.root)).toHaveLength(1);
  });

  it('the front end and the Node CLI take the same state root, in every world', () => {
    // Read by both sides in one process tree: the front end's debug line (engine
    // off, so no daemon starts), then createContext's root, which every call uses.
    const ownedByRoot = join(h.work, 'xdg-root');
    const ownedByNobody = join(h.work, 'xdg-nobody');
    mkdirSync(ownedByRoot, { recursive: true });
    mkdirSync(ownedByNobody, { recursive: true });
    chownSync(ownedByNobody, 65534, 65534);
    const probe = [
      `OCIRUN_ENGINE=off OCIRUN_ENGINE_DEBUG=1 ${OCIRUN} "$@" --version 2>&1 >/dev/null | sed -n 's/^ocirun engine: //p'`,
      `${process.execPath} --input-type=module -e 'const a = process.argv.slice(1); const r = a[0] === "--root" ? a[1] : undefined;`
      + ` try { console.log("state root " + (await import(${JSON.stringify(CONTEXT)})).createContext({ root: r }).root); } catch (e) { console.log("none: " + e.message); }' -- "$@"`,
    ].join('; ');
    const worlds: Array<[string, string[], NodeJS.ProcessEnv, number?]> = [
      ['root', [], {}],
      ['root with XDG_RUNTIME_DIR', [], { XDG_RUNTIME_DIR: ownedByRoot }],
      ['root, --root relative and with ..', ['--root', 'a/../b//c/.'], { XDG_RUNTIME_DIR: ownedByRoot }],
      ['root of a user namespace owning XDG_RUNTIME_DIR', ['unshare', '-Ur'], { XDG_RUNTIME_DIR: ownedByRoot }],
      ['root of a user namespace not owning it', ['unshare', '-Ur'], { XDG_RUNTIME_DIR: ownedByNobody }],
      ['a user with XDG_RUNTIME_DIR', [], { XDG_RUNTIME_DIR: ownedByNobody }, 65534],
      ['a user with a relative XDG_RUNTIME_DIR', [], { XDG_RUNTIME_DIR: 'run/' }, 65534],
      ['a user without', [], {}, 65534],
      ['a user with --root', ['--root', '/tmp/x'], {}, 65534],
    ];
    const seen = worlds.map(([what, pre, env, uid]) => {
      const [wrap, rest] = pre[0] === 'unshare' ? [pre, []] : [[], pre];
      const r = spawnSync(wrap[0] ?? 'sh', [...wrap.slice(1), ...(wrap.length ? ['sh'] : []), '-c', probe, 'probe', ...rest], {
        encoding: 'utf8', cwd: h.work, env: { PATH: process.env.PATH, ...env }, ...(uid ? { uid, gid: uid } : {}),
      });
      const [fe, ts] = r.stdout.trim().split('\n');
      return { what, fe, ts: ts?.startsWith('none: ') ? 'no state root (not root, no --root, no XDG_RUNTIME_DIR)' : ts, why: ts };
    });
    for (const s of seen) expect(s.fe, `${s.what}: ${s.why}`).toBe(s.ts);
    expect(seen.map((s) => s.fe)).toEqual([
      'state root /run/ocirun', 'state root /run/ocirun', `state root ${h.work}/b/c`,
      `state root ${ownedByRoot}/ocirun`, 'state root /run/ocirun',
      `state root ${ownedByNobody}/ocirun`, `state root ${h.work}/run/ocirun`,
      'no state root (not root, no --root, no XDG_RUNTIME_DIR)', 'state root /tmp/x',
    ]);
  });

  it('an old daemon on the socket is refused by a new build, and the call runs in Node', async () => {
    expect(h.run(['list', '-q']).status).toBe(0);
    const [socket] = sockets();
    stopDaemons(h.root);
    // The daemon of another build, squatting the name this build's front end uses.
    const old = spawn(process.execPath, [DAEMON, '--socket', join(engineDir(), socket), '--build-id', 'old-build'], {
      stdio: ['ignore', 'ignore', 'ignore'], detached: true,
    });
    try {
      await waitFor(() => daemonPids(h.root).includes(old.pid!) && existsSync(join(engineDir(), socket)), 10_000);
      const id = h.id();
      expect(h.run(['run', '--bundle', h.bundle((s) => { s.process!.args = ['sh', '-c', 'echo node; exit 3']; }), id])).toMatchObject({ status: 3, stdout: 'node\n' });
      expect(readFileSync(`/proc/${old.pid}/cmdline`, 'utf8')).toContain('old-build');
      expect(existsSync(`/proc/${old.pid}`)).toBe(true);
    } finally {
      old.kill('SIGKILL');
    }
  });

  it('a first call whose state root and its parents do not exist yet is served by a daemon (the CRI shim\'s --root <Root>/k8s.io)', () => {
    const root = join(h.work, 'fresh', 'k8s.io');
    try {
      const r = spawnSync(OCIRUN, ['--root', root, 'list', '-q'], { encoding: 'utf8', env: { ...process.env, OCIRUN_ENGINE_DEBUG: '1' } });
      // The front end's debug output names the root, and nothing else: no fallback, no reason for one.
      expect(r).toMatchObject({ status: 0, stderr: `ocirun engine: state root ${root}\n` });
      expect(daemonPids(root)).toHaveLength(1);
      expect(statSync(join(h.work, 'fresh')).mode & 0o777).toBe(0o700);
    } finally {
      stopDaemons(root);
      rmSync(join(h.work, 'fresh'), { recursive: true, force: true });
    }
  });

  it('a caller in another mount namespace gets a daemon of its own', () => {
    expect(h.run(['list', '-q']).status).toBe(0);
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', OCIRUN, '--root', h.root, 'list', '-q'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(sockets()).toHaveLength(2);
    expect(daemonPids(h.root)).toHaveLength(2);
    const [a, b] = daemonPids(h.root).map((pid) => readlinkSync(`/proc/${pid}/ns/mnt`));
    expect(a).not.toBe(b);
  });

  it('removes the names of daemons gone, never a live one\'s, and its own on the way out', async () => {
    expect(h.run(['list', '-q']).status).toBe(0);
    const [first] = daemonPids(h.root);
    const [live] = sockets();
    // What a SIGKILLed daemon of an older build leaves: socket, pid file, lock.
    const stale = join(engineDir(), 'oldbuild0000000-0-0123456789abcdef.sock');
    for (const f of ['', '.pid', '.lock']) writeFileSync(`${stale}${f}`, f === '.pid' ? '999999\n' : '');
    // A second daemon (another mount namespace) sweeps as it starts.
    expect(spawnSync('unshare', ['-m', '--propagation', 'private', OCIRUN, '--root', h.root, 'list', '-q']).status).toBe(0);
    const names = () => readdirSync(engineDir()).filter((f) => f.includes('.sock')).sort();
    expect(names().filter((f) => f.startsWith('oldbuild'))).toEqual([]);
    expect(names()).toContain(`${live}.lock`);
    expect(names().filter((f) => f.endsWith('.sock.lock'))).toHaveLength(2);
    expect(log()).toContain(`removed the name of a daemon gone: ${stale}`);
    // A daemon that exits (idle, or told to) takes its name with it.
    process.kill(first, 'SIGTERM');
    await waitFor(() => !existsSync(`/proc/${first}`), 10_000);
    expect(names().filter((f) => f.startsWith(live))).toEqual([]);
    expect(names().filter((f) => f.endsWith('.sock.lock'))).toHaveLength(1);
    // And the next call starts a daemon of that name again.
    expect(h.run(['list', '-q']).status).toBe(0);
    expect(sockets()).toContain(live);
  });

  it('judges a caller by its pidfd: another mount namespace is refused, and so is a caller gone before it is served', async () => {
    const addon = native();
    const path = join(h.work, 'peer.sock');
    const listen = addon.listenUnix(path);
    const accepted: number[] = [];
    const accept = async () => {
      for (let i = 0; i < 400; i++) {
        const p = addon.acceptUnix(listen, SHARED_NAMESPACES);
        if (p) { accepted.push(p.fd); return p; }
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('no connection');
    };
    const client = (wrap: string[], hold: number) => spawn(wrap[0] ?? 'python3', [...wrap.slice(1), ...(wrap.length ? ['python3'] : []), '-c',
      `import socket, time; s = socket.socket(socket.AF_UNIX); s.connect(${JSON.stringify(path)}); time.sleep(${hold})`], { stdio: 'ignore' });
    try {
      const same = client([], 2);
      const here = await accept();
      // Kernel 6.5+ (SO_PEERPIDFD) and 6.11+ (PIDFD_GET_*_NAMESPACE): read through the pidfd, no pid involved.
      expect(here.nsVia).toBe('pidfd');
      expect(here.pid).toBe(same.pid);
      expect(refusePeer(here)).toBeUndefined();
      same.kill('SIGKILL');
      const other = client(['unshare', '-m'], 2);
      expect(refusePeer(await accept())).toBe('the caller is in other namespaces (mnt)');
      other.kill('SIGKILL');
      // Connected, then exited and reaped before the accept: its pid may be anyone's now.
      const gone = client([], 0);
      await new Promise((r) => gone.on('exit', r));
      const late = await accept();
      expect(late.pid).toBe(gone.pid);
      expect(refusePeer(late)).toBe('the caller has exited');
    } finally {
      for (const fd of [listen, ...accepted]) closeSync(fd);
    }
  });

  it('refuses a caller of another uid even when it can reach the socket', () => {
    const user = `ocirun-t${process.pid}`;
    expect(spawnSync('useradd', ['--no-create-home', '--shell', '/bin/false', user]).status).toBe(0);
    try {
      const uid = Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
      expect(h.run(['list', '-q']).status).toBe(0);
      const [socket] = sockets();
      // Open the way in, as a careless admin might, and hand the user root's socket under its own name.
      chmodSync(h.work, 0o755);
      chmodSync(h.root, 0o711);
      chmodSync(engineDir(), 0o711);
      chmodSync(join(engineDir(), socket), 0o777);
      symlinkSync(join(engineDir(), socket), join(engineDir(), socket.replace(/-0-/, `-${uid}-`)));
      const r = spawnSync('runuser', ['-u', user, '--', OCIRUN, '--root', h.root, 'state', 'nope'], { encoding: 'utf8', cwd: '/' });
      // Served by a Node process of the user's own: it cannot read root's state.
      expect(r.status).toBe(1);
      expect(log()).toMatch(new RegExp(`refused pid \\d+: uid ${uid} may not use the daemon of uid 0`));
    } finally {
      chmodSync(h.root, 0o700);
      chmodSync(engineDir(), 0o700);
      spawnSync('userdel', [user]);
    }
  });
});
