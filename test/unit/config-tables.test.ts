import { describe, expect, it } from 'vitest';
import { findJsonError } from '../../src/config/json-error.js';
import { isBindMount, mountOptionImplemented, parseMountOptions } from '../../src/config/mount-options.js';
import { toInt64, toUint64 } from '../../src/config/numbers.js';
import { OciError, SystemError } from '../../src/errors.js';
import {
  CAPABILITIES, MOUNT_ATTR, MOUNT_OPTIONS, MS, NAMESPACES, RLIMITS, fieldSupport,
  isNamespaceType, parseSignal, signalName, sysctlNamespace,
} from '../../src/oci/tables.js';

describe('tables', () => {
  it('has the kernel constants', () => {
    expect(NAMESPACES).toMatchObject({ mount: 0x20000, uts: 0x4000000, ipc: 0x8000000, user: 0x10000000, pid: 0x20000000, network: 0x40000000, cgroup: 0x2000000, time: 0x80 });
    expect(CAPABILITIES.get('CAP_CHOWN')).toBe(0);
    expect(CAPABILITIES.get('CAP_SYS_ADMIN')).toBe(21);
    expect(CAPABILITIES.get('CAP_CHECKPOINT_RESTORE')).toBe(40);
    expect(CAPABILITIES.size).toBe(41);
    expect(RLIMITS.get('RLIMIT_CPU')).toBe(0);
    expect(RLIMITS.get('RLIMIT_NOFILE')).toBe(7);
    expect(RLIMITS.get('RLIMIT_RTTIME')).toBe(15);
    expect(MOUNT_OPTIONS.rbind).toEqual({ kind: 'flag', flag: MS.BIND | MS.REC });
    expect(MOUNT_OPTIONS.rw).toEqual({ kind: 'flag', flag: MS.RDONLY, clear: true });
    expect(MOUNT_OPTIONS.rslave).toEqual({ kind: 'propagation', flag: 0x80000 | 0x4000 });
  });

  it('does not match inherited property names', () => {
    expect(MOUNT_OPTIONS.constructor).toBeUndefined();
    expect(isNamespaceType('toString')).toBe(false);
    expect(() => parseSignal('constructor')).toThrow(OciError);
  });

  it('classifies sysctls by namespace', () => {
    expect(sysctlNamespace('net.core.somaxconn')).toBe('network');
    expect(sysctlNamespace('kernel.sem')).toBe('ipc');
    expect(sysctlNamespace('fs.mqueue.queues_max')).toBe('ipc');
    expect(sysctlNamespace('kernel.domainname')).toBe('uts');
    expect(sysctlNamespace('kernel.pid_max')).toBeUndefined();
  });

  it('resolves field support from the nearest listed ancestor', () => {
    expect(fieldSupport('process.args')).toEqual({ supported: true, partial: false });
    expect(fieldSupport('process.terminal')).toEqual({ supported: true, partial: false });
    expect(fieldSupport('process.user.username')).toEqual({ supported: false, partial: false });
    expect(fieldSupport('linux.resources')).toEqual({ supported: true, partial: false });
    expect(fieldSupport('linux.resources.devices')).toEqual({ supported: true, partial: false });
    expect(fieldSupport('linux.resources.memory.limit')).toEqual({ supported: true, partial: false });
    expect(fieldSupport('linux.resources.rdma.mlx5_1')).toEqual({ supported: false, partial: false });
    expect(fieldSupport('mounts[].uidMappings')).toEqual({ supported: true, partial: false });
    expect(fieldSupport('hooks.prestart')).toEqual({ supported: true, partial: false });
    expect(fieldSupport('linux.intelRdt.closID')).toEqual({ supported: false, partial: false });
  });
});

describe('signals', () => {
  it.each([
    ['SIGTERM', 15], ['TERM', 15], ['term', 15], ['sigkill', 9], ['9', 9], [' 2 ', 2], ['SIGIOT', 6], ['CHLD', 17],
    ['SIGRTMIN', 34], ['SIGRTMIN+1', 35], ['RTMIN+30', 64], ['SIGRTMAX', 64], ['SIGRTMAX-2', 62], ['64', 64],
  ] as const)('parses %s', (input, want) => {
    expect(parseSignal(input)).toBe(want);
  });

  it('accepts numbers', () => {
    expect(parseSignal(1)).toBe(1);
  });

  it.each(['SIGFOO', '0', '65', '', 'SIGRTMIN+31', 'SIGRTMIN-1', 'SIGRTMAX+1', '1.5', '-9'])('refuses %j', (input) => {
    expect(() => parseSignal(input)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: `unknown signal ${JSON.stringify(input)}` }));
  });

  it('names numbers', () => {
    expect(signalName(15)).toBe('SIGTERM');
    expect(signalName(6)).toBe('SIGABRT');
    expect(signalName(34)).toBe('SIGRTMIN');
    expect(signalName(40)).toBe('SIGRTMIN+6');
    expect(signalName(64)).toBe('SIGRTMAX');
    expect(signalName(32)).toBeUndefined();
    for (let n = 1; n <= 64; n++) { const name = signalName(n); if (name) expect(parseSignal(name)).toBe(n); }
  });
});

