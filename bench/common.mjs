// Helpers shared by the bench/*.mjs files (not a benchmark itself: run-all
// skips it). Everything here is plain Node so benches run from a fresh build.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, statfsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDefaultBundle } from '../scripts/default-bundle.mjs';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const OCIRUN = join(repo, 'bin', 'ocirun');

export function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return join(dir, cmd);
    } catch {}
  }
  return null;
}

/** Parses `--name value` / `--name=value` integer flags: parseIntFlags(argv, { runs: 40 }). */
export function parseIntFlags(argv, defaults, usage) {
  const opts = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    const key = m?.[1];
    if (argv[i] === '-h' || argv[i] === '--help') {
      console.log(usage);
      process.exit(0);
    }
    if (!m || !(key in defaults)) fail(`unknown argument ${argv[i]}\n${usage}`, 2);
    const raw = m[2] ?? argv[++i];
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) fail(`--${key} must be a positive integer\n${usage}`, 2);
    opts[key] = n;
  }
  return opts;
}

export function fail(msg, code = 1) {
  console.error(`bench: ${msg}`);
  process.exit(code);
}

export function requireRoot() {
  if (process.getuid?.() !== 0) fail('ocirun and runc need root; run as root (e.g. sudo npm run bench)');
}

/** Resolves the runc binary, or null (with a note) when it is not installed. */
export function findRunc() {
  const runc = which('runc');
  if (!runc) console.log('runc: not installed (apt-get install runc); printing ocirun figures only');
  return runc;
}

/**
 * Runs a command with stdin from /dev/null and stdout+stderr into `logFile`
 * (never a pipe: a created container keeps its stdio open). Resolves
 * { code, signal, ms, output, error }.
 */
export function exec(cmd, args, logFile) {
  return new Promise((resolvePromise) => {
    const fd = openSync(logFile, 'w');
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      closeSync(fd);
      let output = '';
      try {
        output = readFileSync(logFile, 'utf8');
      } catch {}
      resolvePromise({ ...r, output });
    };
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd: repo, stdio: ['ignore', fd, fd] });
    child.on('error', (err) => finish({ code: null, signal: null, ms: NaN, error: err }));
    child.on('exit', (code, signal) => finish({ code, signal, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
  });
}

