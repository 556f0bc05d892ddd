// spawnSync with stdout and stderr going to files, not pipes: a created
// container inherits them, and a pipe it keeps open would make spawnSync wait
// for the container instead of the command.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface FilesResult { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

let seq = 0;

/** Runs cmd with its output in two files under dir (removed afterwards); input defaults to ''. */
export function spawnSyncToFiles(dir: string, cmd: string, args: string[], opts: Omit<SpawnSyncOptions, 'stdio'>): FilesResult {
  const outFile = join(dir, `.out-${process.pid}-${++seq}`);
  const errFile = join(dir, `.err-${process.pid}-${seq}`);
  const out = openSync(outFile, 'w+');
  const err = openSync(errFile, 'w+');
  try {
    const r = spawnSync(cmd, args, { input: '', ...opts, stdio: ['pipe', out, err] });
    return { status: r.status, signal: r.signal, stdout: readFileSync(outFile, 'utf8'), stderr: readFileSync(errFile, 'utf8') };
  } finally {
    closeSync(out);
    closeSync(err);
    rmSync(outFile, { force: true });
    rmSync(errFile, { force: true });
  }
}
