// The plan schema's guard against drift: what TypeScript sends
// (src/native/plan-schema.ts) is what ocirun-init reads
// (native/init/plan_schema.cc), for every field of both variants, and a
// malformed plan gets one line naming the field. Runs the real helper in its
// --print-plan mode; no root needed.
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { encodePlan } from '../../src/native/plan-encode.js';
import type { ExecPlan, HelperPlan, InitPlan } from '../../src/native/plan-schema.js';
import { CLONE, minimalExecPlan, minimalInitPlan, parseExact, printPlan } from '../support/plan.js';
import { mutate, rng } from '../support/mutate.js';

/**
 * Every field of T named, all the way down (an optional one may be undefined):
 * a new schema field must show up in the fixtures below.
 */
type Complete<T> = T extends Buffer ? T : T extends Array<infer E> ? Array<Complete<E>>
  : T extends object ? { [K in keyof Required<T>]: Complete<Exclude<T[K], undefined>> | ({} extends Pick<T, K> ? undefined : never) } : T;

const MAX = 2n ** 64n - 1n;
const MS_BIND = 4096;
const MS_REC = 16384;

function fullInitPlan(): Complete<InitPlan> {
  return {
    mode: 'create',
    namespaces: [
      { type: CLONE.NEWUSER, path: undefined }, { type: CLONE.NEWNS, path: undefined },
      { type: CLONE.NEWUTS, path: undefined }, { type: CLONE.NEWTIME, path: undefined },
      { type: CLONE.NEWNET, path: '/proc/1/ns/net' },
    ],
    uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    gidMappings: [{ containerID: 0, hostID: 200000, size: 1000 }, { containerID: 1000, hostID: 300000, size: 1 }],
    hostname: 'box', domainname: 'example.org',
    rootfs: '/var/lib/r', rootfsReadonly: true, noPivot: true, hostMountNamespace: false, rootPropagation: 0x40000 | MS_REC, rootfsPropagation: 0x100000,
    mounts: [
      {
        dest: '/data', source: '/srv/data', type: '', flags: MS_BIND | MS_REC, data: 'x=1', remountFlags: 1 | 2,
        propagation: [0x40000, 0x80000], attrSet: 0x100001, attrClr: 0x10, mkdirOnly: false, symlink: undefined,
        idmap: 'ridmap', uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }], gidMappings: [{ containerID: 0, hostID: 1001, size: 2 }],
        copyUp: false,
      },
      {
        dest: '/tmp', source: 'tmpfs', type: 'tmpfs', flags: 2, data: 'size=1m', remountFlags: 0, propagation: [], attrSet: 0, attrClr: 0,
        mkdirOnly: false, symlink: undefined, idmap: undefined, uidMappings: [], gidMappings: [],
        copyUp: true,
      },
      {
        dest: '/mnt/dir', source: '', type: '', flags: 0, data: '', remountFlags: undefined, propagation: [], attrSet: undefined,
        attrClr: undefined, mkdirOnly: true, symlink: undefined, idmap: undefined, uidMappings: undefined, gidMappings: undefined,
        copyUp: undefined,
      },
      {
        dest: '/lnk', source: '', type: '', flags: 0, data: '', remountFlags: undefined, propagation: [], attrSet: undefined,
        attrClr: undefined, mkdirOnly: false, symlink: '../target', idmap: undefined, uidMappings: undefined, gidMappings: undefined,
        copyUp: false,
      },
    ],
    devices: [{ path: '/dev/fuse', type: 0o020000, major: 10, minor: 229, mode: 0o666, uid: 1, gid: 2, bind: true }],
    symlinks: [{ path: '/dev/fd', target: '/proc/self/fd' }],
    maskedPaths: ['/proc/kcore', '/proc/keys'],
    readonlyPaths: ['/proc/sys'],
    stateDir: '/run/ocirun/c1',
    process: {
      args: ['sh', '-c', 'echo "hi" \\ ünïcode'], env: ['PATH=/bin', 'A=b=c'], cwd: '/home', uid: 1000, gid: 1001,
      additionalGids: [4, 0xfffffffe], umask: 0o027, noNewPrivileges: true,
      rlimits: [{ resource: 7, soft: 1024n, hard: MAX }],
      capabilities: { bounding: (1n << 41n) - 1n, effective: 1n, inheritable: 2n, permitted: 3n, ambient: 1n << 40n },
      oomScoreAdj: -999,
      seccomp: {
        defaultAction: 0x00050001, arches: ['x86', 'x32'], flags: 3,
        rules: [{ names: ['mkdir', 'mkdirat'], action: 0x7fc00000, args: [{ index: 5, op: 7, value: MAX, valueTwo: 1n << 63n }] }],
        listener: { path: '/run/agent.sock', state: ['{"pid":', '}'] },
        cache: { dir: '/run/ocirun/.seccomp', key: '0123456789abcdef' },
      },
      apparmorProfile: 'ocirun-default',
      selinuxLabel: 'system_u:system_r:container_t:s0:c1,c2',
      scheduler: { policy: 6, nice: -5, priority: 1, flags: 0x10, runtime: 1000n, deadline: 2000n, period: MAX },
      ioPriority: (2 << 13) | 4,
      cpuAffinityInitial: Buffer.from([0b1011, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]),
      cpuAffinityFinal: Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]),
      personality: 8,
    },
    timeOffsets: [{ clock: 7, secs: -86400n, nanosecs: 999999999 }, { clock: 1, secs: 2n ** 62n, nanosecs: 0 }],
    sysctls: [{ key: 'net.ipv4.ip_forward', value: '1' }, { key: 'kernel.msgmax', value: '' }],
    debug: true,
    timing: true,
    hooks: {
      pauseForRuntimeHooks: true,
      hooks: [
        { kind: 'createContainer', path: '/bin/hook', args: ['hook', 'a'], env: ['X=1'], timeout: 5 },
        { kind: 'startContainer', path: '/bin/other', args: [], env: [], timeout: 1 },
      ],
      stateCreate: ['{"status":"creating","pid":', '}'],
      stateStart: ['{"status":"created","pid":', '}'],
    },
    console: { socketFd: 4, rows: 24, cols: 0xffff },
    cgroup: { dir: '/sys/fs/cgroup/c1', procs: ['/sys/fs/cgroup/pids/c1/cgroup.procs'], tasks: ['/sys/fs/cgroup/memory/c1/tasks'], byRuntime: true },
    userns: { setgroupsDeny: true, uidMapHelper: '/usr/bin/newuidmap', gidMapHelper: '/usr/bin/newgidmap' },
  };
}

