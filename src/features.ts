// `ocirun features`: the runtime-spec features document, derived from the same
// tables the validator enforces, so what we advertise is exactly what we accept.
import { mountOptionImplemented } from './config/mount-options.js';
import type { Features } from './oci/types.js';
import {
  CAPABILITY_NAMES, IMPLEMENTED, MOUNT_OPTIONS, OCI_VERSION, OCI_VERSION_MIN,
} from './oci/tables.js';
import { VERSION } from './version.js';
import { seccompFeatures } from './seccomp/features.js';

export function features(): Features {
  const mountOptions = Object.keys(MOUNT_OPTIONS).filter(mountOptionImplemented);
  return {
    ociVersionMin: OCI_VERSION_MIN,
    ociVersionMax: OCI_VERSION,
    // Empty, not omitted: the spec reads a missing list as "unknown".
    hooks: [...IMPLEMENTED.hooks],
    mountOptions,
    linux: {
      namespaces: [...IMPLEMENTED.namespaces],
      capabilities: [...CAPABILITY_NAMES],
      cgroup: { ...IMPLEMENTED.cgroup },
      seccomp: seccompFeatures(),
      apparmor: { enabled: IMPLEMENTED.apparmor },
      selinux: { enabled: IMPLEMENTED.selinux },
      intelRdt: { enabled: IMPLEMENTED.intelRdt },
      mountExtensions: { idmap: { enabled: IMPLEMENTED.idmapMounts } },
      netDevices: { enabled: IMPLEMENTED.netDevices },
    },
    annotations: {
      'org.opencontainers.ocirun.version': VERSION,
    },
  };
}
