import { describe, expect, it } from 'vitest';
import { assertValidSpec, validateSpec } from '../../src/config/validate.js';
import { ConfigError, formatProblem } from '../../src/errors.js';

/** What an id outside what set*id() takes is refused with. */
const ID = 'between 0 and 4294967294; 4294967295 is (uid_t)-1, "unchanged" to setuid';

/** Smallest config that passes. */
const base = (): any => ({
  ociVersion: '1.2.0',
  root: { path: 'rootfs' },
  process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 } },
  linux: { namespaces: [{ type: 'mount' }] },
});

const withNs = (...types: Array<string | { type: string; path?: string }>) =>
  types.map((t) => (typeof t === 'string' ? { type: t } : t));

const USERNS_MAPS = {
  uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
  gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
};

function check(mutate: (c: any) => void) {
  const c = base();
  mutate(c);
  const res = validateSpec(c);
  return { problems: res.problems.map(formatProblem), warnings: res.warnings.map(formatProblem) };
}

describe('validateSpec: valid configs', () => {
  const cases: Array<[string, (c: any) => void]> = [
    ['the minimal config', () => {}],
    ['no process (the spec makes it optional)', (c) => { delete c.process; }],
    ['terminal false', (c) => { c.process.terminal = false; }],
    ['empty strings for unsupported fields', (c) => { c.process.apparmorProfile = ''; c.linux.cgroupsPath = ''; c.linux.mountLabel = ''; }],
    ['empty hooks', (c) => { c.hooks = { prestart: [], poststop: [] }; }],
    ['empty resources', (c) => { c.linux.resources = {}; }],
    ["runc's deny-all device rule", (c) => { c.linux.resources = { devices: [{ allow: false, access: 'rwm' }] }; }],
    ['null treated as absent', (c) => { c.process.env = null; c.hostname = null; }],
    ['every namespace, some joined', (c) => {
      c.linux.namespaces = withNs('mount', 'pid', { type: 'network', path: '/proc/1/ns/net' }, 'ipc', 'uts', 'cgroup', 'time', 'user');
      Object.assign(c.linux, USERNS_MAPS);
    }],
    ['joined user namespace without mappings', (c) => { c.linux.namespaces.push({ type: 'user', path: '/proc/1/ns/user' }); }],
    ['hostname and domainname with a UTS namespace', (c) => { c.linux.namespaces.push({ type: 'uts' }); c.hostname = 'h'; c.domainname = 'd'; }],
    ['time offsets with a new time namespace', (c) => {
      c.linux.namespaces.push({ type: 'time' });
      c.linux.timeOffsets = { monotonic: { secs: -10, nanosecs: 5 }, boottime: { secs: 86400 } };
    }],
    ['namespaced sysctls', (c) => {
      c.linux.namespaces.push({ type: 'network' }, { type: 'ipc' });
      c.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'net/ipv4/conf/eth0.1/forwarding': '1', 'kernel.shmmax': '1', 'fs.mqueue.msg_max': '20' };
    }],
    ['bind mounts by option, by type and relative source', (c) => {
      c.mounts = [
        { destination: '/a', type: 'none', source: '/tmp', options: ['rbind', 'ro', 'rprivate'] },
        { destination: '/b', type: 'bind', source: 'data' },
        { destination: '/c', source: '/tmp', options: ['bind'] },
      ];
    }],
    ['filesystem mounts with data options', (c) => {
      c.mounts = [
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
        { destination: '/sys/fs/cgroup', type: 'cgroup2', source: 'cgroup2' },
      ];
    }],
    ['full process', (c) => {
      Object.assign(c.process, {
        env: ['PATH=/bin', 'EMPTY='],
        user: { uid: 1000, gid: 1000, umask: 0o22, additionalGids: [5, 6] },
        capabilities: { bounding: ['CAP_KILL'], effective: [], inheritable: [], permitted: ['CAP_KILL'], ambient: [] },
        rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }, { type: 'RLIMIT_CORE', soft: 2 ** 64, hard: 2 ** 64 }],
        noNewPrivileges: true,
        oomScoreAdj: -500,
      });
    }],
    ['rootfsPropagation, masked and read-only paths', (c) => {
      Object.assign(c.linux, { rootfsPropagation: 'rslave', maskedPaths: ['/proc/kcore'], readonlyPaths: ['/proc/sys'] });
    }],
    ['annotations', (c) => { c.annotations = { 'org.example.key': 'value' }; }],
    ['other platforms are ignored', (c) => { c.windows = { layerFolders: ['C:\\x'] }; c.vm = {}; }],
    ['pre-release versions of 1.x', (c) => { c.ociVersion = '1.0.2-dev'; }],
  ];
  it.each(cases)('%s', (_name, mutate) => {
    const { problems, warnings } = check(mutate);
    expect(problems).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('accepts RLIM_INFINITY written in full', () => {
    const json = JSON.stringify(base()).replace('"args"', '"rlimits":[{"type":"RLIMIT_NOFILE","soft":18446744073709551615,"hard":18446744073709551615}],"args"');
    expect(validateSpec(JSON.parse(json)).problems).toEqual([]);
  });

  it('returns a copy without nulls and unknown properties', () => {
    const c = base();
    c.hostname = null;
    c.process.whatever = 1;
    const { spec } = validateSpec(c);
    expect(spec).not.toHaveProperty('hostname');
    expect(spec.process).not.toHaveProperty('whatever');
    expect(spec.process?.args).toEqual(['sh']);
  });
});

