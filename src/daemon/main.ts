// The resident daemon behind the native front end (native/frontend): started
// on demand by the first call, one per (state root, build, uid, namespaces),
// exits after an idle time. Its socket, pid file and log live in
// <root>/@engine/ (0700); see docs/architecture.md for the threat model.
//   node dist/daemon/main.js --socket PATH [--build-id ID]
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { helperPath, native } from '../native/binding.js';
import { moveToTopCgroups } from '../cgroups/leave.js';
import { keepSystemdConnection } from '../cgroups/systemd-bus.js';
import { Server } from './server.js';
import { claimName, sweepStaleNames } from './names.js';

const DEFAULT_IDLE_MS = 60_000;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function log(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} ocirun daemon ${process.pid}: ${msg}\n`);
}

/** The build this daemon's code is: written next to the helper and the front end by scripts/build-id.mjs. */
function ownBuildId(): string {
  return readFileSync(join(dirname(helperPath()), 'build-id'), 'utf8').trim();
}

function idleMs(): number {
  const s = process.env.OCIRUN_ENGINE_IDLE;
  const n = s === undefined || s === '' ? NaN : Number(s);
  return Number.isFinite(n) && n >= 0 ? n * 1000 : DEFAULT_IDLE_MS;
}

async function run(): Promise<void> {
  const socket = arg('--socket');
  if (!socket) throw new Error('usage: main.js --socket PATH');
  const buildId = arg('--build-id') ?? ownBuildId();
  const addon = native();

  // One daemon per socket: whoever holds the lock owns the name, so a socket
  // file found here is a dead daemon's and may go (src/daemon/names.ts).
  const name = claimName(socket);
  if (!name) {
    log(`another daemon owns ${socket}`);
    return;
  }
  rmSync(socket, { force: true });
  for (const gone of sweepStaleNames(dirname(socket), socket)) log(`removed the name of a daemon gone: ${gone}`);
  const listenFd = addon.listenUnix(socket);
  const own = statSync(socket).ino;
  const pidFile = `${socket}.pid`;
  writeFileSync(`${pidFile}.tmp`, `${process.pid}\n`);
  renameSync(`${pidFile}.tmp`, pidFile);
  for (const f of moveToTopCgroups()) log(`staying in a cgroup: ${f}`);
  // One D-Bus connection to systemd for every call (the systemd cgroup driver), opened on first use.
  keepSystemdConnection();

  let idle: NodeJS.Timeout | undefined;
  let stopping = false;
  const shutdown = (why: string): void => {
    if (stopping) return;
    stopping = true;
    log(`exiting: ${why}`);
    // The name first: from now on callers start a new daemon instead of queueing here.
    name.release(own);
    server.stop();
    const done = (): void => process.exit(0);
    // Calls in flight get a moment to finish; past it they fail as if the
    // daemon had been killed, which every call survives (state is on disk).
    if (server.inFlight === 0) done();
    else {
      setInterval(() => { if (server.inFlight === 0) done(); }, 20).unref();
      setTimeout(done, why === 'idle' ? 60_000 : 2000).unref();
    }
  };
  const armIdle = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => shutdown('idle'), idleMs());
  };
  const server = new Server(listenFd, {
    buildId,
    log,
    onActivity: (active) => {
      if (active === 0) armIdle();
      else clearTimeout(idle);
    },
  });
  server.start();
  armIdle();
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // Calls are served by code loaded now, not on the first call's time.
  await Promise.all([
    import('../lifecycle/create.js'), import('../lifecycle/start.js'), import('../lifecycle/run.js'),
    import('../lifecycle/exec.js'), import('../lifecycle/kill.js'), import('../lifecycle/delete.js'),
    import('../lifecycle/query.js'), import('../cli/hot.js'),
  ]);
  log(`serving ${socket} (build ${buildId})`);
}

run().catch((err: Error) => {
  log(`failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
