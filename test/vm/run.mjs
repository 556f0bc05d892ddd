#!/usr/bin/env node
// Runs a command inside a throw-away QEMU VM that boots Debian's kernel with
// pure cgroup v2 (every controller enabled) and sees the host's filesystem
// through a discardable overlay. See docs/testing-vm.md.
//
//   node test/vm/run.mjs [--timeout S] [--boot-timeout S] [--mem 2G] [--cpus 2]
//       [--fs virtiofs|9p] [--machine microvm|q35] [--systemd] [--verbose] [--debug]
//       [--times] -- <command...>
//
// The command runs as root with the caller's cwd (the same path in the guest)
// and environment (less a few host-only variables, plus OCIRUN_TEST_VM=1),
// stdin from /dev/null. Its stdout and stderr stream to ours; we exit with its
// status, 124 on timeout (QEMU killed) and 125 when the VM itself failed (with
// its console shown).
//
// With --systemd, systemd is PID 1 (the system D-Bus running) and the command
// runs in a delegated service, ocirun-vm-job.service; the contract is the same.
//
// From tests: `await runInVm(['sh', '-c', '...'], { timeout: 120 })` resolves to
// { status, stdout, stderr, timedOut, timings, console } (types: run.d.mts).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureImage } from './build-image.mjs';

const QEMU = 'qemu-system-x86_64';
const VIRTIOFSD = '/usr/lib/qemu/virtiofsd';
const CONSOLE_KEEP = 256 * 1024;
// Where the guest mounts filesystems of its own over the host's tree (init.sh).
const GUEST_MOUNTS = ['/proc', '/sys', '/dev', '/run'];

// Host-only variables that mean nothing (or the wrong thing) in the guest.
const DROP_ENV = /^(VITEST.*|TMPDIR|TMP|TEMP|DISPLAY|WAYLAND_DISPLAY|XDG_.*|SSH_.*|DBUS_.*|TERM|TERM_PROGRAM.*|COLORTERM|PWD|OLDPWD|SHLVL|_|INVOCATION_ID|JOURNAL_STREAM|NODE_CHANNEL_FD|NODE_UNIQUE_ID|NODE_V8_COVERAGE|NODE_OPTIONS)$/;

/** The environment a command gets by default: the caller's, less host-only variables. */
export function guestEnv(env = process.env) {
  const out = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && !DROP_ENV.test(k)) out[k] = v;
  }
  return out;
}

function shq(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

function jobScript(cmd, cwd, env, systemd) {
  const lines = ['# written by test/vm/run.mjs'];
  for (const [k, v] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`runInVm: bad environment variable name ${JSON.stringify(k)}`);
    if (v !== undefined && v !== null) lines.push(`export ${k}=${shq(v)}`);
  }
  lines.push('export OCIRUN_TEST_VM=1');
  if (systemd) lines.push('export OCIRUN_TEST_VM_SYSTEMD=1');
  lines.push('export PATH="${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}" HOME="${HOME:-/root}"');
  lines.push(`cd ${shq(cwd)} || exit 125`);
  lines.push(`exec ${cmd.map(shq).join(' ')}`);
  return lines.join('\n') + '\n';
}

/** QEMU-style size (a plain number is MiB) -> MiB. */
function parseSize(s) {
  const m = /^(\d+)([KMGT]?)i?B?$/i.exec(String(s).trim());
  if (!m) throw new Error(`bad memory size ${s} (want e.g. 2G or 1536M)`);
  const mib = Math.floor(Number(m[1]) * { '': 1, K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 }[m[2].toUpperCase()]);
  if (mib < 256) throw new Error(`memory ${s} is too small (at least 256M)`);
  return mib;
}

