// Reading and writing cgroup files. Every write is one write(2) on an
// O_WRONLY open (some files, like cgroup.kill, cannot be opened for reading),
// and a failure names the config field it was for, the file and the errno.
import { closeSync, constants, existsSync, openSync, readFileSync, readdirSync, rmdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isErrnoName, SystemError } from '../errors.js';

export function writeCgroupFile(file: string, value: string, field?: string): void {
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY);
  } catch (err) {
    throw failure(err, 'open', file, value, field);
  }
  try {
    writeSync(fd, value);
  } catch (err) {
    throw failure(err, 'write', file, value, field);
  } finally {
    closeSync(fd);
  }
}

function failure(err: unknown, syscall: string, file: string, value: string, field?: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (!isErrnoName(e.code)) return err;
  const hint = HINTS[e.code] ?? '';
  const what = field ? `${field}: ` : '';
  return new SystemError({
    code: e.code, errno: -Math.abs(e.errno ?? 0), syscall, path: file,
    message: `${what}cannot write ${JSON.stringify(value.trim())} to ${file}: ${e.code}${hint}`, cause: err,
  });
}

const HINTS: Record<string, string> = {
  EINVAL: ' (value refused by the kernel)',
  ENOENT: ' (not provided by this kernel or controller)',
  EBUSY: ' (the cgroup is busy)',
  EPERM: ' (not permitted)',
  EACCES: ' (permission denied)',
  EOPNOTSUPP: ' (not supported)',
};

/** The file's content, or undefined when it does not exist. */
export function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'EOPNOTSUPP') return undefined;
    throw err;
  }
}

/** "key value" lines (cpu.stat, memory.stat, memory.events...) as bigints. */
export function parseKeyed(text: string | undefined): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out.set(k, BigInt(v));
  }
  return out;
}

/** A single number ('max' → undefined). */
export function parseNumber(text: string | undefined): bigint | undefined {
  const t = text?.trim();
  if (t === undefined || t === '' || t === 'max') return undefined;
  return /^-?\d+$/.test(t) ? BigInt(t) : undefined;
}

/** Pids listed in a cgroup.procs file; [] when the cgroup is gone. */
export function readPids(dir: string): number[] {
  const text = readOptional(join(dir, 'cgroup.procs'));
  return (text ?? '').split('\n').filter((l) => l !== '').map(Number);
}

/** Sub-cgroup directories of dir, deepest first, dir itself last. */
export function cgroupTree(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return existsSync(dir) ? [dir] : [];
  }
  for (const name of entries) out.push(...cgroupTree(join(dir, name)));
  out.push(dir);
  return out;
}

/** Pids in dir and every sub-cgroup. */
export function treePids(dir: string): number[] {
  const seen = new Set<number>();
  for (const d of cgroupTree(dir)) for (const p of readPids(d)) seen.add(p);
  return [...seen].sort((a, b) => a - b);
}

/** rmdir of dir alone: true when it is gone, false when busy (populated, or it has sub-cgroups). */
export function removeIfEmpty(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return true;
    if (code === 'EBUSY') return false;
    throw err;
  }
}

/** rmdir, children first; true when dir is gone. EBUSY (still populated) leaves it. */
export function removeTree(dir: string): boolean {
  // Most cgroups have no sub-cgroups: one rmdir, without listing the directory's files.
  if (removeIfEmpty(dir)) return true;
  for (const d of cgroupTree(dir)) {
    try {
      rmdirSync(d);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      if (code === 'EBUSY') return false;
      throw err;
    }
  }
  return !existsSync(dir);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
