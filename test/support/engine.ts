// Daemons that tests start (through bin/ocirun) live under the tests' own
// state roots, in <root>/@engine: these find them by the pid files they
// write and stop them by pid, so no test leaves a daemon running.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ENGINE_DIR = '@engine';

/** Pids of the live daemons serving `root`. */
export function daemonPids(root: string): number[] {
  const dir = join(root, ENGINE_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.pid')).flatMap((f) => {
    const pid = Number(readFileSync(join(dir, f), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && isDaemon(pid) ? [pid] : [];
  });
}

function isDaemon(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dist/daemon/main.js');
  } catch {
    return false;
  }
}

/** SIGKILLs every daemon of `root` (nothing lives only in a daemon) and waits until each is gone. */
export function stopDaemons(root: string): number[] {
  const pids = daemonPids(root);
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone already */ }
  }
  const deadline = Date.now() + 5000;
  while (pids.some((p) => existsSync(`/proc/${p}`) && isDaemon(p)) && Date.now() < deadline) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  return pids;
}

/** stopDaemons for `dir` and each directory in it (containerd's shim adds a namespace to its --root). */
export function stopDaemonsBelow(dir: string): number[] {
  if (!existsSync(dir)) return [];
  const roots = [dir, ...readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(dir, d.name))];
  return roots.flatMap(stopDaemons);
}