function fullExecPlan(): Complete<ExecPlan> {
  const { process } = fullInitPlan();
  return {
    mode: 'exec',
    // No mount namespace to join: the init's root is chrooted into instead.
    namespaces: [{ type: CLONE.NEWPID, path: '/proc/9/ns/pid' }, { type: CLONE.NEWNET, path: '/proc/9/ns/net' }],
    process, debug: true, timing: true, console: { socketFd: 4, rows: 1, cols: 2 },
    targetFd: 7, root: '/proc/9/root',
    cgroup: { dir: '/sys/fs/cgroup/unified/c1', procs: ['/sys/fs/cgroup/pids/c1/cgroup.procs'], tasks: ['/sys/fs/cgroup/memory/c1/tasks'] },
  };
}

/** The printer writes defaults the encoder leaves out: read false, [] and {} as absent on both sides. */
function normalise(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalise);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const n = normalise(x);
    if (n === undefined || n === false || (Array.isArray(n) && n.length === 0)) continue;
    if (typeof n === 'object' && n !== null && !Array.isArray(n) && Object.keys(n).length === 0) continue;
    out[k] = n;
  }
  return out;
}

function roundTrip(plan: HelperPlan): void {
  const sent = encodePlan(plan);
  const back = printPlan(sent);
  expect(back.error).toBe('');
  expect(back.ok).toBe(true);
  expect(normalise(back.plan)).toEqual(normalise(parseExact(sent.toString())));
}

describe('plan round trip through ocirun-init', () => {
  it('reads every field of a create plan as sent', () => roundTrip(fullInitPlan() as InitPlan));
  it('reads every field of an exec plan as sent', () => roundTrip(fullExecPlan() as ExecPlan));
  it('reads the smallest plans of both kinds', () => {
    roundTrip(minimalInitPlan());
    roundTrip(minimalExecPlan());
  });
  // vitest does not type-check, and Complete<> only guards if something does.
  it('names every field of the schema in its fixtures (type-checked)', () => {
    const config = ts.getParsedCommandLineOfConfigFile(fileURLToPath(new URL('../../tsconfig.json', import.meta.url)), {}, {
      ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); },
    })!;
    const program = ts.createProgram([fileURLToPath(import.meta.url)], { ...config.options, noEmit: true, rootDir: undefined });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(problems).toEqual([]);
  }, 30_000);

  it('keeps 64-bit values exact both ways', () => {
    const back = printPlan(encodePlan(fullInitPlan() as InitPlan)).plan as { process: { rlimits: Array<{ hard: string }> } };
    expect(back.process.rlimits[0].hard).toBe('18446744073709551615');
  });
});

