// Ending the processes of a cgroup, the same on v1 and v2: signal each pid,
// then wait until the kernel reports the cgroup empty.
import { OciError } from '../errors.js';
import { sleep } from './files.js';

/** How long a kill or freeze may take before the cgroup is reported stuck. */
export const WAIT_MS = 10_000;

export function signalPid(pid: number, signal: number): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export async function waitEmpty(pids: () => number[], dir: string): Promise<void> {
  const end = Date.now() + WAIT_MS;
  for (let left = pids(); left.length > 0; left = pids()) {
    if (Date.now() > end) throw new OciError('ERR_SYSTEM', `cgroup ${dir} still has processes after SIGKILL: ${left.join(' ')}`);
    await sleep(5);
  }
}