describe('parseMountOptions', () => {
  it('applies set and clear options in order and keeps unknown ones as data', () => {
    const o = parseMountOptions(['ro', 'nosuid', 'rw', 'mode=755', 'size=1k', 'rprivate', 'shared']);
    expect(o.flags).toBe(MS.NOSUID);
    expect(o.cleared).toBe(MS.RDONLY);
    expect(o.data).toBe('mode=755,size=1k');
    expect(o.propagation).toEqual([MS.PRIVATE | MS.REC, MS.SHARED]);
  });

  it('collects recursive attributes and extensions', () => {
    const o = parseMountOptions(['rro', 'rnoatime', 'rsuid', 'idmap', 'idmap']);
    expect(o.attrSet).toBe(MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOATIME);
    expect(o.attrClr).toBe(MOUNT_ATTR._ATIME | MOUNT_ATTR.NOSUID);
    expect(o.extensions).toEqual(['idmap']);
    expect(o.flags).toBe(0);
  });

  it('knows which options are implemented', () => {
    expect(mountOptionImplemented('nodev')).toBe(true);
    expect(mountOptionImplemented('rslave')).toBe(true);
    expect(mountOptionImplemented('mode=755')).toBe(true); // filesystem data
    expect(mountOptionImplemented('rro')).toBe(true);
    expect(mountOptionImplemented('tmpcopyup')).toBe(true);
    expect(mountOptionImplemented('ridmap')).toBe(true);
  });

  it('spots bind mounts', () => {
    expect(isBindMount({ type: 'none', options: ['rbind'] })).toBe(true);
    expect(isBindMount({ type: 'bind' })).toBe(true);
    expect(isBindMount({ type: 'tmpfs', options: ['nosuid'] })).toBe(false);
  });
});

describe('numbers', () => {
  it('maps rounded 64-bit limits back to the kernel maxima', () => {
    expect(toUint64(JSON.parse('18446744073709551615'))).toBe(18446744073709551615n);
    expect(toUint64(1024)).toBe(1024n);
    expect(toInt64(JSON.parse('9223372036854775807'))).toBe(9223372036854775807n);
    expect(toInt64(-1)).toBe(-1n);
  });
});

describe('findJsonError', () => {
  it.each([
    ['{"a": 1}', undefined],
    ['[1, -2.5e3, "x\\u00e9", true, false, null, {}]', undefined],
    ['{"a": }', { line: 1, column: 7, offset: 6, message: "unexpected character '}'" }],
    ['{"a": 1,}', { line: 1, column: 9, offset: 8, message: "unexpected character '}'" }],
    ['{\n"a": tru\n}', { line: 2, column: 9, offset: 10, message: 'unexpected character U+000A' }],
    ['', { line: 1, column: 1, offset: 0, message: 'unexpected end of input' }],
    ['{} x', { line: 1, column: 4, offset: 3, message: "unexpected character 'x'" }],
    ['["a\nb"]', { line: 1, column: 4, offset: 3, message: 'unexpected character U+000A' }],
    ['01', { line: 1, column: 2, offset: 1, message: "unexpected character '1'" }],
  ])('%j', (text, want) => {
    expect(findJsonError(text)).toEqual(want);
    if (want === undefined) expect(() => JSON.parse(text)).not.toThrow();
    else expect(() => JSON.parse(text)).toThrow();
  });
});

describe('SystemError', () => {
  it('wraps Node errno errors with the errno name as code', () => {
    const e = Object.assign(new Error("ENOENT: no such file or directory, open '/x'"), { code: 'ENOENT', errno: -2, syscall: 'open', path: '/x' });
    const w = SystemError.from(e) as SystemError;
    expect(w).toBeInstanceOf(SystemError);
    expect(w).toBeInstanceOf(OciError);
    expect(w).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open', path: '/x', name: 'SystemError' });
    expect(w.cause).toBe(e);
  });

  it('leaves other errors alone', () => {
    const bug = new TypeError('x');
    expect(SystemError.from(bug)).toBe(bug);
    expect(SystemError.from('str')).toBe('str');
  });

  it('builds a message from its parts', () => {
    expect(new SystemError({ code: 'EPERM', errno: 1, syscall: 'mount', path: '/proc' }).message).toBe('mount /proc: EPERM');
  });
});
