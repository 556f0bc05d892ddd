// The first frame of a call, checked field by field: the daemon trusts no
// more of it than a fresh CLI process would trust its own argv and environment.
import { isAbsolute } from 'node:path';
import type { CallRequest } from './caller.js';

export class BadRequest extends Error {}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** The request, or BadRequest naming the first field that is wrong. */
export function parseRequest(payload: Buffer, fdCount: number, buildId: string): CallRequest {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new BadRequest('request is not JSON');
  }
  if (typeof r !== 'object' || r === null) throw new BadRequest('request is not an object');
  if (r.build !== buildId) throw new BadRequest(`front end of build ${JSON.stringify(r.build)}, daemon of build ${buildId}`);
  if (!isStrings(r.argv) || r.argv.length > 4096) throw new BadRequest('argv: expected a list of strings');
  if (typeof r.cwd !== 'string' || !isAbsolute(r.cwd) || r.cwd.includes('\0')) throw new BadRequest('cwd: expected an absolute path');
  if (!Number.isInteger(r.umask) || (r.umask as number) < 0 || (r.umask as number) > 0o777) throw new BadRequest('umask: expected 0..0777');
  if (!isStrings(r.env)) throw new BadRequest('env: expected a list of NAME=value strings');
  const fds = r.fds;
  if (!Array.isArray(fds) || fds.length !== fdCount || !fds.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new BadRequest(`fds: expected the numbers of the ${fdCount} descriptors sent`);
  }
  const env: NodeJS.ProcessEnv = {};
  for (const kv of r.env) {
    const eq = kv.indexOf('=');
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return { argv: r.argv, cwd: r.cwd, env, umask: r.umask as number, fds: fds as number[] };
}
