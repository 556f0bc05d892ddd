// An unprivileged user for the rootless suites: made with useradd (and
// /etc/subuid, /etc/subgid ranges), given a private XDG_RUNTIME_DIR and home
// in a temp dir, and removed with everything it ran, even after a failure.
// Commands run as it through spawnSync's uid/gid (libuv drops root's groups).
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSyncToFiles } from './spawn-files.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Result { status: number | null; stdout: string; stderr: string }

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** What bin/ocirun needs at run time, relative to the checkout. */
const RUNTIME_FILES = ['package.json', 'bin', 'dist', 'build/Release/ocirun', 'build/Release/ocirun-init', 'build/Release/build-id',
  'build/Release/ocirun_native.node', 'node_modules/commander'];

export interface SubRange { start: number; count: number }

function subRanges(file: string, name: string): SubRange[] {
  return readFileSync(file, 'utf8').split('\n').map((l) => l.split(':'))
    .filter((f) => f[0] === name && f.length === 3)
    .map((f) => ({ start: Number(f[1]), count: Number(f[2]) }));
}

/** useradd/usermod/userdel, retried while another one (a parallel test file) holds /etc/passwd's lock. */
function shadow(cmd: string, args: string[]): { status: number | null; stderr: string } {
  for (let i = 0; ; i++) {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status === 0 || i >= 50 || !/lock/i.test(r.stderr)) return { status: r.status, stderr: r.stderr };
    spawnSync('sleep', ['0.1']);
  }
}

export class RootlessUser {
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly xdg: string;
  /** bin/ocirun as this user can reach it (the checkout, or a copy when the checkout is not traversable). */
  readonly ocirun: string;
  readonly subuid: SubRange;
  readonly subgid: SubRange;

  private constructor(readonly name: string, readonly work: string, ocirun: string) {
    const ids = spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim();
    this.uid = Number(ids);
    this.gid = Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim());
    this.home = join(work, 'home');
    this.xdg = join(work, 'xdg');
    this.ocirun = ocirun;
    this.subuid = subRanges('/etc/subuid', name)[0];
    this.subgid = subRanges('/etc/subgid', name)[0];
  }

  static create(): RootlessUser {
    const work = mkdtempSync(join(tmpdir(), 'ocirun-rootless-'));
    chmodSync(work, 0o755);
    // Short (useradd: 32 chars), unique per run; the pid tells whose it is.
    const name = `ocirl${process.pid}`;
    const home = join(work, 'home');
    let made = false;
    try {
      const add = shadow('useradd', ['--home-dir', home, '--create-home', '--shell', '/bin/sh', '--user-group', name]);
      if (add.status !== 0) throw new Error(`useradd: ${add.stderr}`);
      made = true;
      // Debian's useradd allocates ranges itself (login.defs SUB_UID_*); others may not.
      if (subRanges('/etc/subuid', name).length === 0 || subRanges('/etc/subgid', name).length === 0) {
        const base = 400000 + (process.pid % 1000) * 65536;
        const range = `${base}-${base + 65535}`;
        const mod = shadow('usermod', ['--add-subuids', range, '--add-subgids', range, name]);
        if (mod.status !== 0) throw new Error(`usermod: ${mod.stderr}`);
      }
      const uid = Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim());
      const gid = Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim());
      const xdg = join(work, 'xdg');
      mkdirSync(xdg, { mode: 0o700 });
      chownSync(xdg, uid, gid);
      const user = new RootlessUser(name, work, RootlessUser.reachableOcirun(work, uid, gid));
      return user;
    } catch (err) {
      if (made) shadow('userdel', ['--remove', '--force', name]);
      rmSync(work, { recursive: true, force: true });
      throw err;
    }
  }

  /** The checkout's bin/ocirun if the user can run it from there; else a copy of what it needs in work. */
  private static reachableOcirun(work: string, uid: number, gid: number): string {
    const here = join(REPO, 'bin', 'ocirun');
    const probe = spawnSync('/bin/sh', ['-c', `test -r "${join(REPO, 'dist', 'cli', 'main.js')}" && test -x "${join(REPO, 'build', 'Release', 'ocirun')}" && test -x "${join(REPO, 'build', 'Release', 'ocirun-init')}" && test -r "${join(REPO, 'node_modules', 'commander', 'package.json')}"`], { uid, gid });
    if (probe.status === 0) return here;
    const copy = join(work, 'ocirun');
    for (const f of RUNTIME_FILES) {
      mkdirSync(dirname(join(copy, f)), { recursive: true });
      cpSync(join(REPO, f), join(copy, f), { recursive: true });
    }
    spawnSync('chmod', ['-R', 'a+rX', copy]);
    return join(copy, 'bin', 'ocirun');
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: this.home, USER: this.name, LOGNAME: this.name,
      XDG_RUNTIME_DIR: this.xdg, ...extra,
    };
  }

  /**
   * Runs a command as the user. `env` entries set to undefined are removed.
   * Output goes to files, not pipes: a created container inherits them and
   * would keep a pipe open.
   */
  run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeout?: number } = {}): Result {
    const env = this.env(opts.env);
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const { status, stdout, stderr } = spawnSyncToFiles(this.work, cmd, args, {
      uid: this.uid, gid: this.gid, env, cwd: opts.cwd ?? this.home, input: opts.input ?? '', timeout: opts.timeout ?? 60_000,
    });
    return { status, stdout, stderr };
  }

  /** A directory under the user's home, owned by the user. */
  dir(name: string): string {
    const d = join(this.home, name);
    mkdirSync(d, { recursive: true });
    chownSync(d, this.uid, this.gid);
    return d;
  }

  /**
   * Live processes whose uid is the user's or one of its subordinate ids
   * (containers with a range map), by pid: what must be gone at the end.
   */
  processes(): number[] {
    const mine = (uid: number): boolean => uid === this.uid || (uid >= this.subuid.start && uid < this.subuid.start + this.subuid.count);
    const out: number[] = [];
    for (const n of readdirSync('/proc')) {
      if (!/^\d+$/.test(n)) continue;
      try {
        if (mine(statSync(`/proc/${n}`).uid) && !readFileSync(`/proc/${n}/stat`, 'latin1').includes(') Z ')) out.push(Number(n));
      } catch {
        // gone meanwhile
      }
    }
    return out;
  }

  /** SIGKILLs, by pid, whatever the user left running (podman's pause process, a wedged container). */
  killAll(): void {
    for (let round = 0; round < 5; round++) {
      const left = this.processes();
      if (left.length === 0) return;
      for (const pid of left) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
      }
      spawnSync('sleep', ['0.2']);
    }
  }

  destroy(): void {
    this.killAll();
    // userdel also drops the user's /etc/subuid and /etc/subgid lines.
    shadow('userdel', ['--remove', '--force', this.name]);
    rmSync(this.work, { recursive: true, force: true });
    if (existsSync('/etc/subuid') && subRanges('/etc/subuid', this.name).length > 0) {
      throw new Error(`userdel left ${this.name} in /etc/subuid`);
    }
  }
}
