// Validation of a parsed config.json. Pure: no file system access, so it runs
// the same in unit tests and in the runtime. Host checks (does the rootfs
// exist, is a joined namespace the host's) are in load.ts.
import { ConfigError, type Problem } from '../errors.js';
import type { Spec } from '../oci/types.js';
import { Report } from './report.js';
import { isObject, walk } from './schema.js';
import { SPEC_SCHEMA } from './spec-schema.js';
import { validateLinux } from './validate-linux.js';
import { validateDevices } from './validate-devices.js';
import { validateMounts } from './validate-mounts.js';
import { validateProcess } from './validate-process.js';
import { validateProcessAttrs } from '../process/validate-attrs.js';
import { validateSeccomp } from '../seccomp/validate.js';
import { validateCgroups } from '../cgroups/validate.js';

export interface ValidateOptions {
  /** `create` and `run` need a process to start; the spec itself makes it optional. */
  requireProcess?: boolean;
}

export interface ValidationResult {
  /** The config with nulls and unknown properties removed; trust it only when `problems` is empty. */
  spec: Spec;
  /** Invalid values first, then features ocirun does not implement yet. */
  problems: Problem[];
  /** Things that are ignored rather than refused (unknown capabilities and properties). */
  warnings: Problem[];
}

export function validateSpec(value: unknown, opts: ValidateOptions = {}): ValidationResult {
  const { spec, report } = validateInto(value, opts);
  return { spec, problems: report.problems(), warnings: report.warnings };
}

/** validateSpec, leaving the Report open so load.ts can add host findings in order. */
export function validateInto(value: unknown, opts: ValidateOptions = {}): { spec: Spec; report: Report } {
  const r = new Report();
  if (!isObject(value)) {
    r.invalidValue('', 'config must be a JSON object');
    return { spec: value as Spec, report: r };
  }
  const spec = walk(value, SPEC_SCHEMA, '', '', r) as Spec;
  if (opts.requireProcess && (value.process === undefined || value.process === null)) {
    r.invalidValue('process', 'is required');
  }
  validateProcess(spec, r);
  validateMounts(spec, r);
  validateLinux(spec, r);
  validateDevices(spec, r);
  validateSeccomp(spec, r);
  validateProcessAttrs(spec, r);
  validateCgroups(spec, r);
  return { spec, report: r };
}

/** validateSpec, throwing a ConfigError that lists every problem. */
export function assertValidSpec(value: unknown, opts: ValidateOptions = {}): { spec: Spec; warnings: Problem[] } {
  const { spec, problems, warnings } = validateSpec(value, opts);
  if (problems.length > 0) throw new ConfigError(problems);
  return { spec, warnings };
}
