// Process identity from /proc: a pid alone can be reused, pid + start time cannot.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ProcStat {
  state: string;
  ppid: number;
  /** Field 22, clock ticks since boot; with the pid it identifies a process. */
  startTime: string;
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses; fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], ppid: Number(rest[1]), startTime: rest[19] };
}

/** True if pid still names the process that had startTime and has not exited. */
export function isSameLiveProcess(pid: number, startTime: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const stat = readProcStat(pid);
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}

/**
 * True while pid is still the ocirun-init helper (run from its sealed memfd),
 * i.e. has not yet execve'd the container's process.
 */
export function isInitHelper(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`).startsWith('/memfd:ocirun-init');
  } catch (err) {
    // Without root the non-dumpable helper's exe link is out of reach; its
    // name is not (the helper sets it; only the fifo's presence is trusted more).
    if ((err as NodeJS.ErrnoException).code !== 'EACCES') return false;
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8') === 'ocirun-init\n';
    } catch {
      return false;
    }
  }
}

/**
 * Pids of init helpers that hold dir open (the state directory of the
 * container they are waiting in). Used when state.json cannot tell the pid.
 */
export function helpersHolding(dir: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || !isInitHelper(Number(name))) continue;
    try {
      for (const fd of readdirSync(`/proc/${name}/fd`)) {
        const target = readlinkSync(`/proc/${name}/fd/${fd}`);
        if (target === dir || target === `${dir} (deleted)`) {
          found.push(Number(name));
          break;
        }
      }
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
