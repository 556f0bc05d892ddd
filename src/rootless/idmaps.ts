// How a new user namespace gets its id maps when ocirun has no root. The
// kernel lets an unprivileged process map only its own uid and gid (the gid
// only once setgroups is denied, user_namespaces(7)); anything wider goes
// through the setuid newuidmap/newgidmap of shadow's uidmap package, which
// allow what /etc/subuid and /etc/subgid grant the user, as runc does. What
// they would refuse is refused here first, naming the config field.
import { accessSync, constants, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { OciError } from '../errors.js';
import type { UsernsMappingPlan } from '../native/plan-schema.js';
import type { IDMapping, Spec } from '../oci/types.js';

export interface IdRange { start: number; count: number }

/** Who maps: the effective ids and the name /etc/subuid knows the user by. */
export interface Mapper { uid: number; gid: number; name?: string }

export function currentMapper(): Mapper {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry: /etc/subuid can still name the uid
  }
  return { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0, name };
}

/** The ranges a subuid/subgid file grants, by user name or numeric id (shadow's subid(5)). */
export function parseSubIds(text: string, who: Mapper): IdRange[] {
  const out: IdRange[] = [];
  for (const line of text.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if (!owner || owner.startsWith('#') || start === undefined || count === undefined) continue;
    if (owner !== who.name && owner !== String(who.uid)) continue;
    const s = Number(start), c = Number(count);
    if (Number.isSafeInteger(s) && Number.isSafeInteger(c) && s >= 0 && c > 0) out.push({ start: s, count: c });
  }
  return out;
}

function readSubIds(file: string, who: Mapper): IdRange[] {
  try {
    return parseSubIds(readFileSync(file, 'utf8'), who);
  } catch {
    return [];
  }
}

/** An executable on PATH or in the usual places, as runc's exec.LookPath("newuidmap"). */
export function findHelper(name: string, path = process.env.PATH ?? ''): string | undefined {
  const dirs = [...path.split(delimiter).filter((d) => d.startsWith('/')), '/usr/bin', '/usr/sbin', '/bin', '/sbin'];
  for (const d of dirs) {
    const file = join(d, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

const within = (m: IDMapping, ranges: IdRange[]): boolean =>
  ranges.some((r) => m.hostID >= r.start && m.hostID + m.size <= r.start + r.count);

const show = (ranges: IdRange[]): string =>
  ranges.length === 0 ? 'none' : ranges.map((r) => `${r.start}-${r.start + r.count - 1}`).join(', ');

interface Kind { field: 'uidMappings' | 'gidMappings'; own: number; file: string; helper: string; what: string }

/** One map: written directly (the caller's own id only), or by the helper; throws if neither may. */
function planOne(maps: IDMapping[], k: Kind, who: Mapper, subIds: (file: string) => IdRange[]): { helper?: string } {
  if (maps.length === 1 && maps[0].hostID === k.own && maps[0].size === 1) return {};
  const ranges = subIds(k.file);
  maps.forEach((m, i) => {
    if (m.size === 1 && m.hostID === k.own) return;
    if (!within(m, ranges)) {
      const user = who.name ? `${who.name} (${k.what} ${k.own})` : `${k.what} ${k.own}`;
      throw new OciError('ERR_INVALID_CONFIG',
        `linux.${k.field}[${i}]: host ${k.what}s ${m.hostID}-${m.hostID + m.size - 1} are not ${user}'s to map: ` +
        `${k.file} grants ${show(ranges)}`);
    }
  });
  const helper = findHelper(k.helper);
  if (!helper) {
    throw new OciError('ERR_NOT_SUPPORTED',
      `linux.${k.field}: mapping more than ${k.what} ${k.own} without root needs ${k.helper} (Debian package uidmap), which is not installed`);
  }
  return { helper };
}

/**
 * The mapping plan for a container with a new user namespace, or undefined
 * when the runtime has root (it writes any map itself).
 */
export function planUsernsMapping(
  spec: Spec, who: Mapper = currentMapper(), subIds: (file: string) => IdRange[] = (f) => readSubIds(f, who),
): UsernsMappingPlan | undefined {
  if (who.uid === 0) return undefined;
  const linux = spec.linux ?? {};
  const uid = planOne(linux.uidMappings ?? [], { field: 'uidMappings', own: who.uid, file: '/etc/subuid', helper: 'newuidmap', what: 'uid' }, who, subIds);
  const gid = planOne(linux.gidMappings ?? [], { field: 'gidMappings', own: who.gid, file: '/etc/subgid', helper: 'newgidmap', what: 'gid' }, who, subIds);
  const setgroupsDeny = gid.helper === undefined;
  if (setgroupsDeny && (spec.process?.user.additionalGids?.length ?? 0) > 0) {
    throw new OciError('ERR_INVALID_CONFIG',
      'process.user.additionalGids: cannot be set without root unless linux.gidMappings goes through newgidmap ' +
      `(mapping only gid ${who.gid} requires setgroups to be denied)`);
  }
  return {
    ...(setgroupsDeny ? { setgroupsDeny } : {}),
    ...(uid.helper ? { uidMapHelper: uid.helper } : {}),
    ...(gid.helper ? { gidMapHelper: gid.helper } : {}),
  };
}
