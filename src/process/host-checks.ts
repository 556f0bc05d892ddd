// What the host must offer for the process's security settings: AppArmor for
// apparmorProfile (as runc, a profile on a host without it is an error, not a
// silently unconfined container), a kernel that knows each seccomp flag, and
// the capabilities the runtime can hand on at all.
// SELinux labels are the exception: like crun (and runc since 1.2), a label on
// a host without SELinux is ignored, since there is no policy it could escape.
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import type { LinuxCapabilities, Spec } from '../oci/types.js';
import { CAPABILITIES, CAPABILITY_SETS, SECCOMP_FLAG_VALUES } from '../oci/tables.js';
import { type Report, index } from '../config/report.js';
import { kernelVersion, supportedSeccompFlags } from '../seccomp/features.js';

let selinux: boolean | undefined;

/**
 * go-selinux's GetEnabled: selinuxfs is mounted and this process has a real
 * context (not "kernel"). Read once per process.
 */
export function selinuxEnabled(root = '/'): boolean {
  if (root === '/' && selinux !== undefined) return selinux;
  let on = false;
  try {
    on = existsSync(`${root}sys/fs/selinux/enforce`) && readFileSync(`${root}proc/self/attr/current`, 'utf8').replace(/\0/g, '').trim() !== 'kernel';
  } catch {
    on = false;
  }
  if (root === '/') selinux = on;
  return on;
}

/** runc's test: securityfs shows AppArmor and the module says it is enabled. */
export function apparmorEnabled(root = '/'): boolean {
  try {
    if (!existsSync(`${root}sys/kernel/security/apparmor`)) return false;
    return readFileSync(`${root}sys/module/apparmor/parameters/enabled`, 'utf8').startsWith('Y');
  } catch {
    return false;
  }
}

let held: { bounding: bigint; permitted: bigint } | undefined;

/**
/**
 * The capabilities a container can get from the process that starts its
 * helper (this one, or the daemon's caller: `pid`): in its bounding set (the
 * helper cannot raise past it, in any user namespace) and permitted
 * (capset(2) refuses anything more without a user namespace). In a user
 * namespace of the container's, its root holds every capability the bounding
 * set allows whatever ours are: what a rootless runtime, with none, relies on.
 * Ours is read once.
 */
export function heldCapabilities(status?: string, userNamespace = false, pid: number = process.pid): bigint {
  const own = status === undefined && pid === process.pid;
  let sets = own ? held : undefined;
  if (!sets) {
    const text = status ?? readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): bigint => {
      const m = new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(text);
      return m ? BigInt(`0x${m[1]}`) : ~0n;
    };
    sets = { bounding: field('CapBnd'), permitted: field('CapPrm') };
    if (own) held = sets;
  }
  return userNamespace ? sets.bounding : sets.bounding & sets.permitted;
}

interface Host { apparmor: () => boolean; kernel: () => string; capabilities?: (status?: string, userNamespace?: boolean) => bigint }

export function checkProcessHost(spec: Spec, r: Report, given: Partial<Host> = {}): void {
  const host: Host = { apparmor: apparmorEnabled, kernel: release, capabilities: heldCapabilities, ...given };
  const profile = spec.process?.apparmorProfile;
  if (profile && r.ok('process.apparmorProfile') && !host.apparmor()) {
    r.error('process.apparmorProfile', `AppArmor is not enabled on this host, cannot apply profile ${JSON.stringify(profile)}`);
  }
  const flags = spec.linux?.seccomp?.flags;
  if (flags && r.ok('linux.seccomp')) {
    const supported = supportedSeccompFlags(kernelVersion(host.kernel()));
    flags.forEach((flag, i) => {
      if (supported.includes(flag)) return;
      const [maj, min] = SECCOMP_FLAG_VALUES[flag].since;
      r.error(index('linux.seccomp.flags', i), `${flag} needs Linux ${maj}.${min} or newer (running ${host.kernel()})`);
    });
  }
  const caps = spec.process?.capabilities;
  if (caps && r.ok('process.capabilities')) {
    const userns = (spec.linux?.namespaces ?? []).some((ns) => ns.type === 'user');
    const missing = missingCapabilities(caps, (host.capabilities ?? heldCapabilities)(undefined, userns));
    if (missing.length > 0) r.warn('process.capabilities', notHeldMessage(missing));
  }
}

/** The capabilities named in any set of `caps` that `have` lacks, each once. */
export function missingCapabilities(caps: LinuxCapabilities | undefined, have: bigint): string[] {
  return [...new Set(CAPABILITY_SETS.flatMap((set) => caps?.[set] ?? []).filter((name) => {
    const bit = CAPABILITIES.get(name);
    return bit !== undefined && !(have & (1n << BigInt(bit)));
  }))];
}

/** The warning for them (at process.capabilities), the same for create and exec. */
export const notHeldMessage = (missing: readonly string[]): string => `${missing.join(', ')} not held by the runtime: dropped from every set`;
