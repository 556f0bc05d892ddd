// Turns a mount's `options` into what the kernel wants. The planner uses this
// for real and the validator uses it to find options ocirun cannot honour yet.
import type { Mount } from '../oci/types.js';
import { IMPLEMENTED } from '../oci/implemented.js';
import { MOUNT_ATTR, MOUNT_OPTIONS, MS } from '../oci/tables.js';

export interface ParsedMountOptions {
  /** mount(2) flags after applying every set/clear option in order. */
  flags: number;
  /** Flags some option explicitly cleared ("rw", "suid", ...). */
  cleared: number;
  /** One mount(2) propagation call each, in the order given. */
  propagation: number[];
  /** mount_setattr(2) attributes from the recursive ("r"-prefixed) options. */
  attrSet: number;
  attrClr: number;
  /** Runtime extensions present ("tmpcopyup", "idmap", "ridmap"). */
  extensions: string[];
  /** Unrecognised options, comma-joined, for the filesystem. */
  data: string;
}

export function parseMountOptions(options: readonly string[] = []): ParsedMountOptions {
  const res: ParsedMountOptions = { flags: 0, cleared: 0, propagation: [], attrSet: 0, attrClr: 0, extensions: [], data: '' };
  const data: string[] = [];
  for (const name of options) {
    const def = MOUNT_OPTIONS[name];
    if (def === undefined) { data.push(name); continue; }
    switch (def.kind) {
      case 'flag':
        if (def.clear) { res.flags &= ~def.flag; res.cleared |= def.flag; } else { res.flags |= def.flag; res.cleared &= ~def.flag; }
        break;
      case 'propagation':
        res.propagation.push(def.flag);
        break;
      case 'recursive': {
        const atime = def.flag === MOUNT_ATTR.NOATIME || def.flag === MOUNT_ATTR.STRICTATIME || def.flag === MOUNT_ATTR.RELATIME;
        if (def.clear) {
          res.attrClr |= def.flag; res.attrSet &= ~def.flag;
        } else {
          res.attrSet |= def.flag; res.attrClr &= ~def.flag;
          // The atime modes are one field: setting one means replacing the field.
          if (atime) res.attrClr |= MOUNT_ATTR._ATIME;
        }
        break;
      }
      case 'extension':
        if (!res.extensions.includes(name)) res.extensions.push(name);
        break;
    }
  }
  res.data = data.join(',');
  return res;
}

/** Whether ocirun honours a recognised option today (unrecognised ones are filesystem data). */
export function mountOptionImplemented(name: string): boolean {
  const def = MOUNT_OPTIONS[name];
  if (def === undefined) return true;
  return IMPLEMENTED.mountOptionOverrides[name] ?? IMPLEMENTED.mountOptionKinds[def.kind];
}

/** Bind mounts are spotted by their options (as runc does) or by type "bind". */
export function isBindMount(m: Pick<Mount, 'type' | 'options'>): boolean {
  if (m.type === 'bind') return true;
  return (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}
