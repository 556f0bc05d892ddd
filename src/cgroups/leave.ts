// The engine daemon is started by whoever calls ocirun first, which may be a
// process inside some container's or service's cgroup; the daemon serves
// every later call, so it must not count against (or die with) that cgroup.
import { writeFileSync } from 'node:fs';
import { hostLayout } from './layout.js';

/** Moves `pid` to the top cgroup of every hierarchy this mount namespace shows; returns what failed. */
export function moveToTopCgroups(pid: number = process.pid): string[] {
  const failures: string[] = [];
  for (const h of hostLayout().hierarchies) {
    const procs = `${h.mountPoint}/cgroup.procs`;
    try {
      writeFileSync(procs, `${pid}\n`);
    } catch (err) {
      failures.push(`${procs}: ${(err as Error).message}`);
    }
  }
  return failures;
}
