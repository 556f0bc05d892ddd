// The systemd driver's names: linux.cgroupsPath in runc's `slice:prefix:name`
// form → the transient scope unit, its slice, and the cgroup directory systemd
// will give it. Pure: nothing here talks to systemd.
import { OciError } from '../errors.js';

/** Where a container goes without a cgroupsPath, or with an empty slice part (runc's default for root). */
export const DEFAULT_SLICE = 'system.slice';
/** The unit prefix without a cgroupsPath: `ocirun-<id>.scope` (runc's is "runc"). */
export const DEFAULT_PREFIX = 'ocirun';

export interface SystemdUnit {
  /** The transient scope, e.g. `cri-containerd-<id>.scope`. */
  unit: string;
  /** Its Slice= (created by systemd when missing, with its parents). */
  slice: string;
}

/** systemd's unit name characters (unit_name_is_valid); ':' cannot occur here, the path's separator. */
const UNIT_CHARS = /^[A-Za-z0-9_.\\@-]+$/;
const UNIT_NAME_MAX = 255;

const invalid = (why: string): OciError => new OciError('ERR_INVALID_CONFIG', `linux.cgroupsPath: ${why}`);

/**
 * runc's rules: "" → system.slice and `<prefix>-<id>.scope`; otherwise exactly
 * three parts, an empty slice meaning system.slice, the unit being
 * `<prefix>-<name>.scope`. A name ending in `.slice` (runc makes a slice unit,
 * for kubelet's own use) is refused: a container needs a scope for its pid.
 */
export function parseSystemdPath(cgroupsPath: string | undefined, id: string): SystemdUnit {
  if (!cgroupsPath) return { unit: `${DEFAULT_PREFIX}-${id}.scope`, slice: DEFAULT_SLICE };
  const parts = cgroupsPath.split(':');
  if (parts.length !== 3) {
    throw invalid(`expected "slice:prefix:name" with the systemd cgroup driver, got ${JSON.stringify(cgroupsPath)}`);
  }
  const [slicePart, prefix, name] = parts;
  if (name.endsWith('.slice')) throw invalid(`${JSON.stringify(name)}: a slice as the container's own unit is not supported (a container gets a scope)`);
  const slice = slicePart || DEFAULT_SLICE;
  expandSlice(slice);
  const unit = `${prefix}-${name}.scope`;
  if (!UNIT_CHARS.test(unit) || unit.length > UNIT_NAME_MAX) throw invalid(`${JSON.stringify(unit)} is not a valid systemd unit name`);
  return { unit, slice };
}

/**
 * systemd's slice nesting: `a-b-c.slice` is /a.slice/a-b.slice/a-b-c.slice,
 * and `-.slice` the root. Empty components (`a--b.slice`, `-a.slice`) are invalid.
 */
export function expandSlice(slice: string): string {
  const bad = (): OciError => invalid(`${JSON.stringify(slice)} is not a valid slice name`);
  if (!slice.endsWith('.slice') || slice === '.slice' || slice.includes('/') || !UNIT_CHARS.test(slice)) throw bad();
  const base = slice.slice(0, -'.slice'.length);
  if (base === '-') return '/';
  let path = '';
  let prefix = '';
  for (const component of base.split('-')) {
    if (component === '') throw bad();
    path += `/${prefix}${component}.slice`;
    prefix += `${component}-`;
  }
  return path;
}

/** The scope's cgroup directory on a unified host mounted at `mount`. */
export function scopeDir(u: SystemdUnit, mount = '/sys/fs/cgroup'): string {
  const slice = expandSlice(u.slice);
  return `${mount}${slice === '/' ? '' : slice}/${u.unit}`;
}