type Mutable = Record<string, any>;  // eslint-disable-line @typescript-eslint/no-explicit-any
const create = (edit: (p: Mutable) => void) => { const p = fullInitPlan() as Mutable; edit(p); return encodePlan(p as InitPlan); };
const exec = (edit: (p: Mutable) => void) => { const p = fullExecPlan() as Mutable; edit(p); return encodePlan(p as ExecPlan); };
const raw = (text: string, encoding: BufferEncoding = 'utf8') => Buffer.from(text, encoding);

// Each malformed plan and the line the helper answers with: every check of
// the reader and of plan_schema.cc, so none of its messages goes untested.
const MALFORMED: Array<[string, Buffer, string]> = [
  ['not JSON', raw('{"mode":"create",}  '), 'plan: not JSON: Missing a name for object member. at byte 17'],
  ['trailing bytes', raw('{"mode":"exec"} {}'), 'plan: not JSON: The document root must not be followed by other values. at byte 16'],
  ['a top level that is no object', raw('["create"]     '), 'plan: expected an object'],
  ['no mode', create((p) => { delete p.mode; }), 'plan: mode: missing'],
  ['an unknown mode', create((p) => { p.mode = 'run'; }), 'plan: mode: unknown value "run"'],
  ['an unknown field', create((p) => { p.extra = 1; }), 'plan: extra: unknown field'],
  ['a duplicate field', raw(create(() => {}).toString().replace('"debug":true', '"debug":true,"debug":false')), 'plan: debug: duplicate field'],
  ['a create-only field in an exec plan', exec((p) => { p.mounts = []; }), 'plan: mounts: unknown field'],
  ['an exec-only field in a create plan', create((p) => { p.targetFd = 5; }), 'plan: targetFd: unknown field'],
  ['a missing field', create((p) => { delete p.stateDir; }), 'plan: stateDir: missing'],
  ['a missing nested field', create((p) => { delete p.mounts[1].data; }), 'plan: mounts[1].data: missing'],
  ['an unknown nested field', create((p) => { p.process.seccomp.rules[0].bogus = 1; }), 'plan: process.seccomp.rules[0].bogus: unknown field'],
  ['a string for a boolean', create((p) => { p.noPivot = 'yes'; }), 'plan: noPivot: expected a boolean'],
  ['a negative u32', create((p) => { p.process.uid = -1; }), 'plan: process.uid: expected an unsigned 32-bit integer'],
  ['a u32 overflow', create((p) => { p.devices[0].mode = 2 ** 32; }), 'plan: devices[0].mode: expected an unsigned 32-bit integer'],
  ['a fraction', create((p) => { p.mounts[0].flags = 1.5; }), 'plan: mounts[0].flags: expected an unsigned 64-bit integer'],
  ['a u64 overflow', create((p) => { p.process.rlimits[0].hard = 2n ** 64n; }), 'plan: process.rlimits[0].hard: expected an unsigned 64-bit integer'],
  ['an i64 overflow', create((p) => { p.timeOffsets[0].secs = 2n ** 63n; }), 'plan: timeOffsets[0].secs: expected a 64-bit integer'],
  ['a fd out of range', create((p) => { p.console.socketFd = 2 ** 31; }), 'plan: console.socketFd: expected a 32-bit integer'],
  ['a number for a string', create((p) => { p.process.env[1] = 5; }), 'plan: process.env[1]: expected a string'],
  ['an object for an array', create((p) => { p.maskedPaths = {}; }), 'plan: maskedPaths: expected an array'],
  ['an array for an object', create((p) => { p.process.capabilities = []; }), 'plan: process.capabilities: expected an object'],
  ['a NUL byte', create((p) => { p.process.args[1] = 'a\0b'; }), 'plan: process.args[1]: NUL byte in string'],
  ['invalid UTF-8', raw(create(() => {}).toString('latin1').replace('"box"', '"b\xffx"'), 'latin1'), 'plan: not JSON: Invalid encoding in string. at byte'],
  ['a relative path', create((p) => { p.mounts[0].dest = 'data'; }), 'plan: mounts[0].dest: not an absolute path'],
  ['an empty path', create((p) => { p.readonlyPaths[0] = ''; }), 'plan: readonlyPaths[0]: not an absolute path'],
  ['a relative namespace path', create((p) => { p.namespaces[4].path = 'ns/net'; }), 'plan: namespaces[4].path: not an absolute path'],
  ['a relative cgroup file', exec((p) => { p.cgroup.tasks[0] = 'tasks'; }), 'plan: cgroup.tasks[0]: not an absolute path'],
  ['a relative hook', create((p) => { p.hooks.hooks[1].path = 'hook'; }), 'plan: hooks.hooks[1].path: not an absolute path'],
  ['a relative listener', create((p) => { p.process.seccomp.listener.path = 'a.sock'; }), 'plan: process.seccomp.listener.path: not an absolute path'],
  ['a relative cgroup dir', create((p) => { p.cgroup.dir = 'c1'; }), 'plan: cgroup.dir: not an absolute path'],
  ['a relative cgroup tasks file', create((p) => { p.cgroup.tasks![0] = 'tasks'; }), 'plan: cgroup.tasks[0]: not an absolute path'],
  ['a relative newuidmap', create((p) => { p.userns.uidMapHelper = 'newuidmap'; }), 'plan: userns.uidMapHelper: not an absolute path'],
  ['a rootfs of /', create((p) => { p.rootfs = '//'; }), 'plan: rootfs: cannot be /'],
  ['an unknown namespace type', create((p) => { p.namespaces[0].type = 3; }), 'plan: namespaces[0].type: not a CLONE_NEW* namespace'],
  ['a namespace listed twice', create((p) => { p.namespaces.push({ type: CLONE.NEWUTS }); }), 'plan: namespaces[5].type: namespace listed twice'],
  ['no mount namespace, not asked for', create((p) => { p.namespaces.splice(1, 1); }), 'plan: namespaces: a mount namespace is required (or hostMountNamespace)'],
  ['hostMountNamespace with a mount namespace', create((p) => { p.hostMountNamespace = true; }), 'plan: hostMountNamespace: set, but the plan has a mount namespace'],
  ['hostMountNamespace with masked paths', create((p) => { p.namespaces.splice(1, 1); p.hostMountNamespace = true; p.noPivot = false; }), 'plan: maskedPaths: masked and read-only paths need a private mount namespace'],
  ['hostMountNamespace with noPivot', create((p) => { p.namespaces.splice(1, 1); p.hostMountNamespace = true; p.noPivot = true; p.maskedPaths = []; p.readonlyPaths = []; }), 'plan: noPivot: without a mount namespace there is no pivot_root to skip'],
  ['an exec root with a mount namespace', exec((p) => { p.namespaces.push({ type: CLONE.NEWNS, path: '/proc/9/ns/mnt' }); }), 'plan: root: a container with a mount namespace is entered by joining it'],
  ['a new user namespace without mappings', create((p) => { p.gidMappings = []; }), 'plan: uidMappings: a new user namespace needs id mappings'],
  ['mappings without a new user namespace', create((p) => { p.namespaces[0].path = '/proc/1/ns/user'; }), 'plan: uidMappings: id mappings without a new user namespace'],
  ['an empty id mapping', create((p) => { p.uidMappings[0].size = 0; }), 'plan: uidMappings[0].size: empty id mapping'],
  ['a hostname without UTS', create((p) => { p.namespaces.splice(2, 1); }), 'plan: hostname: needs a UTS namespace'],
  ['a domainname without UTS', create((p) => { p.namespaces.splice(2, 1); delete p.hostname; }), 'plan: domainname: needs a UTS namespace'],
  ['time offsets without a time namespace', create((p) => { p.namespaces.splice(3, 1); }), 'plan: timeOffsets: need a new time namespace'],
  ['a bad clock', create((p) => { p.timeOffsets[1].clock = 0; }), 'plan: timeOffsets[1].clock: not CLOCK_MONOTONIC or CLOCK_BOOTTIME'],
  ['a second of nanoseconds', create((p) => { p.timeOffsets[0].nanosecs = 1e9; }), 'plan: timeOffsets[0].nanosecs: not below one second'],
  ['an empty symlink target', create((p) => { p.symlinks[0].target = ''; }), 'plan: symlinks[0].target: empty'],
  ['a mount both mkdir-only and symlink', create((p) => { p.mounts[2].symlink = '/x'; }), 'plan: mounts[2].symlink: a mount is either mkdir-only or a symlink'],
  ['an empty mount symlink', create((p) => { p.mounts[1].symlink = ''; }), 'plan: mounts[1].symlink: empty'],
  ['an unknown idmap kind', create((p) => { p.mounts[0].idmap = 'map'; }), 'plan: mounts[0].idmap: unknown value "map"'],
  ['mount mappings without idmap', create((p) => { delete p.mounts[0].idmap; }), 'plan: mounts[0].uidMappings: id mappings without idmap'],
  ['mount uid mappings alone', create((p) => { p.mounts[0].gidMappings = []; }), 'plan: mounts[0].gidMappings: uid and gid mappings go together'],
  ['idmap on a tmpfs', create((p) => { p.mounts[1].idmap = 'idmap'; }), 'plan: mounts[1].idmap: only a bind mount can be id-mapped'],
  ['idmap without mappings or a user namespace', create((p) => {
    p.namespaces.splice(0, 1); p.uidMappings = []; p.gidMappings = []; p.mounts[0].uidMappings = []; p.mounts[0].gidMappings = [];
  }), 'plan: mounts[0].idmap: needs mappings or a user namespace'],
  ['copy-up on a bind', create((p) => { p.mounts[0].copyUp = true; }), 'plan: mounts[0].copyUp: only a tmpfs can copy up'],
  ['a bad device type', create((p) => { p.devices[0].type = 0o100000; }), 'plan: devices[0].type: not S_IFCHR, S_IFBLK or S_IFIFO'],
  ['a bad device mode', create((p) => { p.devices[0].mode = 0o10000; }), 'plan: devices[0].mode: not permission bits'],
  ['no program', create((p) => { p.process.args = []; }), 'plan: process.args: a process needs a program'],
  ['an empty program', create((p) => { p.process.args[0] = ''; }), 'plan: process.args: a process needs a program'],
  ['a relative cwd', create((p) => { p.process.cwd = 'home'; }), 'plan: process.cwd: not an absolute path'],
  ['a bad umask', create((p) => { p.process.umask = 0o1000; }), 'plan: process.umask: not permission bits'],
  ['a bad rlimit', create((p) => { p.process.rlimits[0].resource = 99; }), 'plan: process.rlimits[0].resource: not an RLIMIT_* resource'],
  ['an empty AppArmor profile', create((p) => { p.process.apparmorProfile = ''; }), 'plan: process.apparmorProfile: empty'],
  ['a partial CPU mask', create((p) => { p.process.cpuAffinityFinal = Buffer.alloc(4, 1); }), 'plan: process.cpuAffinityFinal: expected hex of whole 64-bit words'],
  ['a CPU mask of no CPU', create((p) => { p.process.cpuAffinityInitial = Buffer.alloc(8); }), 'plan: process.cpuAffinityInitial: no CPU in the mask'],
  ['a CPU mask that is no hex', create((p) => { p.process.cpuAffinityFinal = 'ABCDEF0123456789'; }), 'plan: process.cpuAffinityFinal: expected lowercase hex'],
  ['an unknown default action', create((p) => { p.process.seccomp.defaultAction = 0x12340000; }), 'plan: process.seccomp.defaultAction: unknown seccomp action'],
  ['an unknown rule action', create((p) => { p.process.seccomp.rules[0].action = 0x7fc00001; }), 'plan: process.seccomp.rules[0].action: unknown seccomp action'],
  ['a rule without names', create((p) => { p.process.seccomp.rules[0].names = []; }), 'plan: process.seccomp.rules[0].names: a rule needs a syscall'],
  ['an empty syscall name', create((p) => { p.process.seccomp.rules[0].names[1] = ''; }), 'plan: process.seccomp.rules[0].names[1]: empty'],
  ['a seventh argument', create((p) => { p.process.seccomp.rules[0].args[0].index = 6; }), 'plan: process.seccomp.rules[0].args[0].index: a syscall has six arguments'],
  ['a bad comparison', create((p) => { p.process.seccomp.rules[0].args[0].op = 0; }), 'plan: process.seccomp.rules[0].args[0].op: not an SCMP_CMP_* operator'],
  ['a listener without state', create((p) => { p.process.seccomp.listener.state = []; }), 'plan: process.seccomp.listener.state: the listener needs the state to send'],
  ['a cache key that is no file name', create((p) => { p.process.seccomp.cache.key = '../x'; }), 'plan: process.seccomp.cache.key: not a hex file name'],
  ['a cache without key', create((p) => { delete p.process.seccomp.cache.key; }), 'plan: process.seccomp.cache.key: missing'],
  ['an empty sysctl key', create((p) => { p.sysctls[0].key = ''; }), 'plan: sysctls[0].key: empty'],
  ['an unknown hook kind', create((p) => { p.hooks.hooks[0].kind = 'poststart'; }), 'plan: hooks.hooks[0].kind: unknown value "poststart"'],
  ['a hook without kind', create((p) => { delete p.hooks.hooks[0].kind; }), 'plan: hooks.hooks[0].kind: missing'],
  ['a zero hook timeout', create((p) => { p.hooks.hooks[0].timeout = 0; }), 'plan: hooks.hooks[0].timeout: zero hook timeout'],
  ['one state piece', create((p) => { p.hooks.stateCreate.pop(); }), 'plan: hooks.stateCreate: expected the state before and after the pid'],
  ['createContainer hooks without state', create((p) => { delete p.hooks.stateCreate; }), 'plan: hooks.stateCreate: missing for createContainer hooks'],
  ['startContainer hooks without state', create((p) => { delete p.hooks.stateStart; }), 'plan: hooks.stateStart: missing for startContainer hooks'],
  ['three state pieces', create((p) => { p.hooks.stateStart.push('x'); }), 'plan: hooks.stateStart: expected the state before and after the pid'],
  ['a console on stdio', create((p) => { p.console.socketFd = 3; }), 'plan: console.socketFd: not an inherited descriptor'],
  ['a terminal too tall', create((p) => { p.console.rows = 0x10000; }), 'plan: console.rows: terminal size out of range'],
  ['a terminal too wide', exec((p) => { p.console.cols = 0x10000; }), 'plan: console.cols: terminal size out of range'],
  ['an exec that creates a namespace', exec((p) => { delete p.namespaces[1].path; }), 'plan: namespaces: exec joins namespaces, it never creates them'],
  ['an exec target on stdio', exec((p) => { p.targetFd = 0; }), 'plan: targetFd: not an inherited descriptor'],
  ['an exec target that is the console', exec((p) => { p.targetFd = 4; }), 'plan: targetFd: the console socket and the exec target are one descriptor'],
  ['no exec target', exec((p) => { delete p.targetFd; }), 'plan: targetFd: missing'],
];

