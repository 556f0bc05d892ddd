// Cross-field rules for the Linux section: namespaces and what depends on
// them (id mappings, hostname, time offsets, sysctls).
import type { IDMapping, NamespaceType, Spec } from '../oci/types.js';
import { IMPLEMENTED } from '../oci/implemented.js';
import { sysctlNamespace } from '../oci/tables.js';
import { type Report, index, mapKey } from './report.js';
import { ID_MAX, isObject } from './schema.js';

/** The kernel's limit on extents per uid_map/gid_map (since Linux 4.15). */
export const MAX_ID_EXTENTS = 340;

interface NsEntry { index: number; path?: string }

/** Namespaces by type, from entries that passed the schema. */
export function namespaceMap(spec: Spec, r?: Report): Map<NamespaceType, NsEntry> {
  const out = new Map<NamespaceType, NsEntry>();
  (spec.linux?.namespaces ?? []).forEach((ns, i) => {
    if (r && !r.ok(index('linux.namespaces', i))) return;
    if (!out.has(ns.type)) out.set(ns.type, { index: i, path: ns.path || undefined });
  });
  return out;
}

/**
 * Namespaces by type. When some entry failed the schema the list is
 * incomplete, and rules that fire on a *missing* namespace stay quiet rather
 * than blame the wrong field.
 */
interface Namespaces { byType: Map<NamespaceType, NsEntry>; complete: boolean }

export function validateLinux(spec: Spec, r: Report): void {
  const linux: unknown = spec.linux;
  if (linux !== undefined && (!isObject(linux) || !isList(linux.namespaces))) return;
  const ns: Namespaces = { byType: namespaceMap(spec, r), complete: r.ok('linux.namespaces') };
  validateNamespaces(spec, ns, r);
  validateIdMappings(spec, ns, r);
  validateTimeOffsets(spec, ns, r);
  for (const field of ['hostname', 'domainname'] as const) {
    if (r.ok(field) && spec[field] && ns.complete && !ns.byType.has('uts')) {
      r.error(field, `unable to set ${field} without a private UTS namespace`);
    }
  }
  validateSysctl(spec, ns, r);
}

const isList = (v: unknown): boolean => v === undefined || Array.isArray(v);

function validateNamespaces(spec: Spec, all: Namespaces, r: Report): void {
  const seen = new Map<string, number>();
  (spec.linux?.namespaces ?? []).forEach((ns, i) => {
    const at = index('linux.namespaces', i);
    if (!r.ok(at)) return;
    const first = seen.get(ns.type);
    if (first !== undefined) {
      r.error(`${at}.type`, `duplicate namespace ${JSON.stringify(ns.type)} (first at linux.namespaces[${first}])`);
      return;
    }
    seen.set(ns.type, i);
    if (!IMPLEMENTED.namespaces.includes(ns.type)) {
      r.notSupported(`${at}.type`, `${ns.type} namespace not supported yet`);
    } else if (ns.path && !IMPLEMENTED.joinNamespaces.includes(ns.type)) {
      r.notSupported(`${at}.path`, `joining a ${ns.type} namespace not supported yet`);
    }
  });
  // No mount namespace is runc's chroot mode: the mounts land in the caller's
  // namespace (docs/security.md), and masking /proc or /sys there would be
  // undone by any process with CAP_SYS_ADMIN, so runc refuses it; so do we.
  if (all.complete && !seen.has('mount')) {
    for (const field of ['maskedPaths', 'readonlyPaths'] as const) {
      if ((spec.linux?.[field]?.length ?? 0) > 0 && r.ok(`linux.${field}`)) {
        r.error(`linux.${field}`, 'unable to restrict sys entries without a private mount namespace');
      }
    }
  }
}

function validateIdMappings(spec: Spec, ns: Namespaces, r: Report): void {
  const user = ns.byType.get('user');
  for (const kind of ['uid', 'gid'] as const) {
    const field = `linux.${kind}Mappings`;
    if (!r.ok(field)) continue;
    const maps = spec.linux?.[`${kind}Mappings`] ?? [];
    if (user === undefined) {
      if (maps.length > 0 && ns.complete) r.error(field, 'requires a user namespace');
      continue;
    }
    if (user.path !== undefined) {
      if (maps.length > 0) r.error(field, 'cannot be set when joining an existing user namespace');
      continue;
    }
    if (maps.length === 0) { r.error(field, 'is required with a new user namespace'); continue; }
    if (maps.length > MAX_ID_EXTENTS) r.error(field, `must have at most ${MAX_ID_EXTENTS} entries`);
    checkExtents(field, maps, r);
  }
  if (user !== undefined && user.path === undefined) checkProcessIdsMapped(spec, r);
}

