// Engines as clients of the runtime under test: a private podman (its config,
// storage and runtime state all under one temp dir) and a private containerd
// (own socket, root and state, started and stopped by pid). Everything they
// leave — containers, overlay mounts, cgroups they made — goes in destroy().
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error plain JS module without types
import { buildBusyboxRootfs } from '../../scripts/default-bundle.mjs';
import { defaultSpec } from '../../src/config/default-spec.js';
import type { Spec } from '../../src/oci/types.js';

import { stopDaemonsBelow } from '../support/engine.js';

export const OCIRUN = fileURLToPath(new URL('../../bin/ocirun', import.meta.url));
export const PTYCTL = fileURLToPath(new URL('../integration/ptyctl.py', import.meta.url));
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
export const isRoot = process.getuid?.() === 0;

export interface Runtime { name: string; path: string }

/** ocirun always; runc when installed, as the reference every test must also pass. */
export function runtimes(): Runtime[] {
  const list = [{ name: 'ocirun', path: OCIRUN }];
  const runc = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
  if (runc) list.push({ name: 'runc', path: runc });
  return list;
}

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** What `<runtime> features` says about cgroups: whether limits, pause and top can work at all. */
export function supportsCgroups(rt: Runtime): boolean {
  // In a Node process of its own: through the front end, a call without --root
  // would start a daemon under the host's /run/ocirun that no test stops.
  const r = spawnSync(rt.path, ['features'], { encoding: 'utf8', env: { ...process.env, OCIRUN_ENGINE: 'off' } });
  if (r.status !== 0) return false;
  const cg = (JSON.parse(r.stdout) as { linux?: { cgroup?: { v1?: boolean; v2?: boolean } } }).linux?.cgroup;
  return Boolean(cg?.v1 || cg?.v2);
}

export interface Run { status: number | null; stdout: string; stderr: string }

const pick = (r: SpawnSyncReturns<string>): Run => ({ status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' });

/** Mount points under dir, deepest first (what an engine may have left mounted). */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4])
    .filter((mp): mp is string => mp !== undefined && mp.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

export function unmountAll(dir: string): void {
  for (const mp of mountsUnder(dir)) spawnSync('umount', ['-l', mp]);
}

/** A rootfs tarball of the test busybox (what `podman import` takes). */
export async function busyboxTarball(dir: string): Promise<{ rootfs: string; tarball: string }> {
  const rootfs = join(dir, 'rootfs');
  await buildBusyboxRootfs(rootfs);
  const tarball = join(dir, 'rootfs.tar');
  const r = spawnSync('tar', ['-C', rootfs, '-cf', tarball, '.']);
  if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
  return { rootfs, tarball };
}

/** SIGKILLs, by pid, the processes whose command line names dir (a fresh temp dir: ours) and their descendants. */
export function killProcessesMentioning(dir: string): void {
  const procs = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).flatMap((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
      return [{ pid, ppid, mine: readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir) }];
    } catch {
      return [];
    }
  });
  const doomed = new Set(procs.filter((p) => p.mine).map((p) => p.pid));
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) if (!doomed.has(p.pid) && doomed.has(p.ppid)) { doomed.add(p.pid); grew = true; }
  }
  for (const pid of doomed) {
    try { process.kill(Number(pid), 'SIGKILL'); } catch { /* already gone */ }
  }
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * A top-level cgroup dir an engine makes as the parent of its containers'
 * (podman's libpod_parent, ctr's namespace "default"), in every hierarchy.
 */
function cgroupParents(name: string): string[] {
  if (!existsSync(CGROUP_ROOT)) return [];
  return readdirSync(CGROUP_ROOT).map((h) => join(CGROUP_ROOT, h, name)).filter((d) => existsSync(d));
}

export function removeCgroupTree(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(join(dir, e.name));
  try { rmdirSync(dir); } catch { /* still populated: left for the next run to report */ }
}

export class PodmanEnv {
  readonly image = 'localhost/ocirun-e2e-busybox:latest';
  private readonly env: NodeJS.ProcessEnv;
  private readonly cgroupsBefore: Set<string>;

  private constructor(readonly dir: string, readonly runtime: Runtime, readonly cgroups: boolean) {
    const here = fileURLToPath(new URL('./podman/', import.meta.url));
    const fill = (name: string): string => readFileSync(join(here, name), 'utf8')
      .replaceAll('@TMP@', dir).replaceAll('@RUNTIME@', runtime.name)
      .replaceAll('@CGROUPS@', cgroups ? 'enabled' : 'disabled');
    writeFileSync(join(dir, 'containers.conf'), fill('containers.conf.in'));
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', runtime.name), `#!/bin/sh\nexec ${runtime.path} --root ${join(dir, 'runtime-state')} "$@"\n`, { mode: 0o755 });
    writeFileSync(join(dir, 'storage.conf'), fill('storage.conf.in'));
    this.env = {
      ...process.env,
      CONTAINERS_CONF: join(dir, 'containers.conf'),
      CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
      CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'),
    };
    writeFileSync(join(dir, 'registries.conf'), 'unqualified-search-registries = []\n');
    this.cgroupsBefore = new Set(cgroupParents('libpod_parent'));
  }

  static async create(runtime: Runtime): Promise<PodmanEnv> {
    const dir = mkdtempSync(join(tmpdir(), `ocirun-e2e-podman-${runtime.name}-`));
    chmodSync(dir, 0o711);
    const env = new PodmanEnv(dir, runtime, supportsCgroups(runtime));
    const { tarball } = await busyboxTarball(dir);
    const imported = env.podman(['import', tarball, env.image]);
    if (imported.status !== 0) throw new Error(`podman import: ${imported.stderr}`);
    return env;
  }

