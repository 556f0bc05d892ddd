// Rules for linux.devices beyond the schema (runtime-spec config-linux.md#devices).
import type { Spec } from '../oci/types.js';
import { type Report, index } from './report.js';
import { isObject } from './schema.js';

export function validateDevices(spec: Spec, r: Report): void {
  const devices = spec.linux?.devices;
  if (!Array.isArray(devices)) return;
  const seen = new Map<string, number>();
  devices.forEach((d, i) => {
    const at = index('linux.devices', i);
    if (!isObject(d) || !r.ok(at)) return;
    // The kernel needs numbers for everything but a fifo.
    if (d.type !== 'p') {
      for (const field of ['major', 'minor'] as const) {
        if (d[field] === undefined) r.error(`${at}.${field}`, `is required for a device of type "${d.type}"`);
      }
    }
    const path = d.path.replace(/\/+/g, '/').replace(/\/$/, '');
    if (path === '' || path.split('/').some((p) => p === '..' || p === '.')) {
      r.error(`${at}.path`, 'must name a file, without "." or ".." components');
      return;
    }
    const first = seen.get(path);
    if (first !== undefined) r.error(`${at}.path`, `duplicate device ${JSON.stringify(d.path)} (first at linux.devices[${first}])`);
    else seen.set(path, i);
  });
}
