// Rules for the runtime's mount extensions: id-mapped mounts ("idmap",
// "ridmap" with mounts[].uidMappings/gidMappings) and "tmpcopyup"
// (runtime-spec config.md#linux-mount-options).
import type { Mount, Spec } from '../oci/types.js';
import { isBindMount, parseMountOptions } from './mount-options.js';
import type { Report } from './report.js';
import { MAX_ID_EXTENTS, checkExtents } from './validate-linux.js';

export function validateMountExtensions(spec: Spec, m: Mount, at: string, r: Report): void {
  const { extensions } = parseMountOptions(m.options);
  const idmap = extensions.filter((e) => e === 'idmap' || e === 'ridmap');
  const uid = m.uidMappings ?? [];
  const gid = m.gidMappings ?? [];
  if (extensions.includes('tmpcopyup') && m.type !== 'tmpfs') {
    r.error(`${at}.options`, '"tmpcopyup" requires a tmpfs mount');
  }
  if (idmap.length === 0) {
    for (const [field, maps] of [['uidMappings', uid], ['gidMappings', gid]] as const) {
      if (maps.length > 0) r.error(`${at}.${field}`, 'requires the "idmap" or "ridmap" mount option');
    }
    return;
  }
  if (idmap.length > 1) r.error(`${at}.options`, '"idmap" and "ridmap" are mutually exclusive');
  if (!isBindMount(m)) {
    r.error(`${at}.options`, `"${idmap[0]}" requires a bind mount`);
    return;
  }
  if ((uid.length === 0) !== (gid.length === 0)) {
    r.error(`${at}.${uid.length === 0 ? 'uidMappings' : 'gidMappings'}`, 'is required when the other mapping is given');
  }
  for (const [field, maps] of [['uidMappings', uid], ['gidMappings', gid]] as const) {
    if (maps.length > MAX_ID_EXTENTS) r.error(`${at}.${field}`, `must have at most ${MAX_ID_EXTENTS} entries`);
    checkExtents(`${at}.${field}`, maps, r);
  }
  const userns = (spec.linux?.namespaces ?? []).some((ns) => ns.type === 'user');
  if (uid.length === 0 && gid.length === 0 && !userns) {
    r.error(`${at}.options`, `"${idmap[0]}" needs uidMappings and gidMappings, or a user namespace to take them from`);
  }
}