  /** podman with this env's config (the runtime keeps its state under our dir too: see the runtime script). */
  podman(args: string[], opts: { input?: string; timeout?: number; fds?: number[] } = {}): Run {
    // cwd: conmon writes its "oom" marker into its working directory.
    return pick(spawnSync('podman', args, {
      env: this.env, cwd: this.dir, input: opts.input ?? '', encoding: 'utf8', timeout: opts.timeout ?? 60_000,
      maxBuffer: 64 << 20, stdio: ['pipe', 'pipe', 'pipe', ...(opts.fds ?? [])],
    }));
  }

  /** podman as the session leader of a pty (for -t); see ptyctl.py for the JSON. */
  podmanInPty(args: string[], o: { rows?: number; cols?: number; send?: string; after?: string } = {}): { exit: number; output: string; restored: boolean } {
    const flags = [`--rows=${o.rows ?? 24}`, `--cols=${o.cols ?? 80}`, ...(o.send === undefined ? [] : [`--send=${o.send}`]),
      ...(o.after === undefined ? [] : [`--after=${o.after}`])];
    const r = spawnSync(PYTHON, [PTYCTL, 'run', ...flags, '--', 'podman', ...args],
      { env: this.env, cwd: this.dir, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`ptyctl: ${r.stderr}`);
    return JSON.parse(r.stdout) as { exit: number; output: string; restored: boolean };
  }

  destroy(): void {
    this.podman(['rm', '--all', '--force', '--time', '0']);
    this.podman(['pod', 'rm', '--all', '--force', '--time', '0']);
    this.podman(['system', 'reset', '--force']);
    // A conmon whose podman was killed mid-test (a timeout) outlives all that.
    killProcessesMentioning(this.dir);
    stopDaemonsBelow(join(this.dir, 'runtime-state'));
    unmountAll(this.dir);
    for (const d of cgroupParents('libpod_parent')) if (!this.cgroupsBefore.has(d)) removeCgroupTree(d);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts containerd on dir/config.toml (log: dir/containerd.log) and waits until `ctr version` answers. */
export async function startContainerd(dir: string, ctr: (args: string[]) => Run, timeoutMs = 20_000): Promise<ChildProcess> {
  const log = join(dir, 'containerd.log');
  const daemon = spawn('sh', ['-c', `exec containerd --config "${dir}/config.toml" >"${log}" 2>&1`], { stdio: 'ignore' });
  const deadline = Date.now() + timeoutMs;
  while (ctr(['version']).status !== 0) {
    if (Date.now() > deadline || daemon.exitCode !== null) {
      await stopDaemon(daemon);
      throw new Error(`containerd did not start: ${readFileSync(log, 'utf8')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return daemon;
}

/** SIGTERM to a daemon we started, and wait for its exit. */
export async function stopDaemon(daemon?: ChildProcess): Promise<void> {
  if (!daemon || daemon.exitCode !== null || daemon.signalCode !== null) return;
  const exited = new Promise((r) => daemon.once('exit', r));
  daemon.kill('SIGTERM');
  await exited;
}

export class ContainerdEnv {
  private daemon?: ChildProcess;
  private readonly cgroupsBefore = new Set(cgroupParents('default'));
  private constructor(readonly dir: string, readonly runtime: Runtime, readonly rootfs: string) {}

  static async create(runtime: Runtime): Promise<ContainerdEnv> {
    const dir = mkdtempSync(join(tmpdir(), `ocirun-e2e-containerd-${runtime.name}-`));
    chmodSync(dir, 0o711);
    const rootfs = join(dir, 'rootfs');
    await buildBusyboxRootfs(rootfs);
    const env = new ContainerdEnv(dir, runtime, rootfs);
    writeFileSync(join(dir, 'config.toml'), [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      // The CRI plugin wants CNI and a registry; ctr needs neither.
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]', `  address = "${dir}/containerd.sock"`,
      '[ttrpc]', `  address = "${dir}/containerd.sock.ttrpc"`,
      '[debug]', `  address = "${dir}/debug.sock"`, '',
    ].join('\n'));
    env.daemon = await startContainerd(dir, (args) => env.ctr(args));
    return env;
  }

  ctr(args: string[], opts: { timeout?: number } = {}): Run {
    return pick(spawnSync('ctr', ['--address', join(this.dir, 'containerd.sock'), ...args], {
      encoding: 'utf8', timeout: opts.timeout ?? 60_000, input: '',
    }));
  }

  /** An OCI config for `ctr run --config`: ocirun's default spec on our busybox, edited. */
  spec(args: string[], edit?: (s: Spec) => void): string {
    const s = defaultSpec();
    s.root = { path: this.rootfs, readonly: true };
    s.process!.args = args;
    s.process!.terminal = false;
    edit?.(s);
    const file = join(this.dir, `spec-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(s));
    return file;
  }

  /** Flags that make the runc v2 shim use the runtime under test, with its state in our dir. */
  runtimeFlags(): string[] {
    return ['--runc-binary', this.runtime.path, '--runc-root', join(this.dir, 'runtime-state'), '--fifo-dir', join(this.dir, 'fifo')];
  }

  async destroy(): Promise<void> {
    for (const id of this.ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean)) this.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    for (const id of this.ctr(['container', 'ls', '-q']).stdout.split('\n').filter(Boolean)) {
      for (let i = 0; i < 50 && this.ctr(['task', 'delete', id]).stderr.includes('running'); i++) await new Promise((r) => setTimeout(r, 100));
      this.ctr(['container', 'delete', id]);
    }
    await stopDaemon(this.daemon);
    stopDaemonsBelow(join(this.dir, 'runtime-state'));
    unmountAll(this.dir);
    for (const d of cgroupParents('default')) if (!this.cgroupsBefore.has(d)) removeCgroupTree(d);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
