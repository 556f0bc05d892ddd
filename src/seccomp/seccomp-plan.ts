// linux.seccomp -> the helper's seccomp records. Nothing is compiled here:
// names, actions and comparisons travel as data and libseccomp in ocirun-init
// builds the BPF program, so the syscall table is the one the filter uses.
import { randomUUID } from 'node:crypto';
import type { LinuxSeccomp } from '../oci/types.js';
import {
  OCI_VERSION, SECCOMP_ACTION_VALUES, SECCOMP_ARCH_NAMES, SECCOMP_FLAG_VALUES, SECCOMP_OPERATOR_VALUES,
} from '../oci/tables.js';
import { toUint64 } from '../config/numbers.js';
import type { SeccompPlan } from '../native/plan-schema.js';
import { seccompCacheKey } from './cache.js';

const EPERM = 1;

/** The SCMP_ACT_* value for an action; errno and trace default to EPERM, as in runc. */
export function seccompAction(action: string, errnoRet?: number): number {
  const base = SECCOMP_ACTION_VALUES[action];
  if (base === undefined) throw new RangeError(`unknown seccomp action ${JSON.stringify(action)}`);
  if (action === 'SCMP_ACT_ERRNO' || action === 'SCMP_ACT_TRACE') return (base | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
  return base;
}

/** What the notify listener is told about the container (runtime-spec "container process state"). */
export interface ListenerContext {
  id: string;
  bundle: string;
  annotations?: Record<string, string>;
}

/** Enables the compiled-filter cache: its directory and the helper binary that will compile. */
export interface CacheContext { dir: string; helper: string }

export function planSeccomp(sc: LinuxSeccomp, ctx: ListenerContext, cache?: CacheContext): SeccompPlan {
  let flags = 0;
  for (const f of sc.flags ?? []) flags |= SECCOMP_FLAG_VALUES[f]?.bit ?? 0;
  const rules = (sc.syscalls ?? []).map((call) => ({
    names: [...call.names],
    action: seccompAction(call.action, call.errnoRet),
    args: (call.args ?? []).map((a) => ({
      index: a.index,
      op: SECCOMP_OPERATOR_VALUES[a.op],
      value: toUint64(a.value),
      valueTwo: toUint64(a.valueTwo ?? 0),
    })),
  }));
  const plan: SeccompPlan = {
    defaultAction: seccompAction(sc.defaultAction, sc.defaultErrnoRet),
    // Unsupported architectures were refused by the validator.
    arches: (sc.architectures ?? []).map((a) => SECCOMP_ARCH_NAMES[a]).filter((a): a is string => !!a),
    flags,
    rules,
  };
  if (sc.listenerPath && sc.syscalls?.some((c) => c.action === 'SCMP_ACT_NOTIFY')) {
    plan.listener = { path: sc.listenerPath, state: listenerState(sc.listenerMetadata, ctx) };
  }
  if (cache) plan.cache = { dir: cache.dir, key: seccompCacheKey(plan, cache.helper) };
  return plan;
}

/**
 * The state JSON cut where the pid goes: only the init knows its pid in the
 * runtime's namespace when it sends this (after `start`, before execve).
 */
export function listenerState(metadata: string | undefined, ctx: ListenerContext): string[] {
  const marker = `pid-${randomUUID()}`;
  const pid = marker as unknown as number;
  const doc = {
    ociVersion: OCI_VERSION,
    fds: ['seccompFd'],
    pid,
    ...(metadata ? { metadata } : {}),
    state: {
      ociVersion: OCI_VERSION,
      id: ctx.id,
      // The program has not been executed yet: still "created" by the spec's definition.
      status: 'created',
      pid,
      bundle: ctx.bundle,
      ...(ctx.annotations && Object.keys(ctx.annotations).length > 0 ? { annotations: ctx.annotations } : {}),
    },
  };
  return JSON.stringify(doc).split(JSON.stringify(marker));
}
