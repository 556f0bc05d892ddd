// The process records in tags 120-169 (native/common/protocol.h): seccomp,
// AppArmor, scheduler, I/O priority, CPU affinity, personality. Decoded by
// native/init/plan_process_attrs.cc.
import { Tag } from './protocol.js';
import type { Writer } from './plan.js';

export interface SeccompArgPlan {
  index: number;
  /** scmp_compare value (SCMP_CMP_NE = 1 .. SCMP_CMP_MASKED_EQ = 7). */
  op: number;
  value: bigint;
  valueTwo: bigint;
}

export interface SeccompRulePlan {
  names: string[];
  /** SCMP_ACT_* value, errno/trace data included. */
  action: number;
  /** ANDed; the planner already split rules whose conditions must be ORed. */
  args: SeccompArgPlan[];
}

export interface SeccompPlan {
  defaultAction: number;
  /** libseccomp architecture names ("x86", "x32"...); the native one is always in. */
  arches: string[];
  /** SECCOMP_FILTER_FLAG_* bits for seccomp(2). */
  flags: number;
  rules: SeccompRulePlan[];
  /** SCMP_ACT_NOTIFY: where the notify fd goes, and the state JSON cut where the pid goes. */
  listener?: { path: string; state: string[] };
  /** Where stage 0 keeps the compiled program, and this profile's entry (src/seccomp/cache.ts). */
  cache?: { dir: string; key: string };
}

export interface SchedulerPlan {
  policy: number;
  nice: number;
  priority: number;
  flags: number;
  runtime: bigint;
  deadline: bigint;
  period: bigint;
}

export interface ProcessAttrsPlan {
  seccomp?: SeccompPlan;
  /** Written as "exec <profile>" right before execve. */
  apparmorProfile?: string;
  scheduler?: SchedulerPlan;
  /** ioprio_set(2) value: class << 13 | level. */
  ioPriority?: number;
  /** CPU masks, 8-byte little-endian words, bit n = CPU n. */
  cpuAffinityInitial?: Buffer;
  cpuAffinityFinal?: Buffer;
  /** personality(2) persona. */
  personality?: number;
}

export function encodeProcessAttrs(n: Writer, p: ProcessAttrsPlan): void {
  if (p.seccomp) {
    const sc = p.seccomp;
    n.nested(Tag.P_SECCOMP, (s) => {
      s.u32(Tag.SC_DEFAULT_ACTION, sc.defaultAction);
      for (const a of sc.arches) s.string(Tag.SC_ARCH, a);
      if (sc.flags) s.u32(Tag.SC_FLAGS, sc.flags);
      for (const rule of sc.rules) {
        s.nested(Tag.SC_RULE, (r) => {
          for (const name of rule.names) r.string(Tag.SR_NAME, name);
          r.u32(Tag.SR_ACTION, rule.action);
          for (const a of rule.args) {
            const b = Buffer.alloc(24);
            b.writeUInt32LE(a.index, 0);
            b.writeUInt32LE(a.op, 4);
            b.writeBigUInt64LE(a.value, 8);
            b.writeBigUInt64LE(a.valueTwo, 16);
            r.raw(Tag.SR_ARG, b);
          }
        });
      }
      if (sc.listener) {
        s.string(Tag.SC_LISTENER_PATH, sc.listener.path);
        for (const part of sc.listener.state) s.string(Tag.SC_LISTENER_STATE, part);
      }
      if (sc.cache) {
        s.string(Tag.SC_CACHE_DIR, sc.cache.dir);
        s.string(Tag.SC_CACHE_KEY, sc.cache.key);
      }
    });
  }
  if (p.apparmorProfile) n.string(Tag.P_APPARMOR, p.apparmorProfile);
  if (p.scheduler) {
    const s = p.scheduler;
    const b = Buffer.alloc(48);
    b.writeUInt32LE(s.policy, 0);
    b.writeInt32LE(s.nice, 4);
    b.writeUInt32LE(s.priority, 8);
    b.writeBigUInt64LE(BigInt(s.flags), 16);
    b.writeBigUInt64LE(s.runtime, 24);
    b.writeBigUInt64LE(s.deadline, 32);
    b.writeBigUInt64LE(s.period, 40);
    n.raw(Tag.P_SCHEDULER, b);
  }
  if (p.ioPriority !== undefined) n.u32(Tag.P_IOPRIO, p.ioPriority);
  if (p.cpuAffinityInitial) n.raw(Tag.P_AFFINITY_INITIAL, p.cpuAffinityInitial);
  if (p.cpuAffinityFinal) n.raw(Tag.P_AFFINITY_FINAL, p.cpuAffinityFinal);
  if (p.personality !== undefined) n.u32(Tag.P_PERSONALITY, p.personality);
}