export function describeFailure(r) {
  if (r.error) return r.error.message;
  const how = r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`;
  const out = r.output.trim();
  return out ? `${how}: ${out.split('\n').slice(-3).join(' | ')}` : how;
}

/** Throws with the command's output unless it exited 0. */
export async function mustExec(cmd, args, logFile) {
  const r = await exec(cmd, args, logFile);
  if (r.code !== 0) throw new Error(`${cmd.split('/').pop()} ${args.join(' ')}: ${describeFailure(r)}`);
  return r;
}

/** Nearest-rank percentile. */
export function percentile(samples, p) {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export const median = (samples) => percentile(samples, 50);
export const fmtMs = (v) => `${v.toFixed(1).padStart(7)} ms`;
export const fmtKiB = (kib) => (kib >= 1024 ? `${(kib / 1024).toFixed(1)} MiB` : `${kib} KiB`);
export const ratio = (a, b) => `${(a / b).toFixed(2)}x`;

export function vmRssKiB(pid = process.pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB/m);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

export const openFds = () => readdirSync('/proc/self/fd').length;
export const hostMounts = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).length;

/** Children of this process that are zombies (exited, not reaped). */
export function zombieChildren() {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z' && Number(f[1]) === process.pid) out.push(Number(name));
    } catch {}
  }
  return out;
}

const TMPFS_MAGIC = 0x01021994;

/**
 * Where the state roots go: a tmpfs, as /run is on a systemd host, so that both
 * runtimes' state writes cost what they cost in production. This VM's /run is
 * on ext4, where every inode creation takes ~0.6 ms; OCIRUN_BENCH_STATE=DIR
 * overrides (docs/performance.md).
 */
export function stateParent() {
  if (process.env.OCIRUN_BENCH_STATE) return process.env.OCIRUN_BENCH_STATE;
  try {
    if (statfsSync('/dev/shm').type === TMPFS_MAGIC) return '/dev/shm';
  } catch {}
  return tmpdir();
}

/**
 * A temp dir with a busybox bundle running `args`, and one --root per runtime
 * (on tmpfs, see stateParent). Interrupts (Ctrl-C) are turned into an
 * exception at the next checkpoint so `finally` blocks clean up.
 */
export async function benchDir(args) {
  const dir = await mkdtemp(join(tmpdir(), 'ocirun-bench-'));
  const state = await mkdtemp(join(stateParent(), 'ocirun-bench-state-'));
  const bundle = join(dir, 'bundle');
  await buildDefaultBundle(bundle, { args, editSpec: (s) => { s.process.terminal = false; } });
  return {
    dir,
    bundle,
    state,
    log: join(dir, 'out.log'),
    rootOf: (name) => join(state, `root-${name}`),
    remove: async () => {
      stopEngineDaemons(state);
      await rm(dir, { recursive: true, force: true });
      await rm(state, { recursive: true, force: true });
    },
  };
}

/**
 * runc's own `runc spec` (what users of runc start from) in a bundle of its
 * own, made to run `args` without a terminal over env's busybox rootfs
 * (read-only, as runc's spec has it). Undefined without runc.
 */
export function runcSpecBundle(env, runc, args) {
  if (!runc) return undefined;
  const dir = join(env.dir, 'runc-spec');
  if (existsSync(join(dir, 'config.json'))) return dir;
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(runc, ['spec'], { cwd: dir });
  if (r.status !== 0) throw new Error(`runc spec: ${r.stderr}`);
  const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  spec.process.args = args;
  spec.process.terminal = false;
  spec.root = { path: join(env.bundle, 'rootfs'), readonly: true };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

/** Pids of the live engine daemons (bin/ocirun's) of state root `root` and of each state root in it (the CRI shim adds a namespace). */
export function engineDaemonPids(root) {
  let dirs = [join(root, '@engine')];
  try { dirs = dirs.concat(readdirSync(root).map((n) => join(root, n, '@engine'))); } catch {}
  const pids = [];
  for (const dir of dirs) {
    let files = [];
    try { files = readdirSync(dir).filter((f) => f.endsWith('.pid')); } catch {}
    for (const f of files) {
      try {
        const pid = Number(readFileSync(join(dir, f), 'utf8'));
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dist/daemon/main.js')) pids.push(pid);
      } catch {}
    }
  }
  return pids;
}

/** SIGKILLs the engine daemons of every state root under `parent`, by the pid files they write. */
export function stopEngineDaemons(parent) {
  for (const pid of engineDaemonPids(parent)) {
    try { process.kill(pid, 'SIGKILL'); } catch {}
  }
}

let interrupted = null;
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { interrupted = sig; });
export function checkInterrupted() {
  if (interrupted) throw new Error(`interrupted by ${interrupted}`);
}

/** Runs `fn(i)` for i < n with at most `width` in flight. */
export async function pool(n, width, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      checkInterrupted();
      await fn(next++);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
}

/** Loads the built library (dist/), with a clear message when it is not built. */
export async function loadLibrary() {
  try {
    return await import(join(repo, 'dist', 'index.js'));
  } catch (err) {
    fail(`the library is not built (${err.message.split('\n')[0]}): run "npm run build"`);
  }
}

/**
 * A bench's finally block: forget nothing it may have left, whatever failed.
 * Deletes every container of the library runtime `rt` and of runc (under
 * env.rootOf('runc')), then removes the bench's directory.
 */
export async function cleanUp({ rt, runc, env }) {
  for (const c of await rt.list().catch(() => [])) await rt.delete(c.id, { force: true }).catch(() => {});
  if (runc) {
    const l = await exec(runc, ['--root', env.rootOf('runc'), 'list', '-q'], env.log);
    for (const id of l.output.split('\n').filter(Boolean)) await exec(runc, ['--root', env.rootOf('runc'), 'delete', '--force', id], env.log);
  }
  await env.remove();
}

/**
 * Loads TypeScript modules of the test harnesses (the engines' e2e code, shared
 * with the tests rather than copied) through vite, which vitest brings.
 * Returns the modules in order and close().
 */
export async function loadTs(...paths) {
  const { createServer } = await import('vite');
  const vite = await createServer({
    root: repo, configFile: false, logLevel: 'error', appType: 'custom',
    server: { middlewareMode: true, hmr: false, watch: null }, optimizeDeps: { noDiscovery: true, include: [] },
  });
  const mods = [];
  for (const p of paths) mods.push(await vite.ssrLoadModule(p));
  return { mods, close: () => vite.close() };
}

// CPU accounting by cgroup, for engines whose work is spread over processes
// the bench never reaps (conmon, containerd and its shims, the containers).
const CPUACCT = '/sys/fs/cgroup/cpuacct';
const cgroupDir = (rel) => (existsSync(CPUACCT) ? join(CPUACCT, rel) : join('/sys/fs/cgroup', existsSync('/sys/fs/cgroup/unified') ? 'unified' : '', rel));

/** CPU time (ns) charged to cgroup `rel` and its descendants, living or removed; 0 while it does not exist. */
export function cgroupCpuNs(rel) {
  const dir = cgroupDir(rel);
  try {
    if (dir.startsWith(CPUACCT)) return Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8'));
    return Number(/^usage_usec (\d+)/m.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'))[1]) * 1000;
  } catch {
    return 0;
  }
}

/** A cgroup of the bench's own (for CPU accounting only: cpuacct on v1); returns { rel, enter(pid), remove() }. */
export function accountingCgroup(name) {
  const rel = `/${name}`;
  const dir = cgroupDir(rel);
  mkdirSync(dir, { recursive: true });
  const parentProcs = join(dirname(dir), 'cgroup.procs');
  return {
    rel,
    enter: (pid) => writeFileSync(join(dir, 'cgroup.procs'), `${pid}\n`),
    remove: () => {
      try {
        for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          try { writeFileSync(parentProcs, `${pid}\n`); } catch {}
        }
        rmdirSync(dir);
      } catch {}
    },
  };
}

/** Whether process `pid` is in cgroup `rel` or below it (in the hierarchy accountingCgroup uses). */
export function inCgroup(pid, rel) {
  const v1 = existsSync(CPUACCT);
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const [, ctrl, path] = line.split(':');
    const mine = v1 ? ctrl?.split(',').includes('cpuacct') : ctrl === '';
    if (mine) return path === rel || path?.startsWith(`${rel}/`);
  }
  return false;
}

/** CPU time (ns) process `pid` has used so far (its threads, not its children); 0 once it is gone. */
export function processCpuNs(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return 0;
  }
}
