// The device allow-list. The rules are replayed the way the v1 devices
// controller would take them (a default plus exceptions), then written to
// devices.allow/deny on v1, or compiled into a BPF_PROG_TYPE_CGROUP_DEVICE
// program on v2 that decides exactly as the v1 controller would.
//
// As runc does, a config that lists rules gets a deny-by-default list: its own
// rules, then an allow for every linux.devices node, then the devices every
// container needs. A config without linux.resources.devices leaves device
// access as the parent cgroup has it.
import type { LinuxDevice, LinuxDeviceCgroup } from '../oci/types.js';

export const ACCESS = { m: 1, r: 2, w: 4 } as const;
/** bpf_cgroup_dev_ctx type values (BPF_DEVCG_DEV_*). */
export const DEV_TYPE = { b: 1, c: 2 } as const;

export interface DeviceRule {
  allow: boolean;
  /** 'a' resets the list: all devices allowed (allow) or denied. */
  type: 'a' | 'b' | 'c';
  /** -1: any. */
  major: number;
  minor: number;
  /** ACCESS bits. */
  access: number;
}

export interface DeviceException { type: 'b' | 'c'; major: number; minor: number; access: number }

export interface DeviceState {
  defaultAllow: boolean;
  exceptions: DeviceException[];
}

const rule = (type: 'b' | 'c', major: number, minor: number, access = 'rwm'): DeviceRule =>
  ({ allow: true, type, major, minor, access: accessBits(access) });

/** runc's default allowed devices (1.1), less tun/tap, which runc 1.2 dropped too. */
export const DEFAULT_ALLOWED: readonly DeviceRule[] = [
  rule('c', -1, -1, 'm'), rule('b', -1, -1, 'm'),
  rule('c', 1, 3), rule('c', 1, 5), rule('c', 1, 7), rule('c', 1, 8), rule('c', 1, 9), // null zero full random urandom
  rule('c', 5, 0), rule('c', 5, 2), // tty ptmx
  rule('c', 136, -1), // /dev/pts/*
];

export function accessBits(access: string | undefined): number {
  if (!access) return ACCESS.m | ACCESS.r | ACCESS.w;
  let bits = 0;
  for (const ch of access) bits |= ACCESS[ch as keyof typeof ACCESS] ?? 0;
  return bits;
}

export function fromSpec(r: LinuxDeviceCgroup): DeviceRule {
  const type = r.type === 'b' || r.type === 'c' ? r.type : 'a';
  return { allow: r.allow, type, major: r.major ?? -1, minor: r.minor ?? -1, access: accessBits(r.access) };
}

/** The whole list for a config, or undefined when it sets no device rules. */
export function effectiveRules(rules: LinuxDeviceCgroup[] | undefined, devices: LinuxDevice[] | undefined): DeviceRule[] | undefined {
  if (rules === undefined) return undefined;
  const out: DeviceRule[] = [{ allow: false, type: 'a', major: -1, minor: -1, access: 7 }, ...rules.map(fromSpec)];
  for (const d of devices ?? []) {
    if (d.type === 'p') continue;
    out.push(rule(d.type === 'b' ? 'b' : 'c', d.major ?? 0, d.minor ?? 0));
  }
  out.push(...DEFAULT_ALLOWED);
  return out;
}

/** Replays rules as the v1 controller does (devcgroup_update_access). */
export function emulate(rules: DeviceRule[], start: DeviceState = { defaultAllow: true, exceptions: [] }): DeviceState {
  let state: DeviceState = { defaultAllow: start.defaultAllow, exceptions: start.exceptions.map((e) => ({ ...e })) };
  for (const r of rules) {
    if (r.type === 'a') {
      state = { defaultAllow: r.allow, exceptions: [] };
      continue;
    }
    const ex: DeviceException = { type: r.type, major: r.major, minor: r.minor, access: r.access };
    // An allow in allow-by-default mode (or a deny in deny mode) removes exceptions; otherwise it adds one.
    if (r.allow === state.defaultAllow) removeException(state, ex);
    else addException(state, ex);
  }
  return state;
}

const same = (a: DeviceException, b: DeviceException): boolean => a.type === b.type && a.major === b.major && a.minor === b.minor;

function addException(s: DeviceState, ex: DeviceException): void {
  const hit = s.exceptions.find((e) => same(e, ex));
  if (hit) hit.access |= ex.access;
  else s.exceptions.push({ ...ex });
}

