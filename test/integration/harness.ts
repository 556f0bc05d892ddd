// Root-only integration harness: a private state root, a shared busybox rootfs,
// bundles with edited configs, and a check that a test left nothing behind
// (state dirs, host mounts, container processes).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error plain JS module without types
import { buildBusyboxRootfs } from '../../scripts/default-bundle.mjs';
import { defaultSpec } from '../../src/config/default-spec.js';
import type { Spec } from '../../src/oci/types.js';

import { ENGINE_DIR, stopDaemons } from '../support/engine.js';
import { spawnSyncToFiles } from '../support/spawn-files.js';

export const OCIRUN = fileURLToPath(new URL('../../bin/ocirun', import.meta.url));
export const isRoot = process.getuid?.() === 0;
/** runc, when installed: the reference that scenarios run against as well. */
export const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));

export interface Result { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function hostPidNs(): string {
  return readlinkSync('/proc/self/ns/pid');
}

/** Field 4 of the "/" line in a process's mountinfo: which host directory is its root. */
function rootSource(pid: string): string | undefined {
  const lines = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n');
  const root = lines.find((l) => l.split(' ')[4] === '/');
  return root?.split(' ')[3];
}

/**
 * Processes in a pid namespace other than ours whose root is under `work`:
 * the containers of one harness, not those of anyone else on the machine. A
 * zombie already handed to pid 1 is pid 1's to reap (this VM's init does so
 * only every few seconds), so it does not count.
 */
export function containerProcesses(work: string): Set<string> {
  const mine = hostPidNs();
  const out = new Set<string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/pid`) === mine) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' && fields[1] === '1') continue;
      // A zombie has no mountinfo to tell whose it is; count it only if it is ours to reap.
      // The root is named relative to its filesystem (/tmp may be a tmpfs), so match the unique dir name.
      if (fields[0] === 'Z' ? Number(fields[1]) !== process.pid : !rootSource(name)?.includes(`/${basename(work)}/`)) continue;
      out.add(`${name}:${fields[19]}`);
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** Processes running the sealed init helper (created containers and helpers mid-setup). */
export function initHelperProcesses(): string[] {
  const out: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/exe`).startsWith('/memfd:ocirun-init')) out.push(name);
    } catch {
      // kernel threads have no exe
    }
  }
  return out;
}

/** The host's mount points (with their sources), to diff before and after. */
export function hostMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean)
    .map((l) => { const f = l.split(' '); return `${f[4]} (${f[3]})`; });
}

export class Harness {
  readonly work: string;
  readonly root: string;
  readonly rootfs: string;
  private seq = 0;
  private baseline = { procs: new Set<string>(), mounts: new Set<string>() };

  private constructor(work: string) {
    this.work = work;
    this.root = join(work, 'state');
    this.rootfs = join(work, 'rootfs');
  }

  static async create(): Promise<Harness> {
    const h = new Harness(mkdtempSync(join(tmpdir(), 'ocirun-it-')));
    // A user-namespaced container root must be able to traverse to its rootfs (as with runc).
    chmodSync(h.work, 0o711);
    await buildBusyboxRootfs(h.rootfs);
    h.baseline = { procs: containerProcesses(h.work), mounts: new Set(hostMounts()) };
    return h;
  }

  /** A writable rootfs of its own, for tests that plant things in it. */
  async privateRootfs(): Promise<string> {
    const dir = join(this.work, `rootfs${++this.seq}`);
    await buildBusyboxRootfs(dir);
    return dir;
  }

  /** A unique container ID for this run. */
  id(prefix = 'c'): string {
    return `${prefix}-${process.pid}-${++this.seq}`;
  }

  /** A bundle dir whose config is the default spec, edited, with the shared rootfs. */
  bundle(edit?: (spec: Spec) => void, name = `b${++this.seq}`): string {
    const dir = join(this.work, name);
    mkdirSync(dir, { recursive: true });
    const spec = defaultSpec();
    spec.root = { path: this.rootfs, readonly: true };
    edit?.(spec);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
    return dir;
  }