describe('malformed plans', () => {
  it.each(MALFORMED)('%s: one line naming the field', (_what, bytes, message) => {
    const back = printPlan(bytes);
    expect(back.ok).toBe(false);
    if (message.endsWith('at byte')) expect(back.error).toMatch(new RegExp(`^${message} \\d+$`));
    else expect(back.error).toBe(message);
  });

  it('a plan over 64 MiB is refused by the encoder', () => {
    const p = minimalInitPlan();
    p.process.env = [`A=${'x'.repeat(64 * 1024 * 1024)}`];
    expect(() => encodePlan(p)).toThrow(/plan too large/);
  });

  const SEED = Number(process.env.OCIRUN_FUZZ_SEED ?? Date.now() % 1e9);
  it(`random corruptions get one line or are read, never a crash (seed ${SEED})`, () => {
    const rand = rng(SEED);
    const text = [encodePlan(fullInitPlan() as InitPlan), encodePlan(fullExecPlan() as ExecPlan)].map(String);
    for (let i = 0; i < 150; i++) {
      const base = text[i % 2];
      let bytes: Buffer;
      if (i % 3 === 0) {
        // Byte damage: a cut, or one byte changed.
        const at = Math.floor(rand() * base.length);
        bytes = rand() < 0.5 ? Buffer.from(base.slice(0, Math.max(at, 8))) : Buffer.from(base);
        if (bytes.length === base.length) bytes[at] = Math.floor(rand() * 256);
      } else {
        const json = JSON.stringify(mutate(parseExact(base), rand));
        bytes = Buffer.from(json.replace(/"(-?\d{16,})"/g, '$1'));
      }
      const back = printPlan(bytes);
      if (!back.ok) expect(back.error, `seed ${SEED} case ${i}: ${bytes}`).toMatch(/^plan: [^\n]+$|^read plan$/);
    }
  });
});