/**
 * The kernel's map_write() rules, so a bad map fails here with its JSON path
 * and not as EINVAL from writing uid_map: no extent may reach (u32)-1, the
 * "no id" value, on either side, and extents must not overlap.
 */
export function checkExtents(field: string, maps: readonly IDMapping[], r: Report): void {
  maps.forEach((m, i) => {
    const at = index(field, i);
    for (const side of ['containerID', 'hostID'] as const) {
      if (m[side] + m.size > ID_MAX + 1) r.error(at, `${side} + size exceeds ${ID_MAX + 1}`);
    }
    // The kernel refuses a map whose extents overlap on either side.
    for (let j = 0; j < i; j++) {
      const o = maps[j];
      if (overlaps(m.containerID, m.size, o.containerID, o.size)) {
        r.error(at, `container IDs overlap with ${index(field, j)}`);
      } else if (overlaps(m.hostID, m.size, o.hostID, o.size)) {
        r.error(at, `host IDs overlap with ${index(field, j)}`);
      }
    }
  });
}

function overlaps(a: number, alen: number, b: number, blen: number): boolean {
  return a < b + blen && b < a + alen;
}

/** setuid/setgid inside the new user namespace fail for unmapped ids. */
function checkProcessIdsMapped(spec: Spec, r: Report): void {
  const user = spec.process?.user;
  if (user === undefined || !r.ok('process.user', 'linux.uidMappings', 'linux.gidMappings')) return;
  const mapped = (maps: IDMapping[] | undefined, id: number) =>
    (maps ?? []).some((m) => id >= m.containerID && id < m.containerID + m.size);
  const uids = spec.linux?.uidMappings;
  const gids = spec.linux?.gidMappings;
  if (uids?.length && !mapped(uids, user.uid)) r.error('process.user.uid', `${user.uid} is not mapped by linux.uidMappings`);
  if (gids?.length && !mapped(gids, user.gid)) r.error('process.user.gid', `${user.gid} is not mapped by linux.gidMappings`);
  (user.additionalGids ?? []).forEach((g, i) => {
    if (gids?.length && !mapped(gids, g)) r.error(index('process.user.additionalGids', i), `${g} is not mapped by linux.gidMappings`);
  });
}

function validateTimeOffsets(spec: Spec, ns: Namespaces, r: Report): void {
  const offsets = spec.linux?.timeOffsets;
  if (!r.ok('linux.timeOffsets') || offsets === undefined || Object.keys(offsets).length === 0) return;
  const time = ns.byType.get('time');
  // Offsets can only be written before the first process enters the namespace.
  if (time === undefined) { if (ns.complete) r.error('linux.timeOffsets', 'requires a new time namespace'); } else if (time.path !== undefined) r.error('linux.timeOffsets', 'cannot be set when joining an existing time namespace');
}

function validateSysctl(spec: Spec, ns: Namespaces, r: Report): void {
  const sysctl = spec.linux?.sysctl;
  if (sysctl === undefined || !r.ok('linux.sysctl')) return;
  for (const key of Object.keys(sysctl)) {
    const at = mapKey('linux.sysctl', key);
    const dotted = key.includes('/') ? key.split('/').join('.') : key;
    const need = sysctlNamespace(dotted);
    if (need === undefined) {
      r.error(at, 'is not namespaced: setting it would change the host');
    } else if (ns.complete && !ns.byType.has(need)) {
      r.error(at, `requires a private ${NS_TITLE[need]} namespace`);
    }
  }
}

const NS_TITLE: Record<NamespaceType, string> = {
  pid: 'PID', network: 'network', mount: 'mount', ipc: 'IPC',
  uts: 'UTS', user: 'user', cgroup: 'cgroup', time: 'time',
};
