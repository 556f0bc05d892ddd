// Whether a container's cgroup is frozen: read by every `state` and `list`,
// so it stays a couple of file reads with nothing else loaded.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupRecord } from './index.js';

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function isFrozen(record: CgroupRecord): boolean {
  if (record.version === 2) {
    const dir = Object.values(record.dirs)[0];
    return dir !== undefined && read(join(dir, 'cgroup.freeze')) === '1';
  }
  const name = Object.keys(record.dirs).find((n) => n.split(',').includes('freezer'));
  const state = name === undefined ? undefined : read(join(record.dirs[name], 'freezer.state'));
  return state !== undefined && state !== 'THAWED';
}
