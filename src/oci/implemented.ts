// What ocirun implements today. The validator refuses everything else with
// "<path>: not supported yet" and `features` advertises only what is listed
// as implemented, so supporting something new starts by flipping it here.
import type { NamespaceType } from './types.js';
import type { HookName, MountOptionKind } from './tables.js';

/**
 * Config fields by path pattern: `[]` stands for any array index and `{}` for
 * any map key. A field not listed takes the value of its nearest listed
 * ancestor. A field that resolves to false is refused when it carries a value
 * (empty strings, false, empty arrays and empty objects carry none), unless a
 * descendant is listed as true, in which case each child is judged on its own.
 */
const FIELDS: Readonly<Record<string, boolean>> = Object.assign(Object.create(null) as Record<string, boolean>, {
  ociVersion: true,
  root: true,
  hostname: true,
  domainname: true,
  annotations: true,

  mounts: true,
  'mounts[].uidMappings': true,
  'mounts[].gidMappings': true,

  hooks: true,

  process: true,
  'process.user.username': false,
  'process.commandLine': false,

  linux: true,
  'linux.devices': true,
  'linux.cgroupsPath': true,
  // src/cgroups: v2, or the v1 controllers on hybrid and legacy hosts.
  'linux.resources': true,
  'linux.resources.blockIO.leafWeight': false,
  'linux.resources.blockIO.weightDevice[].leafWeight': false,
  'linux.resources.rdma': false,
  'linux.intelRdt': false,
  'linux.memoryPolicy': false,
  'linux.netDevices': false,
});

export const IMPLEMENTED = {
  fields: FIELDS,
  /** Namespaces that can be created. */
  namespaces: ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as readonly NamespaceType[],
  /** Namespaces that can be joined through `path`. */
  joinNamespaces: ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as readonly NamespaceType[],
  /** Filesystem types mounted directly; bind mounts are recognised by their options or type "bind". */
  mountTypes: ['tmpfs', 'proc', 'sysfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2'] as readonly string[],
  /** Mount option families, see MOUNT_OPTIONS. */
  mountOptionKinds: { flag: true, propagation: true, recursive: true, extension: true } as Readonly<Record<MountOptionKind, boolean>>,
  /** Per-option exceptions to mountOptionKinds. */
  mountOptionOverrides: Object.create(null) as Readonly<Record<string, boolean>>,
  hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as readonly HookName[],
  cgroup: { v1: true, v2: true, systemd: true, systemdUser: false, rdma: false },
  seccomp: true,
  apparmor: true,
  selinux: true,
  intelRdt: false,
  idmapMounts: true,
  netDevices: false,
  memoryPolicy: false,
} as const;

export interface FieldSupport {
  /** Resolved support for the field itself. */
  supported: boolean;
  /** True when the field is unsupported but some descendant is listed as supported. */
  partial: boolean;
}

const cache = new Map<string, FieldSupport>();

/** Support for a path pattern such as `linux.resources.memory` or `mounts[].options`. */
export function fieldSupport(pattern: string): FieldSupport {
  const hit = cache.get(pattern);
  if (hit) return hit;
  let supported = true;
  for (let p = pattern; p !== ''; p = parentPattern(p)) {
    const v = FIELDS[p];
    if (v !== undefined) { supported = v; break; }
  }
  const partial = !supported && Object.entries(FIELDS).some(
    ([k, v]) => v && (k.startsWith(`${pattern}.`) || k.startsWith(`${pattern}[]`) || k.startsWith(`${pattern}{}`)),
  );
  const res = { supported, partial };
  cache.set(pattern, res);
  return res;
}

function parentPattern(p: string): string {
  if (p.endsWith('[]') || p.endsWith('{}')) return p.slice(0, -2);
  const dot = p.lastIndexOf('.');
  return dot < 0 ? '' : p.slice(0, dot);
}