  /**
   * Runs the CLI with this harness's --root. Output goes to files, not pipes: a
   * created container inherits the CLI's stdio and would hold a pipe open.
   */
  run(args: string[], opts: { input?: string; timeout?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Result {
    return this.spawnSyncToFiles(OCIRUN, ['--root', this.root, ...args], opts);
  }

  /**
   * The same scenario against either runtime: ocirun as run() does, runc (the
   * reference) with a --root of its own under this harness's dir.
   */
  runWith(runtime: 'ocirun' | 'runc', args: string[], opts: { input?: string; timeout?: number } = {}): Result {
    if (runtime === 'ocirun') return this.run(args, opts);
    if (!RUNC) throw new Error('runc is not installed');
    return this.spawnSyncToFiles(RUNC, ['--root', `${this.root}-runc`, ...args], opts);
  }

  private spawnSyncToFiles(cmd: string, argv: string[], opts: { input?: string; timeout?: number; cwd?: string; env?: NodeJS.ProcessEnv }): Result {
    return spawnSyncToFiles(this.work, cmd, argv, {
      input: opts.input ?? '', timeout: opts.timeout ?? 30_000, cwd: opts.cwd ?? this.work,
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
    });
  }

  /** Starts the CLI without waiting, for signal-forwarding tests. */
  spawn(args: string[]) {
    return spawn(OCIRUN, ['--root', this.root, ...args], { cwd: this.work, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** What is in the state root besides the daemon's own directory (test/support/engine.ts). */
  stateDirs(): string[] {
    return existsSync(this.root) ? readdirSync(this.root).filter((n) => n !== ENGINE_DIR) : [];
  }

  /**
   * New container processes since the harness was created (by pid and start
   * time), and init helpers of this harness at any stage: before pivot_root a
   * helper's root is the host's, but it holds its state directory open.
   */
  leakedProcesses(): string[] {
    const leaked = [...containerProcesses(this.work)].filter((p) => !this.baseline.procs.has(p));
    const known = new Set(leaked.map((p) => p.split(':')[0]));
    const helpers = initHelperProcesses().filter((pid) => !known.has(pid) && this.holdsStateDir(pid));
    return [...leaked, ...helpers.map((pid) => `helper:${pid}`)];
  }

  private holdsStateDir(pid: string): boolean {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try { return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(`${this.root}/`); } catch { return false; }
      });
    } catch {
      return false;
    }
  }

  /** Everything a test may have left: force-deletes, then reports what survived. */
  cleanup(): { stateDirs: string[]; processes: string[]; mounts: string[] } {
    for (const id of this.stateDirs()) this.run(['delete', '--force', id]);
    const runcRoot = `${this.root}-runc`;
    for (const id of existsSync(runcRoot) ? readdirSync(runcRoot) : []) this.runWith('runc', ['delete', '--force', id]);
    return {
      stateDirs: this.stateDirs(),
      processes: this.leakedProcesses(),
      mounts: hostMounts().filter((m) => !this.baseline.mounts.has(m)),
    };
  }

  destroy(): void {
    stopDaemons(this.root);
    rmSync(this.work, { recursive: true, force: true });
  }

  /**
   * Cgroup directories of this harness's containers still present: those
   * under /ocirun (the default parent) in any hierarchy whose name carries
   * one of our IDs (h.id() puts our pid in every one).
   */
  leakedCgroups(): string[] {
    const base = '/sys/fs/cgroup';
    const parents = [join(base, 'ocirun'), ...readdirSync(base).map((h) => join(base, h, 'ocirun'))];
    const out: string[] = [];
    for (const p of parents) {
      let names: string[] = [];
      try { names = readdirSync(p, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name); } catch { continue; }
      out.push(...names.filter((n) => n.includes(`-${process.pid}-`)).map((n) => join(p, n)));
    }
    return out;
  }
}

/** Polls cond every 20 ms until it holds; throws after ms. */
export async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
