// Assembles the helper's plan from a validated config: the one place that
// decides what the container will look like. Pure apart from reading the
// host's cgroup layout (once per process).
import { basename, dirname } from 'node:path';
import type { Spec } from '../oci/types.js';
import { NAMESPACES, ROOTFS_PROPAGATION, TIME_OFFSET_CLOCKS } from '../oci/tables.js';
import type { InitPlan } from '../native/plan-schema.js';
import { planProcess } from '../process/process-plan.js';
import { planPersonality } from '../process/attrs.js';
import { planSeccomp } from '../seccomp/seccomp-plan.js';
import { seccompCacheDir } from '../seccomp/cache.js';
import { planDevices, defaultDevSymlinks } from '../rootfs/devices.js';
import { hostLayout } from '../cgroups/layout.js';
import { planMounts, withMountLabel } from '../rootfs/mounts.js';
import { selinuxEnabled } from '../process/host-checks.js';
import { OciError } from '../errors.js';
import { runningInUserNamespace } from '../rootless/mode.js';
import { planUsernsMapping } from '../rootless/idmaps.js';

export interface PlanOptions {
  /** The container ID, for the seccomp listener's state (default: the state dir's name). */
  id?: string;
  /** The ocirun-init that will run the plan; enables the compiled seccomp filter cache. */
  helper?: string;
  bundle: string;
  rootfs: string;
  stateDir: string;
  noPivot: boolean;
  debug: boolean;
  /** The container's cgroup directory per hierarchy (src/cgroups): what a "cgroup" mount shows on v1 hosts. */
  cgroupDirs?: Record<string, string>;
  /** The capabilities the helper's starter holds (heldCapabilities of the caller). */
  heldCapabilities?: bigint;
}

export function buildInitPlan(spec: Spec, opts: PlanOptions): InitPlan {
  if (!spec.process) throw new OciError('ERR_INVALID_CONFIG', 'process: required to create a container');
  const linux = spec.linux ?? {};
  const namespaces = (linux.namespaces ?? []).map((ns) => ({
    type: NAMESPACES[ns.type],
    ...(ns.path ? { path: ns.path } : {}),
  }));
  const newUserNs = (linux.namespaces ?? []).some((ns) => ns.type === 'user' && !ns.path);
  const hostMountNs = !(linux.namespaces ?? []).some((ns) => ns.type === 'mount');
  // New, joined, or the one the runtime itself runs in (rootless podman's): a
  // user namespace other than the host's cannot mknod or mount cgroup v1.
  const inUserNs = (linux.namespaces ?? []).some((ns) => ns.type === 'user') || runningInUserNamespace();
  const planned = planMounts(spec.mounts ?? [], {
    bundle: opts.bundle,
    cgroupLayout: hostLayout(),
    userNamespace: inUserNs,
    // sysfs may be mounted only by whoever owns the network namespace: with the
    // runtime's own (owned by an outer user namespace), the host's /sys is bound instead.
    bindSysfs: inUserNs && !(linux.namespaces ?? []).some((ns) => ns.type === 'network'),
    cgroupNamespace: (linux.namespaces ?? []).some((ns) => ns.type === 'cgroup'),
    cgroupDirs: opts.cgroupDirs,
  });
  const rootfsPropagation = linux.rootfsPropagation ? ROOTFS_PROPAGATION[linux.rootfsPropagation] : undefined;
  // Without SELinux there is no policy to label for: ignored, as crun does.
  const mounts = linux.mountLabel && selinuxEnabled() ? withMountLabel(planned, linux.mountLabel) : planned;
  return {
    mode: 'create',
    namespaces,
    uidMappings: newUserNs ? linux.uidMappings ?? [] : [],
    gidMappings: newUserNs ? linux.gidMappings ?? [] : [],
    hostname: spec.hostname,
    domainname: spec.domainname,
    rootfs: opts.rootfs,
    rootfsReadonly: spec.root?.readonly ?? false,
    // Without a mount namespace the init chroots (runc): there is no pivot_root to skip.
    noPivot: hostMountNs ? false : opts.noPivot,
    ...(hostMountNs ? { hostMountNamespace: true } : {}),
    // As runc: "/" gets it before the rootfs and volumes are bound (instead of
    // the default rslave), so an rshared volume stays a peer of the host's
    // mount and what the container mounts under it reaches the host; and "/"
    // gets it again after pivot_root.
    rootPropagation: rootfsPropagation,
    rootfsPropagation,
    mounts,
    devices: planDevices(linux.devices, inUserNs),
    symlinks: defaultDevSymlinks(),
    maskedPaths: linux.maskedPaths ?? [],
    readonlyPaths: linux.readonlyPaths ?? [],
    stateDir: opts.stateDir,
    process: {
      ...planProcess(spec.process, 'init', opts.heldCapabilities),
      seccomp: linux.seccomp
        ? planSeccomp(linux.seccomp, { id: opts.id ?? basename(opts.stateDir), bundle: opts.bundle, annotations: spec.annotations },
          opts.helper ? { dir: seccompCacheDir(dirname(opts.stateDir)), helper: opts.helper } : undefined)
        : undefined,
      personality: planPersonality(linux.personality),
    },
    timeOffsets: Object.entries(linux.timeOffsets ?? {}).map(([clock, t]) => ({
      clock: TIME_OFFSET_CLOCKS[clock],
      secs: BigInt(t.secs ?? 0),
      nanosecs: t.nanosecs ?? 0,
    })),
    sysctls: Object.entries(linux.sysctl ?? {}).map(([key, value]) => ({ key, value })),
    debug: opts.debug,
    ...(newUserNs ? { userns: planUsernsMapping(spec) } : {}),
  };
}
