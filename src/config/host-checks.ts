// The checks that need the host: paths the config points at must exist, and
// settings that act on a joined namespace must not be aimed at the runtime's
// own namespace (that would change the host). Read-only: stat and realpath,
// synchronous as in load.ts (local metadata calls, cheaper than the thread pool).
import { realpathSync, statfsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { NamespaceType, Spec } from '../oci/types.js';
import { NAMESPACE_PROC_NAMES, sysctlNamespace } from '../oci/tables.js';
import { isBindMount } from './mount-options.js';
import { checkProcessHost, heldCapabilities } from '../process/host-checks.js';
import { type Report, index, mapKey } from './report.js';

type Kind = 'dir' | 'file' | 'other' | 'missing';

function kindOf(path: string): Kind {
  try {
    const st = statSync(path);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return 'missing';
    throw err;
  }
}

const NSFS_MAGIC = 0x6e736673;

/**
 * Why path cannot be a namespace file, looking without opening it: a fifo
 * there would block the helper's open forever. The helper checks the
 * namespace type itself (NS_GET_NSTYPE) and again refuses anything else.
 */
function notANamespace(path: string): string | undefined {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return `${JSON.stringify(path)} does not exist`;
    return `${JSON.stringify(path)}: ${(err as Error).message}`;
  }
  const kind = st.isFIFO() ? 'a fifo' : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device'
    : st.isDirectory() ? 'a directory' : undefined;
  if (kind === undefined && fsType(path) === NSFS_MAGIC) return undefined;
  return `${JSON.stringify(path)} is ${kind ?? 'a file'}, not a namespace file`;
}

/** statfs's type; unknown (unreadable) counts as nsfs, as the helper checks the type itself. */
function fsType(path: string): number {
  try {
    return statfsSync(path).type;
  } catch {
    return NSFS_MAGIC;
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    const sa = statSync(a, { bigint: true });
    const sb = statSync(b, { bigint: true });
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false; // unreadable or gone: the helper reports it when joining
  }
}

/**
 * Adds host problems to `r` for the parts of `spec` that passed validation.
 * Returns the rootfs as an absolute real path when it exists.
 */
export function checkHost(spec: Spec, bundle: string, r: Report, callerPid?: number): string | undefined {
  let rootfs: string | undefined;
  if (r.ok('root') && spec.root) {
    const path = resolve(bundle, spec.root.path);
    const kind = kindOf(path);
    if (kind === 'missing') r.error('root.path', `${JSON.stringify(path)} does not exist`);
    else if (kind !== 'dir') r.error('root.path', `${JSON.stringify(path)} is not a directory`);
    else {
      // runc's validator refuses a rootfs reached through a symlink ("not an
      // absolute path, or a symlink"): what was checked is then not
      // necessarily what gets mounted, if the link changes in between.
      const real = realpathSync(path);
      if (real !== path) r.error('root.path', `${JSON.stringify(path)} goes through a symlink (to ${JSON.stringify(real)}); give the real path`);
      else rootfs = real;
    }
  }

  const joined = new Map<NamespaceType, { at: string; path: string }>();
  if (r.ok('linux.namespaces')) {
    const list = spec.linux?.namespaces ?? [];
    for (let i = 0; i < list.length; i++) {
      const ns = list[i];
      if (!ns.path) continue;
      const at = `${index('linux.namespaces', i)}.path`;
      const problem = notANamespace(ns.path);
      if (problem) r.error(at, problem);
      else if (!joined.has(ns.type)) joined.set(ns.type, { at, path: ns.path });
    }
  }

  if (r.ok('mounts')) {
    const mounts = spec.mounts ?? [];
    for (let i = 0; i < mounts.length; i++) {
      const m = mounts[i];
      if (!isBindMount(m) || !m.source) continue;
      // Relative bind sources are relative to the bundle, as in runc.
      const src = isAbsolute(m.source) ? m.source : resolve(bundle, m.source);
      if (kindOf(src) === 'missing') r.error(`${index('mounts', i)}.source`, `${JSON.stringify(src)} does not exist`);
    }
  }

  const isHostNs = (type: NamespaceType): boolean => {
    const j = joined.get(type);
    return j !== undefined && sameFile(j.path, `/proc/self/ns/${NAMESPACE_PROC_NAMES[type]}`);
  };
  for (const field of ['hostname', 'domainname'] as const) {
    if (r.ok(field) && spec[field] && isHostNs('uts')) {
      r.error(field, `refusing to set ${field} in the host's UTS namespace (${joined.get('uts')!.path})`);
    }
  }
  if (r.ok('linux.sysctl')) {
    for (const key of Object.keys(spec.linux?.sysctl ?? {})) {
      const type = sysctlNamespace(key.includes('/') ? key.split('/').join('.') : key);
      if (type !== undefined && isHostNs(type)) {
        r.error(mapKey('linux.sysctl', key), `refusing to set a sysctl in the host's ${NAMESPACE_PROC_NAMES[type]} namespace (${joined.get(type)!.path})`);
      }
    }
  }
  checkProcessHost(spec, r, { capabilities: (status, userns) => heldCapabilities(status, userns, callerPid) });
  return rootfs;
}
