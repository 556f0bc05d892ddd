// Turns config.json mounts into the helper's mount plan: option names become
// mount(2) flags, propagation calls and fs data; "cgroup" is expanded for the
// host's cgroup layout. Pure: everything it needs about the host is passed in.
import { isAbsolute, resolve } from 'node:path';
import type { Mount } from '../oci/types.js';
import { MS } from '../oci/tables.js';
import { isBindMount, parseMountOptions, type ParsedMountOptions } from '../config/mount-options.js';
import type { MountPlan } from '../native/plan-schema.js';
import type { CgroupLayout } from '../cgroups/layout.js';

export interface MountContext {
  bundle: string;
  cgroupLayout: CgroupLayout;
  /** A new user namespace: cgroup v1 hierarchies cannot be mounted there. */
  userNamespace: boolean;
  /** A cgroup namespace (new or joined): a fresh cgroup2 mount then shows its root. */
  cgroupNamespace?: boolean;
  /** The container's own cgroup directory per hierarchy (src/cgroups), bound on hybrid and legacy hosts. */
  cgroupDirs?: Record<string, string>;
  /** A sysfs mount cannot be made (a user namespace without its own network namespace): bind the host's /sys. */
  bindSysfs?: boolean;
}

const BIND_FLAGS = MS.BIND | MS.REC;

export function planMounts(mounts: readonly Mount[], mctx: MountContext): MountPlan[] {
  const out: MountPlan[] = [];
  for (const m of mounts) {
    const type = m.type ?? '';
    if (type === 'cgroup') {
      out.push(...planCgroupMount(m, mctx));
      continue;
    }
    out.push(type === 'sysfs' && mctx.bindSysfs ? planSysfsBind(m) : planOne(m, mctx.bundle));
  }
  return out;
}

/**
 * runc's rootless sysfs (specconv.ToRootless): the host's /sys, recursively
 * bound, nosuid, noexec, nodev and read-only whatever the options said: it is
 * the host's, not the container's.
 */
function planSysfsBind(m: Mount): MountPlan {
  return {
    dest: m.destination, source: '/sys', type: '', flags: BIND_FLAGS, data: '',
    remountFlags: MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY, propagation: parseMountOptions(m.options).propagation,
  };
}

/**
 * Filesystem types that take linux.mountLabel as `context=`: runc's choice.
 * proc, sysfs and cgroup have labels of their own in every policy, mqueue
 * refuses the option, and binds show their source's labels.
 */
const LABELLED_TYPES = new Set(['tmpfs', 'devpts', 'overlay', 'ramfs']);

/** linux.mountLabel as the `context=` option (SELinux hosts only; the caller decides). */
export function withMountLabel(plans: MountPlan[], label: string): MountPlan[] {
  const opt = `context="${label}"`;
  return plans.map((m) => (LABELLED_TYPES.has(m.type) && !(m.flags & MS.BIND) && !m.data.includes('context=')
    ? { ...m, data: m.data === '' ? opt : `${m.data},${opt}` }
    : m));
}

/** mount_setattr(2) attributes, only when a recursive option asked for them. */
function attrs(opts: ParsedMountOptions): Pick<MountPlan, 'attrSet' | 'attrClr'> {
  return opts.attrSet || opts.attrClr ? { attrSet: opts.attrSet, attrClr: opts.attrClr } : {};
}

/** "idmap"/"ridmap" on a bind: the helper binds an id-mapped clone of the source. */
function idmapped(m: Mount, opts: ParsedMountOptions): Pick<MountPlan, 'idmap' | 'uidMappings' | 'gidMappings'> {
  const kind = opts.extensions.find((e): e is 'idmap' | 'ridmap' => e === 'idmap' || e === 'ridmap');
  if (kind === undefined) return {};
  // Without mappings of its own the mount takes the container's (the helper knows them).
  const own = (m.uidMappings?.length ?? 0) > 0;
  return { idmap: kind, ...(own ? { uidMappings: m.uidMappings, gidMappings: m.gidMappings } : {}) };
}

function planOne(m: Mount, bundle: string): MountPlan {
  const opts = parseMountOptions(m.options);
  const type = m.type ?? '';
  let source = m.source ?? '';
  if (isBindMount(m)) {
    // A relative bind source is relative to the bundle (runtime-spec config.md).
    source = isAbsolute(source) ? source : resolve(bundle, source);
    const bindFlags = (opts.flags & BIND_FLAGS) | MS.BIND;
    // mount(2) ignores every other flag on MS_BIND; they need a second, remounting call.
    const rest = opts.flags & ~(BIND_FLAGS | MS.REMOUNT);
    return {
      dest: m.destination, source, type: '', flags: bindFlags, data: '',
      ...(rest !== 0 ? { remountFlags: rest } : {}),
      propagation: opts.propagation,
      ...attrs(opts),
      ...idmapped(m, opts),
    };
  }
  return {
    dest: m.destination, source, type, flags: opts.flags, data: opts.data,
    propagation: opts.propagation,
    ...attrs(opts),
    ...(opts.extensions.includes('tmpcopyup') ? { copyUp: true } : {}),
  };
}

