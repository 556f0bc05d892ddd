// The native addon against a fake init helper (test/fixtures/native): the
// helper is compiled once per test file into a temporary directory, and
// everything the tests spawn is killed and closed afterwards.
import { afterAll, beforeAll, expect } from 'vitest';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { native, type ExitStatus, type SpawnOptions, type SpawnResult } from '../../src/native/binding.js';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(here, '..', 'fixtures', 'native');

export const addon = native();

export interface AddonFixture {
  /** The temporary directory (fake-init, noclone3, pid files). */
  readonly dir: string;
  /** The compiled fake helper. */
  readonly fake: string;
  /** Keeps an fd open until the file's tests are done. */
  track(fd: number): number;
  watch(pidfd: number): Promise<ExitStatus>;
  /** SIGKILLs a spawned process, waits for its exit status and closes its pidfd. */
  kill(r: SpawnResult): Promise<ExitStatus>;
  /** Kills and closes a pidfd when the file's tests are done, unless forgotten first. */
  adopt(pidfd: number): void;
  /** Forgets a pidfd the test closed itself. */
  forget(pidfd: number): void;
  /** A plan for the fake: its mode and the file that receives its pid(s), first two lines. */
  plan(mode: string, padding?: number): { plan: Buffer; pidfile: string };
  pids(pidfile: string): number[];
  spawn(mode: string, extra?: Partial<SpawnOptions>): Promise<{ r: SpawnResult; pidfile: string }>;
  /** Runs addon-child.mjs in a fresh Node, optionally under a wrapper; returns its JSON lines. */
  runChild(scenario: string, wrapper?: string[]): { status: number | null; signal: NodeJS.Signals | null; stderr: string; lines: any[]; ms: number };
}

function addonPath(): string {
  const build = join(here, '..', '..', 'build');
  const found = ['Release', 'Debug'].map((d) => join(build, d, 'ocirun_native.node')).find((f) => existsSync(f));
  if (!found) throw new Error('addon not built');
  return found;
}

export async function rejection(p: Promise<unknown>): Promise<NodeJS.ErrnoException> {
  try {
    await p;
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
  throw new Error('expected a rejection');
}

/** Registers the file's beforeAll/afterAll; call at the top level of a test file. */
export function useAddonFixture(): AddonFixture {
  let dir = '';
  const openFds: number[] = [];
  const livePidfds = new Set<number>();
  let planCount = 0;

  const watch = (pidfd: number): Promise<ExitStatus> => new Promise((resolve) => addon.watchExit(pidfd, resolve));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ocirun-addon-'));
    execFileSync('cc', ['-O1', '-o', join(dir, 'fake-init'), join(FIXTURES, 'fake-init.c')]);
    execFileSync('cc', ['-O1', '-o', join(dir, 'noclone3'), join(FIXTURES, 'noclone3.c')]);
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

  const fx: AddonFixture = {
    get dir() { return dir; },
    get fake() { return join(dir, 'fake-init'); },
    track(fd) {
      openFds.push(fd);
      return fd;
    },
    watch,
    async kill(r) {
      const status = watch(r.pidfd);
      addon.pidfdSendSignal(r.pidfd, 9);
      const s = await status;
      closeSync(r.pidfd);
      livePidfds.delete(r.pidfd);
      return s;
    },
    adopt(pidfd) { livePidfds.add(pidfd); },
    forget(pidfd) { livePidfds.delete(pidfd); },
    plan(mode, padding = 0) {
      const pidfile = join(dir, `pids-${planCount++}`);
      return { plan: Buffer.concat([Buffer.from(`${mode}\n${pidfile}\n`), Buffer.alloc(padding, 0x2a)]), pidfile };
    },
    pids(pidfile) {
      return readFileSync(pidfile, 'utf8').trim().split(' ').map(Number);
    },
    async spawn(mode, extra = {}) {
      const p = fx.plan(mode);
      const devnull = openSync('/dev/null', 'r+');
      try {
        const r = await addon.spawnContainer({ helper: fx.fake, plan: p.plan, stdio: [devnull, devnull, devnull], ...extra });
        livePidfds.add(r.pidfd);
        // The fake does not wait for a commit byte; the control socket is ours to close.
        expect(r.controlFd).toBeGreaterThanOrEqual(0);
        closeSync(r.controlFd);
        return { r, pidfile: p.pidfile };
      } finally {
        closeSync(devnull);  // the helper has its own copy
      }
    },
    runChild(scenario, wrapper = []) {
      const started = Date.now();
      const argv = [...wrapper, process.execPath, join(FIXTURES, 'addon-child.mjs'), addonPath(), scenario, fx.fake, dir];
      const res = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 20_000 });
      const lines = res.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      return { status: res.status, signal: res.signal, stderr: res.stderr, lines, ms: Date.now() - started };
    },
  };
  return fx;
}
