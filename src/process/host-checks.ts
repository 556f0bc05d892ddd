// What the host must offer for the process's security settings: AppArmor for
// apparmorProfile (as runc, a profile on a host without it is an error, not a
// silently unconfined container), a kernel that knows each seccomp flag.
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import type { Spec } from '../oci/types.js';
import { SECCOMP_FLAG_VALUES } from '../oci/tables.js';
import { type Report, index } from '../config/report.js';
import { kernelVersion, supportedSeccompFlags } from '../seccomp/features.js';

/** runc's test: securityfs shows AppArmor and the module says it is enabled. */
export function apparmorEnabled(root = '/'): boolean {
  try {
    if (!existsSync(`${root}sys/kernel/security/apparmor`)) return false;
    return readFileSync(`${root}sys/module/apparmor/parameters/enabled`, 'utf8').startsWith('Y');
  } catch {
    return false;
  }
}

export function checkProcessHost(spec: Spec, r: Report, host = { apparmor: apparmorEnabled, kernel: release }): void {
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
}
