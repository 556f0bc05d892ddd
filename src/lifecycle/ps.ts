// ps: the processes in a container's cgroup (and its sub-cgroups), as pids
// for `--format json`, or as runc prints them: ps(1)'s own output (with the
// caller's arguments, "-ef" by default) cut down to the container's lines.
import { spawnSync } from 'node:child_process';
import type { RuntimeContext } from '../context.js';
import { OciError } from '../errors.js';
import { managerFor } from '../cgroups/index.js';
import { requireCgroup } from '../cgroups/container.js';

export function containerPids(ctx: RuntimeContext, id: string): number[] {
  const record = ctx.store.read(id);
  return managerFor(requireCgroup(record)).pids();
}

/** ps(1) output: the header, then the lines whose PID column is one of `pids`. */
export function psTable(pids: number[], psArgs: string[]): string {
  const args = psArgs.length > 0 ? psArgs : ['-ef'];
  const r = spawnSync('ps', args, { encoding: 'utf8' });
  if (r.error) throw new OciError('ERR_SYSTEM', `ps: ${r.error.message}`);
  if (r.status !== 0) throw new OciError('ERR_INVALID_ARGUMENT', `ps ${args.join(' ')}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
  const lines = r.stdout.split('\n');
  const column = lines[0].trim().split(/\s+/).indexOf('PID');
  if (column < 0) throw new OciError('ERR_INVALID_ARGUMENT', `ps ${args.join(' ')}: no PID column in its output`);
  const wanted = new Set(pids);
  const out = [lines[0]];
  for (const line of lines.slice(1)) {
    if (line.trim() === '') continue;
    if (wanted.has(Number(line.trim().split(/\s+/)[column]))) out.push(line);
  }
  return out.join('\n') + '\n';
}
