// Helper plans for tests: the smallest valid ones, and what ocirun-init reads
// from a plan (`ocirun-init --print-plan`, no root needed).
import { spawnSync } from 'node:child_process';
import { helperPath } from '../../src/native/binding.js';
import type { ExecPlan, InitPlan } from '../../src/native/plan-schema.js';

export const CLONE = {
  NEWTIME: 0x80, NEWNS: 0x20000, NEWCGROUP: 0x02000000, NEWUTS: 0x04000000, NEWIPC: 0x08000000,
  NEWUSER: 0x10000000, NEWPID: 0x20000000, NEWNET: 0x40000000,
} as const;

/** A create plan with every required field and nothing else. */
export function minimalInitPlan(): InitPlan {
  return {
    mode: 'create',
    namespaces: [{ type: CLONE.NEWNS }], uidMappings: [], gidMappings: [], rootfs: '/r',
    rootfsReadonly: false, noPivot: false, mounts: [], devices: [], symlinks: [], maskedPaths: [], readonlyPaths: [],
    stateDir: '/s', process: { args: ['sh'], env: [], cwd: '/', uid: 0, gid: 0, additionalGids: [], noNewPrivileges: false, rlimits: [] },
    timeOffsets: [], sysctls: [], debug: false,
  };
}

export function minimalExecPlan(): ExecPlan {
  return {
    mode: 'exec',
    namespaces: [{ type: CLONE.NEWPID, path: '/proc/9/ns/pid' }],
    process: { args: ['sh'], env: [], cwd: '/', uid: 0, gid: 0, additionalGids: [], noNewPrivileges: false, rlimits: [] },
    debug: false, targetFd: 5,
  };
}

/**
 * JSON.parse, keeping integers beyond 2^53 exact (as strings): both the
 * plan's encoder and the helper's printer write JSON without spaces, so a
 * long run of digits after `:`, `[` or `,` is a number.
 */
export function parseExact(text: string): unknown {
  return JSON.parse(text.replace(/([:[,])(-?\d{16,})(?=[,\]}])/g, '$1"$2"'));
}

export interface Printed { ok: boolean; plan?: unknown; error: string }

/** What the helper decodes from these bytes: the plan it read, or its one-line error. */
export function printPlan(bytes: Buffer | string): Printed {
  const r = spawnSync(helperPath(), ['--print-plan'], { input: bytes, encoding: 'utf8', timeout: 10_000 });
  if (r.error) throw r.error;
  if (r.status === 0) return { ok: true, plan: parseExact(r.stdout), error: r.stderr };
  return { ok: false, error: r.stderr.trim() };
}