describe('validateSpec: invalid configs', () => {
  const cases: Array<[string, (c: any) => void, string[]]> = [
    ['unknown namespace', (c) => { c.linux.namespaces = withNs('mount', 'pid', 'foo'); },
      ['linux.namespaces[2].type: unknown namespace "foo"']],
    ['duplicate namespace', (c) => { c.linux.namespaces = withNs('mount', 'pid', 'pid'); },
      ['linux.namespaces[2].type: duplicate namespace "pid" (first at linux.namespaces[1])']],
    ['relative namespace path', (c) => { c.linux.namespaces = withNs('mount', { type: 'network', path: 'proc/1/ns/net' }); },
      ['linux.namespaces[1].path: must be an absolute path']],
    ['no mount namespace with masked paths (runc\'s rule)', (c) => { c.linux.namespaces = withNs('pid'); c.linux.maskedPaths = ['/proc/kcore']; c.linux.readonlyPaths = ['/proc/sys']; },
      ['linux.maskedPaths: unable to restrict sys entries without a private mount namespace', 'linux.readonlyPaths: unable to restrict sys entries without a private mount namespace']],
    ['empty args', (c) => { c.process.args = []; }, ['process.args: must not be empty']],
    ['missing args', (c) => { delete c.process.args; }, ['process.args: is required']],
    ['relative cwd', (c) => { c.process.cwd = 'home'; }, ['process.cwd: must be an absolute path']],
    ['missing cwd', (c) => { delete c.process.cwd; }, ['process.cwd: is required']],
    ['missing user.uid', (c) => { delete c.process.user.uid; }, ['process.user.uid: is required']],
    ['negative uid', (c) => { c.process.user.uid = -1; }, [`process.user.uid: must be an integer ${ID}`]],
    ['uid too large', (c) => { c.process.user.gid = 2 ** 32; }, [`process.user.gid: must be an integer ${ID}`]],
    // (uid_t)-1: setresuid(2) would leave the runtime's uid 0 in place.
    ['uid 4294967295', (c) => { c.process.user.uid = 4294967295; }, [`process.user.uid: must be an integer ${ID}`]],
    ['gid 4294967295', (c) => { c.process.user.gid = 4294967295; }, [`process.user.gid: must be an integer ${ID}`]],
    ['additional gid 4294967295', (c) => { c.process.user.additionalGids = [5, 4294967295]; }, [`process.user.additionalGids[1]: must be an integer ${ID}`]],
    ['additional gid -1', (c) => { c.process.user.additionalGids = [-1]; }, [`process.user.additionalGids[0]: must be an integer ${ID}`]],
    ['device uid 4294967295', (c) => { c.linux.devices = [{ path: '/dev/x', type: 'c', major: 1, minor: 3, uid: 4294967295 }]; }, [`linux.devices[0].uid: must be an integer ${ID}`]],
    ['a map hostID of 4294967295', (c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 4294967295, size: 1 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    }, [`linux.uidMappings[0].hostID: must be an integer ${ID}`]],
    ['a map reaching (uid_t)-1', (c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      // containerID 0..4294967294 is the widest map the kernel takes; hostID 1.. reaches -1.
      c.linux.gidMappings = [{ containerID: 0, hostID: 1, size: 4294967295 }];
    }, ['linux.gidMappings[0]: hostID + size exceeds 4294967295']],
    ['a map of size 0', (c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 0 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 1 }];
    }, ['linux.uidMappings[0].size: must be an integer between 1 and 4294967295']],
    ['fractional uid', (c) => { c.process.user.uid = 1.5; }, ['process.user.uid: must be an integer']],
    ['args of the wrong type', (c) => { c.process.args = 'sh'; }, ['process.args: must be an array']],
    ['non-string arg', (c) => { c.process.args = ['sh', 3]; }, ['process.args[1]: must be a string']],
    ['NUL in an arg', (c) => { c.process.args = ['sh\0x']; }, ['process.args[0]: must not contain NUL bytes']],
    ['boolean of the wrong type', (c) => { c.process.noNewPrivileges = 'yes'; }, ['process.noNewPrivileges: must be a boolean']],
    ['env entry without =', (c) => { c.process.env = ['PATH=/bin', 'FOO']; }, ['process.env[1]: must be in KEY=VALUE form']],
    ['env entry with an empty name', (c) => { c.process.env = ['=x']; }, ['process.env[0]: must be in KEY=VALUE form']],
    ['unknown rlimit', (c) => { c.process.rlimits = [{ type: 'RLIMIT_FOO', soft: 1, hard: 1 }]; },
      ['process.rlimits[0].type: unknown rlimit "RLIMIT_FOO"']],
    ['duplicate rlimit', (c) => {
      c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }, { type: 'RLIMIT_CORE', soft: 0, hard: 0 }, { type: 'RLIMIT_NOFILE', soft: 2, hard: 2 }];
    }, ['process.rlimits[2].type: duplicate rlimit "RLIMIT_NOFILE" (first at process.rlimits[0])']],
    ['soft rlimit above hard', (c) => { c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 4096, hard: 1024 }]; },
      ['process.rlimits[0]: soft limit 4096 exceeds hard limit 1024']],
    ['new user namespace without mappings', (c) => { c.linux.namespaces.push({ type: 'user' }); },
      ['linux.uidMappings: is required with a new user namespace', 'linux.gidMappings: is required with a new user namespace']],
    ['mappings without a user namespace', (c) => { Object.assign(c.linux, USERNS_MAPS); },
      ['linux.uidMappings: requires a user namespace', 'linux.gidMappings: requires a user namespace']],
    ['mappings with a joined user namespace', (c) => {
      c.linux.namespaces.push({ type: 'user', path: '/proc/1/ns/user' });
      c.linux.uidMappings = USERNS_MAPS.uidMappings;
    }, ['linux.uidMappings: cannot be set when joining an existing user namespace']],
    ['overlapping container ids', (c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 10 }, { containerID: 5, hostID: 5000, size: 10 }];
      c.linux.gidMappings = USERNS_MAPS.gidMappings;
    }, ['linux.uidMappings[1]: container IDs overlap with linux.uidMappings[0]']],
    ['overlapping host ids', (c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = USERNS_MAPS.uidMappings;
      c.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 10 }, { containerID: 100, hostID: 1009, size: 1 }];
    }, ['linux.gidMappings[1]: host IDs overlap with linux.gidMappings[0]']],
    ['empty mapping', (c) => {
      c.linux.namespaces.push({ type: 'user' });
      Object.assign(c.linux, USERNS_MAPS);
      c.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 0 }];
    }, ['linux.uidMappings[0].size: must be an integer between 1 and 4294967295']],
    ['process ids not mapped', (c) => {
      c.linux.namespaces.push({ type: 'user' });
      Object.assign(c.linux, USERNS_MAPS);
      c.process.user = { uid: 70000, gid: 0, additionalGids: [65536] };
    }, ['process.user.uid: 70000 is not mapped by linux.uidMappings',
      'process.user.additionalGids[0]: 65536 is not mapped by linux.gidMappings']],
    ['hostname without a UTS namespace', (c) => { c.hostname = 'box'; },
      ['hostname: unable to set hostname without a private UTS namespace']],
    ['hostname too long', (c) => { c.linux.namespaces.push({ type: 'uts' }); c.hostname = 'x'.repeat(65); },
      ['hostname: must be at most 64 characters']],
    ['net sysctl without a network namespace', (c) => { c.linux.sysctl = { 'net.ipv4.ip_forward': '1' }; },
      ['linux.sysctl["net.ipv4.ip_forward"]: requires a private network namespace']],
    ['IPC sysctl without an IPC namespace', (c) => { c.linux.sysctl = { 'kernel.shmmax': '1' }; },
      ['linux.sysctl["kernel.shmmax"]: requires a private IPC namespace']],
    ['host-wide sysctl', (c) => { c.linux.sysctl = { 'vm.swappiness': '10' }; },
      ['linux.sysctl["vm.swappiness"]: is not namespaced: setting it would change the host']],
    ['sysctl escaping /proc/sys', (c) => { c.linux.namespaces.push({ type: 'network' }); c.linux.sysctl = { 'net/../../etc/x': '1' }; },
      ['linux.sysctl["net/../../etc/x"]: invalid sysctl name']],
    ['sysctl value not a string', (c) => { c.linux.namespaces.push({ type: 'network' }); c.linux.sysctl = { 'net.ipv4.ip_forward': 1 }; },
      ['linux.sysctl["net.ipv4.ip_forward"]: must be a string']],
    ['time offsets without a time namespace', (c) => { c.linux.timeOffsets = { monotonic: { secs: 1 } }; },
      ['linux.timeOffsets: requires a new time namespace']],
    ['unknown clock', (c) => { c.linux.namespaces.push({ type: 'time' }); c.linux.timeOffsets = { realtime: { secs: 1 } }; },
      ['linux.timeOffsets["realtime"]: unknown clock "realtime"']],
    ['major version 2', (c) => { c.ociVersion = '2.0.0'; }, ['ociVersion: unsupported version "2.0.0" (major version must be 1)']],
    ['not SemVer', (c) => { c.ociVersion = '1.0'; }, ['ociVersion: "1.0" is not a valid SemVer version']],
    ['missing ociVersion', (c) => { delete c.ociVersion; }, ['ociVersion: is required']],
    ['missing root', (c) => { delete c.root; }, ['root: is required']],
    ['empty root.path', (c) => { c.root.path = ''; }, ['root.path: must not be empty']],
    ['relative mount destination', (c) => { c.mounts = [{ destination: 'proc', type: 'proc', source: 'proc' }]; },
      ['mounts[0].destination: must be an absolute path']],
    ['mount without a type', (c) => { c.mounts = [{ destination: '/x', source: 'x', options: ['ro'] }]; },
      ['mounts[0].type: is required unless the mount is a bind mount']],
    ['bind mount without a source', (c) => { c.mounts = [{ destination: '/x', type: 'bind', options: ['rbind'] }]; },
      ['mounts[0].source: is required for a bind mount']],
    ['oomScoreAdj out of range', (c) => { c.process.oomScoreAdj = 1001; }, ['process.oomScoreAdj: must be an integer between -1000 and 1000']],
    ['umask out of range', (c) => { c.process.user.umask = 0o1000; }, ['process.user.umask: must be an integer between 0 and 511']],
    ['bad rootfsPropagation', (c) => { c.linux.rootfsPropagation = 'sideways'; }, ['linux.rootfsPropagation: unknown propagation "sideways"']],
    ['relative masked path', (c) => { c.linux.maskedPaths = ['proc/kcore']; }, ['linux.maskedPaths[0]: must be an absolute path']],
    ['consoleSize without terminal', (c) => { c.process.consoleSize = { height: 24, width: 80 }; },
      ['process.consoleSize: requires process.terminal to be true']],
    ['absurd memory limit', (c) => { c.linux.resources = { memory: { limit: -2 } }; },
      ['linux.resources.memory.limit: must be an integer between -1 and 9223372036854775807']],
    ['negative pids limit', (c) => { c.linux.resources = { pids: { limit: -5 } }; },
      ['linux.resources.pids.limit: must be an integer between -1 and 9223372036854775807']],
    ['bad device rule access', (c) => { c.linux.resources = { devices: [{ allow: false, access: 'rwx' }] }; },
      ['linux.resources.devices[0].access: must be a combination of "r", "w" and "m"']],
  ];
  it.each(cases)('%s', (_name, mutate, want) => {
    expect(check(mutate).problems).toEqual(want);
  });

  it('refuses a config that is not an object', () => {
    expect(validateSpec([1, 2]).problems).toEqual([{ path: '', message: 'config must be a JSON object' }]);
    expect(validateSpec(null).problems.map(formatProblem)).toEqual(['config must be a JSON object']);
  });

  it('reports every problem, invalid values before unsupported features', () => {
    const { problems } = check((c) => {
      c.linux.intelRdt = { closID: 'x' };
      c.process.cwd = 'x';
      c.linux.namespaces = withNs('mount', 'pid', 'foo');
    });
    expect(problems).toEqual([
      'process.cwd: must be an absolute path',
      'linux.namespaces[2].type: unknown namespace "foo"',
      'linux.intelRdt: not supported yet',
    ]);
  });

  it('does not cascade from an invalid namespace entry', () => {
    const { problems } = check((c) => { c.linux.namespaces = [{ type: 'uts ' }, { type: 'mount' }]; c.hostname = 'x'; });
    expect(problems).toEqual(['linux.namespaces[0].type: unknown namespace "uts "']);
  });

  it('requires a process when asked to', () => {
    const c = base();
    delete c.process;
    expect(validateSpec(c, { requireProcess: true }).problems.map(formatProblem)).toEqual(['process: is required']);
  });
});

