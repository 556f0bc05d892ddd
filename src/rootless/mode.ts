// Whether ocirun runs without root, and what follows from that before any
// container exists: the default state root and the --rootless mode that
// decides how cgroup permission errors are treated (docs/rootless.md).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { OciError } from '../errors.js';

/** runc's --rootless values; "auto" decides from the process's credentials. */
export type RootlessSetting = 'true' | 'false' | 'auto';
export const ROOTLESS_SETTINGS: readonly RootlessSetting[] = ['true', 'false', 'auto'];

export const ROOT_STATE_ROOT = '/run/ocirun';

const euid = (): number => process.geteuid?.() ?? 0;

let inUserNs: boolean | undefined;

/**
 * True inside a user namespace other than the host's (rootless podman runs
 * its runtime as uid 0 of one): the initial namespace maps every id to itself.
 */
export function runningInUserNamespace(): boolean {
  if (inUserNs === undefined) {
    try {
      const lines = readFileSync('/proc/self/uid_map', 'utf8').trim().split('\n');
      inUserNs = !(lines.length === 1 && lines[0].trim().split(/\s+/).join(' ') === '0 0 4294967295');
    } catch {
      inUserNs = false;
    }
  }
  return inUserNs;
}

/**
 * runc's rule: rootless when told so, else when not root, or root of a user
 * namespace (where the host's cgroups are someone else's).
 */
export function resolveRootless(setting: RootlessSetting | boolean | undefined): boolean {
  if (setting === true || setting === 'true') return true;
  if (setting === false || setting === 'false') return false;
  return euid() !== 0 || runningInUserNamespace();
}

function ownedByUs(dir: string): boolean {
  try {
    return statSync(dir).uid === euid();
  } catch {
    return false;
  }
}

/**
 * The state root when --root is not given: /run/ocirun for root, else
 * $XDG_RUNTIME_DIR/ocirun as runc and crun do. Root of a user namespace
 * takes XDG_RUNTIME_DIR only when it owns it (runc's shouldHonorXDGRuntimeDir).
 */
export function defaultStateRoot(env: NodeJS.ProcessEnv = process.env, uid = euid()): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (uid === 0) {
    return xdg && runningInUserNamespace() && ownedByUs(xdg) ? join(xdg, 'ocirun') : ROOT_STATE_ROOT;
  }
  if (!xdg) {
    throw new OciError('ERR_INVALID_ARGUMENT',
      `running as uid ${uid} without root: set XDG_RUNTIME_DIR (usually /run/user/${uid}) or pass --root DIR`);
  }
  return join(xdg, 'ocirun');
}
