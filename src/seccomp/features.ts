// The seccomp part of `ocirun features`, from the same tables the validator
// and the planner use.
import { release } from 'node:os';
import type { FeaturesLinux } from '../oci/types.js';
import {
  IMPLEMENTED, SECCOMP_ACTIONS, SECCOMP_ARCH_NAMES, SECCOMP_FLAG_VALUES, SECCOMP_OPERATORS,
} from '../oci/tables.js';

/** "6.18.44-fc" -> [6, 18]; unparsable -> [0, 0] (then only flags older than any kernel count). */
export function kernelVersion(text = release()): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

const atLeast = (have: [number, number], want: [number, number]): boolean =>
  have[0] > want[0] || (have[0] === want[0] && have[1] >= want[1]);

/** Flags the running kernel takes (ocirun passes them to seccomp(2) itself). */
export function supportedSeccompFlags(kernel: [number, number] = kernelVersion()): string[] {
  return Object.entries(SECCOMP_FLAG_VALUES).filter(([, f]) => atLeast(kernel, f.since)).map(([name]) => name);
}

export function seccompFeatures(kernel?: [number, number]): NonNullable<FeaturesLinux['seccomp']> {
  if (!IMPLEMENTED.seccomp) return { enabled: false };
  return {
    enabled: true,
    actions: [...SECCOMP_ACTIONS],
    operators: [...SECCOMP_OPERATORS],
    archs: Object.entries(SECCOMP_ARCH_NAMES).filter(([, lib]) => lib !== null).map(([name]) => name),
    knownFlags: Object.keys(SECCOMP_FLAG_VALUES),
    supportedFlags: supportedSeccompFlags(kernel),
  };
}