// Children alive now, killed if this process exits before they do.
const live = new Set();
process.on('exit', () => {
  for (const c of live) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

const SETPRIV = '/usr/bin/setpriv';
/**
 * spawn(), with the child killed by the kernel if this process dies first
 * (SIGKILLed test worker: no 'exit' handler runs), through setpriv --pdeathsig.
 */
function spawnTied(file, args, options) {
  if (existsSync(SETPRIV)) return spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', file, ...args], options);
  return spawn(file, args, options);
}

function killChild(child) {
  if (child && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function waitExit(child) {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) res();
    else child.once('close', () => res());
  });
}

/** A unix socket that QEMU connects to; collects what comes in. */
function listenSocket(path, onData) {
  return new Promise((res, rej) => {
    let conn = null;
    let ended = null;
    const endedP = new Promise((r) => { ended = r; });
    const server = createServer((c) => {
      conn = c;
      c.on('data', onData);
      c.on('error', () => {});
      c.on('close', () => ended());
    });
    server.on('error', rej);
    server.listen(path, () => res({
      server,
      // Resolves when QEMU's side closed (or at once when it never connected).
      drained: (ms) => new Promise((r) => {
        if (!conn) return r();
        const t = setTimeout(r, ms);
        endedP.then(() => { clearTimeout(t); r(); });
      }),
      close: () => { conn?.destroy(); server.close(); },
    }));
  });
}

async function waitForFile(path, child, ms) {
  const end = Date.now() + ms;
  while (!existsSync(path)) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

export class VmError extends Error {
  constructor(message, details) {
    super(message);
    this.name = 'VmError';
    Object.assign(this, details);
  }
}

/** Removes the run directories of runs whose process was killed before it could clean up. */
function sweepStaleDirs() {
  let names = [];
  try {
    names = readdirSync(tmpdir()).filter((n) => n.startsWith('ocirun-vm-'));
  } catch {
    return;
  }
  for (const n of names) {
    const d = join(tmpdir(), n);
    try {
      const pid = Number(readFileSync(join(d, 'owner'), 'utf8'));
      if (!(pid > 0)) continue;
      try {
        process.kill(pid, 0);
        continue; // still running
      } catch (e) {
        if (e.code !== 'ESRCH') continue;
      }
      // Only once its QEMU is gone too (it dies with its parent, but not at once).
      if (statSync(d).mtimeMs > Date.now() - 60_000) continue;
      rmSync(d, { recursive: true, force: true });
    } catch {
      // not ours, or being removed
    }
  }
}

let tscKhzCache;
/**
 * The host's TSC frequency in kHz (null when unknown). Under TCG the guest's
 * TSC is the host's, and the guest cannot calibrate it against the PIT when
 * the host is busy (microvm has no HPET or ACPI PM timer to fall back on): it
 * then hangs at boot. Passing tsc_early_khz= skips that calibration.
 */
export function hostTscKhz() {
  if (tscKhzCache !== undefined) return tscKhzCache;
  tscKhzCache = null;
  const r = spawnSync('dmesg', [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  const log = r.status === 0 ? r.stdout : '';
  const m = /tsc: Refined TSC clocksource calibration: ([\d.]+) MHz/.exec(log)
    ?? /tsc: Detected ([\d.]+) MHz processor/.exec(log);
  if (m) {
    tscKhzCache = Math.round(Number(m[1]) * 1000);
  } else {
    try {
      const c = /^cpu MHz\s*:\s*([\d.]+)/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
      if (c) tscKhzCache = Math.round(Number(c[1]) * 1000);
    } catch {
      // unknown
    }
  }
  return tscKhzCache;
}

/**
 * Boots the VM, runs cmd (argv array) inside and resolves to
 * { status, stdout, stderr, timedOut, timings: { bootMs, guestUptimeAtStart,
 * commandMs, totalMs, boots }, console }. status is 124 on timeout. Rejects
 * with a VmError (console attached) when the VM fails before reporting an exit
 * status. A VM that does not reach the command within bootTimeout is killed
 * and booted again (bootRetries times).
 *
 * opts: timeout (seconds for everything, default 600; 0 = none), bootTimeout
 * (seconds, 90), bootRetries (1), mem ('2G'), cpus (2), cwd (process.cwd()),
 * env (replaces the default guestEnv()), fs ('virtiofs' | '9p'), machine
 * ('microvm' | 'q35'), systemd (boot systemd as PID 1 with the system D-Bus;
 * the command runs in ocirun-vm-job.service), stdout / stderr (writable streams that also get the
 * output as it comes), verbose (guest console to process.stderr), debug (kernel
 * messages and an /init trace), signal (AbortSignal: kills the VM).
 */
export async function runInVm(cmd, opts = {}) {
  if (!Array.isArray(cmd) || cmd.length === 0) throw new Error('runInVm: cmd must be a non-empty array');
  if (process.env.OCIRUN_TEST_VM) throw new Error('runInVm: already inside the test VM (no nesting: it would be ~400x slower)');
  const t0 = Date.now();
  const o = {
    timeout: Number(opts.timeout ?? 600),
    bootTimeout: Number(opts.bootTimeout ?? 90),
    memMiB: parseSize(opts.mem ?? '2G'),
    cpus: Number(opts.cpus ?? 2),
    fs: opts.fs ?? 'virtiofs',
    machine: opts.machine ?? 'microvm',
    cwd: resolve(opts.cwd ?? process.cwd()),
    env: opts.env ?? guestEnv(),
    stdout: opts.stdout,
    stderr: opts.stderr,
    verbose: !!(opts.verbose || opts.debug),
    debug: !!opts.debug,
    signal: opts.signal,
    systemd: !!opts.systemd,
  };
  if (!['virtiofs', '9p'].includes(o.fs)) throw new Error(`runInVm: fs must be virtiofs or 9p, not ${o.fs}`);
  if (!['microvm', 'q35'].includes(o.machine)) throw new Error(`runInVm: machine must be microvm or q35, not ${o.machine}`);
  if (!Number.isInteger(o.cpus) || o.cpus < 1) throw new Error(`runInVm: bad cpus ${opts.cpus}`);
  // The guest mounts its own filesystems there: the host's files are hidden.
  const hidden = GUEST_MOUNTS.find((m) => o.cwd === m || o.cwd.startsWith(`${m}/`));
  if (hidden) {
    throw new Error(`runInVm: cwd ${o.cwd} is hidden in the VM by its own ${hidden}; use a directory of the host's root filesystem (e.g. under build/)`);
  }
  const image = ensureImage({ quiet: !o.verbose });
  const deadline = o.timeout > 0 ? t0 + o.timeout * 1000 : Infinity;
  const retries = Number(opts.bootRetries ?? 1);
  for (let boot = 1; ; boot++) {
    const r = await bootOnce(cmd, o, image, deadline);
    if (r.bootFailed && boot <= retries && Date.now() < deadline && !o.signal?.aborted) {
      process.stderr.write(`ocirun vm: the VM did not reach the command (${r.bootFailed}); booting again\n`);
      continue;
    }
    r.timings.totalMs = Date.now() - t0;
    r.timings.boots = boot;
    if (r.error) throw r.error;
    return r.result;
  }
}

async function bootOnce(cmd, o, image, deadline) {
  const t0 = Date.now();
  sweepStaleDirs();
  const dir = mkdtempSync(join(tmpdir(), 'ocirun-vm-'));
  writeFileSync(join(dir, 'owner'), `${process.pid}\n`);
  const job = join(dir, 'job.sh');
  writeFileSync(job, jobScript(cmd, o.cwd, o.env, o.systemd));

  const out = [];
  const err = [];
  let consoleText = '';
  let ctlText = '';
  let startedAt = null;
  let guestUptimeAtStart = null;
  let exitLine = null;
  let failLine = null;
  const sockets = [];
  let qemu = null;
  let virtiofsd = null;
  let virtiofsdLog = '';
  let qemuLog = '';
  let timer = null;
  let bootTimer = null;
  let timedOut = false;
  let bootTimedOut = false;
  let aborted = false;
  const stop = () => {
    killChild(qemu);
    killChild(virtiofsd);
  };
  const onAbort = () => {
    aborted = true;
    stop();
  };
  const timings = { bootMs: null, guestUptimeAtStart: null, commandMs: null, totalMs: null, boots: 1 };

  try {
    const sock = (name, onData) => listenSocket(join(dir, `${name}.sock`), onData).then((s) => { sockets.push(s); return s; });
    await sock('con', (d) => {
      consoleText = (consoleText + d.toString('latin1')).slice(-CONSOLE_KEEP);
      if (o.verbose) process.stderr.write(d);
    });
    await sock('out', (d) => { out.push(d); o.stdout?.write(d); });
    await sock('err', (d) => { err.push(d); o.stderr?.write(d); });
    await sock('ctl', (d) => {
      ctlText += d.toString();
      let nl;
      while ((nl = ctlText.indexOf('\n')) >= 0) {
        const line = ctlText.slice(0, nl);
        ctlText = ctlText.slice(nl + 1);
        const [word, ...rest] = line.trim().split(/\s+/);
        if (word === 'start') {
          startedAt = Date.now();
          guestUptimeAtStart = Number(rest[0]);
          clearTimeout(bootTimer);
        } else if (word === 'exit') {
          exitLine = { status: Number(rest[0]), at: Date.now() };
        } else if (word === 'fail') {
          failLine = rest.join(' ');
        }
      }
    });

    const mods = ['base', o.machine === 'microvm' ? 'mmio' : 'pci', o.fs].join(',');
    const tscKhz = hostTscKhz();
    const append = [
      'console=ttyS0', ...(o.debug ? [] : ['quiet', 'loglevel=3']), 'panic=-1', 'reboot=t', 'mitigations=off',
      'nokaslr', 'tsc=reliable', ...(tscKhz ? [`tsc_early_khz=${tscKhz}`, `lpj=${Math.round((tscKhz * 1000) / image.hz)}`] : []),
      'no_timer_check', 'random.trust_cpu=on', 'i8042.noaux', 'i8042.nomux', 'i8042.nopnp', 'i8042.dumbkbd',
      'rdinit=/init', `ocirun.fs=${o.fs}`, `ocirun.mods=${mods}`, `ocirun.job=${job}`,
      ...(o.debug ? ['ocirun.debug=1'] : []),
      ...(o.systemd ? [
        'ocirun.systemd=1', 'systemd.unified_cgroup_hierarchy=1', 'systemd.unit=ocirun-vm.target',
        ...(o.debug ? ['systemd.log_level=debug', 'systemd.show_status=1'] : []),
      ] : []),
    ].join(' ');
    const dev = (mmio, pci) => (o.machine === 'microvm' ? mmio : pci);
    const args = [
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-accel', 'tcg,thread=multi',
      '-cpu', 'max',
      '-smp', String(o.cpus),
      '-m', `${o.memMiB}M`,
      '-kernel', image.kernel,
      '-initrd', image.initrd,
      '-append', append,
      '-chardev', `socket,id=con,path=${join(dir, 'con.sock')}`,
      '-serial', 'chardev:con',
      '-device', `${dev('virtio-serial-device', 'virtio-serial-pci')},max_ports=4`,
    ];
    for (const p of ['ctl', 'out', 'err']) {
      const name = { ctl: 'ocirun.ctl', out: 'ocirun.stdout', err: 'ocirun.stderr' }[p];
      args.push('-chardev', `socket,id=${p},path=${join(dir, `${p}.sock`)}`, '-device', `virtserialport,chardev=${p},name=${name}`);
    }
    const memBackend = o.fs === 'virtiofs' ? ',memory-backend=mem' : '';
    if (o.machine === 'microvm') {
      // Modern (virtio 1.0) virtio-mmio: vhost-user (virtiofsd) refuses legacy devices.
      args.push('-machine', `microvm,acpi=on,auto-kernel-cmdline=off,pcie=off,rtc=on${memBackend}`,
        '-global', 'virtio-mmio.force-legacy=false');
    } else {
      args.push('-machine', `q35${memBackend}`);
    }

    if (o.fs === 'virtiofs') {
      // virtiofsd serves the host's / (read-only in the guest: the overlay
      // never writes to its lower layer); the guest's RAM must be shared memory.
      // sandbox=chroot: the namespace sandbox cannot pivot_root into "/".
      const vfsSock = join(dir, 'vfs.sock');
      virtiofsd = spawnTied(VIRTIOFSD, [
        `--socket-path=${vfsSock}`, '-o', 'source=/', '-o', 'cache=always', '-o', 'sandbox=chroot',
        '-o', 'no_posix_lock', '-o', 'no_flock', '-o', 'log_level=err', '--rlimit-nofile=65536',
      ], { stdio: ['ignore', 'ignore', 'pipe'] });
      live.add(virtiofsd);
      virtiofsd.once('close', () => live.delete(virtiofsd));
      virtiofsd.once('error', (e) => { virtiofsdLog += `${e.message}\n`; });
      virtiofsd.stderr.on('data', (d) => { virtiofsdLog = (virtiofsdLog + d).slice(-16384); });
      if (!(await waitForFile(vfsSock, virtiofsd, 10_000))) {
        return { error: new VmError(`virtiofsd did not start: ${virtiofsdLog.trim() || 'no output'}`, {}), timings };
      }
      args.push(
        '-object', `memory-backend-memfd,id=mem,size=${o.memMiB}M,share=on`,
        '-chardev', `socket,id=vfs,path=${vfsSock}`,
        '-device', `${dev('vhost-user-fs-device', 'vhost-user-fs-pci')},chardev=vfs,tag=hostroot,queue-size=1024`,
      );
    } else {
      args.push(
        '-fsdev', 'local,id=hostroot,path=/,security_model=passthrough,readonly=on,multidevs=remap',
        '-device', `${dev('virtio-9p-device', 'virtio-9p-pci')},fsdev=hostroot,mount_tag=hostroot`,
      );
    }

    if (o.signal?.aborted) return { error: new VmError('aborted', {}), timings };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    qemu = spawnTied(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(qemu);
    qemu.once('close', () => live.delete(qemu));
    qemu.stdout.on('data', (d) => { qemuLog = (qemuLog + d).slice(-16384); });
    qemu.stderr.on('data', (d) => { qemuLog = (qemuLog + d).slice(-16384); });
    const spawnError = new Promise((res) => qemu.once('error', (e) => res(e)));
    if (deadline !== Infinity) {
      timer = setTimeout(() => { timedOut = true; stop(); }, Math.max(0, deadline - Date.now()));
    }
    if (o.bootTimeout > 0) {
      bootTimer = setTimeout(() => { if (startedAt === null) { bootTimedOut = true; stop(); } }, o.bootTimeout * 1000);
    }
    const e = await Promise.race([waitExit(qemu).then(() => null), spawnError]);
    if (e) return { error: new VmError(`cannot run ${QEMU}: ${e.message}`, {}), timings };
    clearTimeout(timer);
    clearTimeout(bootTimer);
    await Promise.all(sockets.map((s) => s.drained(2000)));
    const stdout = Buffer.concat(out).toString();
    const stderr = Buffer.concat(err).toString();
    timings.bootMs = startedAt === null ? null : startedAt - t0;
    timings.guestUptimeAtStart = guestUptimeAtStart;
    timings.commandMs = startedAt === null || !exitLine ? null : exitLine.at - startedAt;
    const result = { status: 0, stdout, stderr, timedOut: false, timings, console: consoleText };
    if (aborted) return { error: new VmError('aborted', result), timings };
    if (timedOut && !exitLine) return { result: { ...result, status: 124, timedOut: true }, timings };
    if (!exitLine) {
      const why = failLine ? `its /init failed: ${failLine}`
        : bootTimedOut ? `the command had not started after ${o.bootTimeout} s`
          : startedAt ? 'the VM stopped before the command finished'
            : 'the VM stopped before running the command';
      const error = new VmError(
        `${why} (qemu exit ${qemu.exitCode ?? qemu.signalCode})\n${qemuLog.trim()}\n${virtiofsdLog.trim()}\n`
        + `--- guest console (tail) ---\n${consoleText.slice(-8000)}`,
        result,
      );
      return { error, timings, bootFailed: startedAt === null && !failLine ? why : null };
    }
    return { result: { ...result, status: exitLine.status }, timings };
  } finally {
    clearTimeout(timer);
    clearTimeout(bootTimer);
    o.signal?.removeEventListener('abort', onAbort);
    killChild(qemu);
    if (qemu) await waitExit(qemu);
    // virtiofsd ends when QEMU disconnects; make sure.
    if (virtiofsd) {
      const gone = await Promise.race([waitExit(virtiofsd).then(() => true), new Promise((r) => setTimeout(() => r(false), 2000))]);
      if (!gone) {
        killChild(virtiofsd);
        await waitExit(virtiofsd);
      }
    }
    for (const s of sockets) s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function usage(code) {
  process.stderr.write(
    'usage: node test/vm/run.mjs [--timeout S] [--boot-timeout S] [--mem 2G] [--cpus 2]\n'
    + '         [--fs virtiofs|9p] [--machine microvm|q35] [--systemd] [--verbose] [--debug] [--times]\n'
    + '         -- <command...>\n',
  );
  process.exit(code);
}

async function main(argv) {
  const opts = { stdout: process.stdout, stderr: process.stderr };
  let times = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(2);
      return argv[++i];
    };
    if (a === '--') { i++; break; }
    else if (a === '--timeout') opts.timeout = Number(val());
    else if (a === '--boot-timeout') opts.bootTimeout = Number(val());
    else if (a === '--mem') opts.mem = val();
    else if (a === '--cpus') opts.cpus = Number(val());
    else if (a === '--fs') opts.fs = val();
    else if (a === '--machine') opts.machine = val();
    else if (a === '--systemd') opts.systemd = true;
    else if (a === '--verbose') opts.verbose = true;
    else if (a === '--debug') { opts.debug = true; opts.verbose = true; }
    else if (a === '--times') times = true;
    else if (a === '-h' || a === '--help') usage(0);
    else if (a.startsWith('-')) usage(2);
    else break;
  }
  const cmd = argv.slice(i);
  if (cmd.length === 0) usage(2);
  const ac = new AbortController();
  let sig = null;
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(s, () => { sig = s; ac.abort(); });
  }
  opts.signal = ac.signal;
  try {
    const r = await runInVm(cmd, opts);
    if (times) process.stderr.write(`ocirun vm: ${JSON.stringify(r.timings)}\n`);
    if (r.timedOut) process.stderr.write(`ocirun vm: timed out after ${opts.timeout ?? 600} s; VM killed\n`);
    return r.status;
  } catch (e) {
    if (sig) return sig === 'SIGINT' ? 130 : sig === 'SIGTERM' ? 143 : 129;
    process.stderr.write(`ocirun vm: ${e instanceof Error ? e.message : String(e)}\n`);
    return 125;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main(process.argv.slice(2)).then((code) => {
    // Let stdout drain before exiting.
    process.stdout.write('', () => process.exit(code));
  });
}