function removeException(s: DeviceState, ex: DeviceException): void {
  for (const e of s.exceptions) if (same(e, ex)) e.access &= ~ex.access;
  s.exceptions = s.exceptions.filter((e) => e.access !== 0);
}

/** The kernel's decision for one access (devcgroup_legacy_check_permission). */
export function allows(s: DeviceState, type: 'b' | 'c', major: number, minor: number, access: number): boolean {
  const matches = (e: DeviceException): boolean => e.type === type
    && (e.major === -1 || e.major === major) && (e.minor === -1 || e.minor === minor);
  if (s.defaultAllow) return !s.exceptions.some((e) => matches(e) && (e.access & access) !== 0);
  return s.exceptions.some((e) => matches(e) && (access & ~e.access) === 0);
}

const num = (n: number): string => (n < 0 ? '*' : String(n));
const accessString = (bits: number): string => (bits & ACCESS.r ? 'r' : '') + (bits & ACCESS.w ? 'w' : '') + (bits & ACCESS.m ? 'm' : '');

/** v1: a reset of the default, then the exceptions. */
export function v1DeviceWrites(s: DeviceState): Array<{ file: 'devices.allow' | 'devices.deny'; value: string }> {
  const out: Array<{ file: 'devices.allow' | 'devices.deny'; value: string }> = [
    { file: s.defaultAllow ? 'devices.allow' : 'devices.deny', value: 'a' },
  ];
  for (const e of s.exceptions) {
    out.push({ file: s.defaultAllow ? 'devices.deny' : 'devices.allow', value: `${e.type} ${num(e.major)}:${num(e.minor)} ${accessString(e.access)}` });
  }
  return out;
}

// ---- the eBPF program (struct bpf_insn: u8 code, u8 dst|src<<4, s16 off, s32 imm) ----

const LDXW = 0x61, AND32K = 0x54, RSH32K = 0x74, MOV32K = 0xb4, MOV32X = 0xbc;
const JNEK = 0x55, JNEX = 0x5d, JEQK = 0x15, EXIT = 0x95;

interface Insn { code: number; dst: number; src: number; off: number; imm: number }
const I = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });

/**
 * One block per exception, in order; the first that matches decides. r2 =
 * device type, r3 = requested access, r4 = major, r5 = minor (from
 * bpf_cgroup_dev_ctx: access_type = access << 16 | type, major, minor).
 */
export function deviceFilterInsns(s: DeviceState): Insn[] {
  const prog: Insn[] = [
    I(LDXW, 2, 1, 0, 0), I(AND32K, 2, 0, 0, 0xffff),
    I(LDXW, 3, 1, 0, 0), I(RSH32K, 3, 0, 0, 16),
    I(LDXW, 4, 1, 4, 0), I(LDXW, 5, 1, 8, 0),
  ];
  for (const e of s.exceptions) {
    const block: Insn[] = [];
    const skips: number[] = [];
    const jump = (insn: Insn): void => { skips.push(block.length); block.push(insn); };
    jump(I(JNEK, 2, 0, 0, DEV_TYPE[e.type]));
    block.push(I(MOV32X, 1, 3, 0, 0), I(AND32K, 1, 0, 0, e.access));
    // Deny-by-default: every requested bit must be in the exception. Allow-by-default: any shared bit denies.
    jump(s.defaultAllow ? I(JEQK, 1, 0, 0, 0) : I(JNEX, 1, 3, 0, 0));
    if (e.major >= 0) jump(I(JNEK, 4, 0, 0, e.major));
    if (e.minor >= 0) jump(I(JNEK, 5, 0, 0, e.minor));
    block.push(I(MOV32K, 0, 0, 0, s.defaultAllow ? 0 : 1), I(EXIT, 0, 0, 0, 0));
    for (const at of skips) block[at].off = block.length - at - 1;
    prog.push(...block);
  }
  prog.push(I(MOV32K, 0, 0, 0, s.defaultAllow ? 1 : 0), I(EXIT, 0, 0, 0, 0));
  return prog;
}

export function encodeInsns(prog: Insn[]): Buffer {
  const b = Buffer.alloc(prog.length * 8);
  prog.forEach((insn, i) => {
    b.writeUInt8(insn.code, i * 8);
    b.writeUInt8((insn.dst & 0xf) | ((insn.src & 0xf) << 4), i * 8 + 1);
    b.writeInt16LE(insn.off, i * 8 + 2);
    b.writeInt32LE(insn.imm, i * 8 + 4);
  });
  return b;
}

export function deviceFilterProgram(s: DeviceState): Buffer {
  return encodeInsns(deviceFilterInsns(s));
}
