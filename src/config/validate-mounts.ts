// Rules for `mounts` that go beyond the schema: what kind of mount each entry
// is, and whether ocirun can perform it.
import type { Spec } from '../oci/types.js';
import { IMPLEMENTED } from '../oci/implemented.js';
import { isBindMount, mountOptionImplemented } from './mount-options.js';
import { validateMountExtensions } from './validate-mount-ext.js';
import { type Report, index } from './report.js';
import { isObject } from './schema.js';

export function validateMounts(spec: Spec, r: Report): void {
  const mounts = spec.mounts;
  if (!Array.isArray(mounts)) return;
  mounts.forEach((m, i) => {
    const at = index('mounts', i);
    // A bad destination says nothing about the rest of the entry; a bad entry does.
    if (!isObject(m) || !r.ok(`${at}.type`, `${at}.source`, `${at}.options`)) return;
    (m.options ?? []).forEach((o, j) => {
      if (!mountOptionImplemented(o)) r.notSupported(`${at}.options[${j}]`, `mount option ${JSON.stringify(o)} not supported yet`);
    });
    if (r.ok(`${at}.uidMappings`, `${at}.gidMappings`)) validateMountExtensions(spec, m, at, r);
    if (isBindMount(m)) {
      if (m.source === undefined || m.source === '') r.error(`${at}.source`, 'is required for a bind mount');
      return;
    }
    if (m.type === undefined || m.type === '') {
      r.error(`${at}.type`, 'is required unless the mount is a bind mount');
    } else if (!IMPLEMENTED.mountTypes.includes(m.type)) {
      r.notSupported(`${at}.type`, `mount type ${JSON.stringify(m.type)} not supported yet`);
    }
  });
}