describe('validateSpec: not supported yet', () => {
  const cases: Array<[string, (c: any) => void, string]> = [
    ['linux.resources.rdma', (c) => { c.linux.resources = { rdma: { mlx5_1: { hcaHandles: 3 } } }; }, 'linux.resources.rdma'],
    ['linux.resources.blockIO.leafWeight', (c) => { c.linux.resources = { blockIO: { weight: 10, leafWeight: 10 } }; }, 'linux.resources.blockIO.leafWeight'],
    ['process.user.username', (c) => { c.process.user.username = 'root'; }, 'process.user.username'],
    ['linux.intelRdt', (c) => { c.linux.intelRdt = { closID: 'x' }; }, 'linux.intelRdt'],
    ['linux.memoryPolicy', (c) => { c.linux.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0' }; }, 'linux.memoryPolicy'],
    ['linux.netDevices', (c) => { c.linux.netDevices = { eth1: { name: 'eth0' } }; }, 'linux.netDevices'],
  ];
  it.each(cases)('%s', (_name, mutate, path) => {
    expect(check(mutate).problems).toEqual([`${path}: not supported yet`]);
  });

  it('refuses unimplemented mount options and types by name', () => {
    const { problems } = check((c) => {
      c.mounts = [
        { destination: '/a', type: 'bind', source: '/a', options: ['rbind', 'rro', 'idmap'], uidMappings: [{ containerID: 0, hostID: 1, size: 1 }], gidMappings: [{ containerID: 0, hostID: 1, size: 1 }] },
        { destination: '/b', type: 'tmpfs', options: ['tmpcopyup'] },
        { destination: '/c', type: 'overlay', source: 'overlay', options: ['lowerdir=/x'] },
      ];
    });
    expect(problems).toEqual([
      'mounts[2].type: mount type "overlay" not supported yet',
    ]);
  });

  it('accepts joining a mount namespace, and no mount namespace at all without masked paths', () => {
    expect(check((c) => { c.linux.namespaces = [{ type: 'mount', path: '/proc/1/ns/mnt' }]; }).problems).toEqual([]);
    expect(check((c) => { c.linux.namespaces = [{ type: 'pid' }]; c.linux.maskedPaths = []; c.linux.readonlyPaths = []; }).problems).toEqual([]);
  });

  it('still type-checks unsupported sections', () => {
    const { problems } = check((c) => { c.linux.intelRdt = { enableCMT: 'yes' }; });
    expect(problems).toEqual(['linux.intelRdt.enableCMT: must be a boolean', 'linux.intelRdt: not supported yet']);
  });
});

describe('validateSpec: warnings', () => {
  it('warns about unknown capabilities instead of refusing them', () => {
    const { problems, warnings } = check((c) => {
      c.process.capabilities = { bounding: ['CAP_KILL', 'CAP_FROM_THE_FUTURE'], ambient: ['CAP_NOPE'] };
    });
    expect(problems).toEqual([]);
    expect(warnings).toEqual([
      'process.capabilities.bounding[1]: unknown capability "CAP_FROM_THE_FUTURE", ignored',
      'process.capabilities.ambient[0]: unknown capability "CAP_NOPE", ignored',
    ]);
  });

  it('warns about unknown properties', () => {
    const { problems, warnings } = check((c) => { c.linux.namespace = []; c['x-vendor'] = {}; });
    expect(problems).toEqual([]);
    expect(warnings).toEqual(['linux.namespace: unknown property, ignored', '["x-vendor"]: unknown property, ignored']);
  });

  it('keeps "__proto__" keys as plain data', () => {
    const c = JSON.parse('{"ociVersion":"1.0.0","root":{"path":"r"},"linux":{"namespaces":[{"type":"mount"}]},"annotations":{"__proto__":"x"},"__proto__":{"hostname":"h"}}');
    const { spec, problems } = validateSpec(c);
    expect(problems).toEqual([]);
    expect(Object.getPrototypeOf(spec.annotations)).toBe(Object.prototype);
    expect(Object.keys(spec.annotations!)).toEqual(['__proto__']);
    expect((spec as any).hostname).toBeUndefined();
  });
});

describe('ConfigError', () => {
  it('prints the first problem and counts the rest', () => {
    const c = base();
    c.process.args = [];
    c.process.cwd = 'x';
    c.linux.intelRdt = { closID: 'x' };
    let err: unknown;
    try { assertValidSpec(c); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ConfigError);
    const ce = err as ConfigError;
    expect(ce.code).toBe('ERR_INVALID_CONFIG');
    expect(ce.message).toBe('process.args: must not be empty (and 2 more problems)');
    expect(ce.problems).toHaveLength(3);
  });

  it('uses the singular for one more problem and no suffix for one', () => {
    expect(new ConfigError([{ path: 'a', message: 'x' }, { path: 'b', message: 'y' }]).message).toBe('a: x (and 1 more problem)');
    expect(new ConfigError([{ path: 'linux.namespaces[2].type', message: 'unknown namespace "foo"' }]).message)
      .toBe('linux.namespaces[2].type: unknown namespace "foo"');
  });

  it('returns warnings from assertValidSpec', () => {
    const c = base();
    c.process.capabilities = { bounding: ['CAP_NOPE'] };
    expect(assertValidSpec(c).warnings).toHaveLength(1);
  });
});