/**
 * cgroup2 on a unified host. On hybrid and legacy hosts, runc's layout: a tmpfs
 * with one mount per v1 hierarchy (co-mounted controllers get symlinks) and the
 * unified hierarchy at "unified"; made read-only afterwards if asked.
 */
function planCgroupMount(m: Mount, mctx: MountContext): MountPlan[] {
  const opts = parseMountOptions(m.options);
  if (mctx.cgroupLayout.mode === 'unified') {
    if (bindsHostCgroup2(mctx)) return [bindCgroup2('/sys/fs/cgroup', m.destination, opts.flags, opts.propagation)];
    // A user namespace may mount cgroup2 only in a cgroup namespace of its
    // own (EPERM in the host's). runc then binds the host's whole tree; the
    // container's own cgroup (a delegated one, rootless) is what a cgroup
    // namespace would show, and as on v1 no cgroup of its own shows an empty
    // read-only tmpfs: the runtime's cgroups are someone else's limits.
    if (mctx.userNamespace && !mctx.cgroupNamespace) {
      const mine = mctx.cgroupDirs?.[mctx.cgroupLayout.hierarchies[0]?.name ?? ''];
      if (mine) return [bindCgroup2(mine, m.destination, opts.flags, opts.propagation)];
      const flags = (opts.flags & ~(MS.BIND | MS.REC | MS.REMOUNT)) | MS.RDONLY;
      return [{ dest: m.destination, source: 'tmpfs', type: 'tmpfs', flags, data: 'mode=755', propagation: opts.propagation }];
    }
    return [{ dest: m.destination, source: m.source || 'cgroup', type: 'cgroup2', flags: opts.flags & ~MS.BIND, data: '', propagation: opts.propagation }];
  }
  const flags = opts.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
  const base = m.destination.replace(/\/+$/, '');
  const out: MountPlan[] = [{
    dest: base, source: 'tmpfs', type: 'tmpfs', flags: flags & ~MS.RDONLY, data: 'mode=755', propagation: opts.propagation,
  }];
  // The container's own cgroup of each hierarchy is bound there, as runc does,
  // unless a cgroup namespace makes a fresh mount show it (a user namespace may
  // not mount v1 hierarchies, so it always gets the binds). Without a cgroup of
  // its own (--cgroup-manager=disabled) a user-namespaced container sees an
  // empty read-only tmpfs: the runtime's cgroups are someone else's limits.
  const own = mctx.cgroupDirs;
  const bindOwn = own !== undefined && (mctx.userNamespace || !mctx.cgroupNamespace);
  const hierarchies = mctx.userNamespace && !own ? [] : mctx.cgroupLayout.hierarchies;
  for (const h of hierarchies) {
    const dest = `${base}/${h.name}`;
    const mine = own?.[h.name];
    if (bindOwn && mine) out.push(bindCgroup2(mine, dest, flags, []));
    else if (mctx.userNamespace) continue;
    else if (h.version === 2 && bindsHostCgroup2(mctx)) out.push(bindCgroup2(h.mountPoint, dest, flags, []));
    else out.push({ dest, source: 'cgroup', type: h.version === 2 ? 'cgroup2' : 'cgroup', flags, data: h.controllers.join(','), propagation: [] });
    // "cpu,cpuacct" is reachable as "cpu" and "cpuacct" too.
    if (h.name.includes(',')) {
      for (const alias of h.name.split(',')) {
        out.push({ dest: `${base}/${alias}`, source: '', type: '', flags: 0, data: '', propagation: [], symlink: h.name });
      }
    }
  }
  if (mctx.userNamespace) {
    out.push({ dest: base, source: '', type: '', flags: MS.REMOUNT | MS.RDONLY | flags, data: '', propagation: [] });
    return out;
  }
  if (flags & MS.RDONLY) {
    out.push({ dest: base, source: '', type: '', flags: MS.REMOUNT | flags, data: '', propagation: [] });
  }
  return out;
}

/**
 * Outside a cgroup namespace a fresh cgroup2 mount shows the same tree as the
 * host's mount, but the kernel also re-applies its options to the one global
 * hierarchy: mounting without the host's nsdelegate or memory_recursiveprot
 * clears them for the whole machine, and costs an RCU grace period (~10 ms,
 * half of a create, measured by bench/phases.mjs). A bind of the host's mount
 * shows the same and changes nothing. In a user namespace the fresh mount stays.
 */
function bindsHostCgroup2(mctx: MountContext): boolean {
  return !mctx.cgroupNamespace && !mctx.userNamespace;
}

function bindCgroup2(hostPath: string, dest: string, flags: number, propagation: number[]): MountPlan {
  const rest = flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
  return {
    dest, source: hostPath, type: '', flags: MS.BIND | MS.REC, data: '',
    ...(rest !== 0 ? { remountFlags: rest } : {}),
    propagation,
  };
}
