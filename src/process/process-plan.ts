// The user process as the helper applies it: names resolved to numbers here,
// so the helper never parses a capability or rlimit name.
import type { LinuxCapabilities, Process } from '../oci/types.js';
import { CAPABILITIES, RLIMITS } from '../oci/tables.js';
import type { CapabilityPlan, ProcessPlan } from '../native/plan-schema.js';
import { planProcessAttrs, type ProcessRole } from './attrs.js';
import { heldCapabilities } from './host-checks.js';

function capMask(names: readonly string[] | undefined): bigint {
  let mask = 0n;
  // Unknown names were reported as warnings by the validator; the spec says skip them.
  for (const name of names ?? []) {
    const bit = CAPABILITIES.get(name);
    if (bit !== undefined) mask |= 1n << BigInt(bit);
  }
  return mask;
}

/**
 * The kernel's capset(2) rules, applied here so that a capability which cannot
 * be granted is left out instead of failing the container after start (the
 * spec: runtimes SHOULD NOT fail on capabilities they cannot grant, and log a
 * warning, which checkProcessHost does at create): every set is cut to what
 * the runtime itself holds (`held`, its bounding and permitted sets), effective
 * must be within permitted, and inheritable within the bounding set the helper
 * leaves. Ambient is already skipped by the helper when not permitted and
 * inheritable.
 */
export function planCapabilities(caps: LinuxCapabilities, held: bigint = heldCapabilities()): CapabilityPlan {
  const bounding = capMask(caps.bounding) & held;
  const permitted = capMask(caps.permitted) & held;
  return {
    bounding,
    effective: capMask(caps.effective) & permitted,
    inheritable: capMask(caps.inheritable) & bounding,
    permitted,
    ambient: capMask(caps.ambient) & held,
  };
}

const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

function rlimitValue(n: number): bigint {
  // JSON cannot carry 2^64-1 exactly; anything at or past 2^63 means "unlimited".
  return n >= 2 ** 63 || n < 0 ? RLIM_INFINITY : BigInt(n);
}

/** Seccomp and personality are container-wide (linux.*); the caller adds them. */
export function planProcess(p: Process, role: ProcessRole = 'init', held?: bigint): ProcessPlan {
  return {
    args: p.args ?? [],
    env: p.env ?? [],
    cwd: p.cwd,
    uid: p.user.uid,
    gid: p.user.gid,
    additionalGids: p.user.additionalGids ?? [],
    umask: p.user.umask,
    noNewPrivileges: p.noNewPrivileges ?? false,
    rlimits: (p.rlimits ?? []).map((r) => ({
      resource: RLIMITS.get(r.type) ?? -1,
      soft: rlimitValue(r.soft),
      hard: rlimitValue(r.hard),
    })),
    capabilities: p.capabilities ? planCapabilities(p.capabilities, held) : undefined,
    oomScoreAdj: p.oomScoreAdj,
    ...planProcessAttrs(p, role),
  };
}
