import { describe, expect, it } from 'vitest';
import { ConfigError, OciError, SystemError } from '../../src/errors.js';
import { failureExitCode } from '../../src/cli/report.js';

describe('the error carrier', () => {
  it('an OciError ends the CLI with 1 unless it names its own exit code', () => {
    expect(failureExitCode(new OciError('ERR_NOT_RUNNING', 'x'))).toBe(1);
    expect(failureExitCode(new OciError('ERR_EXEC_FAILED', 'exec failed: x', { exitCode: 255 }))).toBe(255);
    expect(failureExitCode(new ConfigError([{ path: 'process', message: 'missing' }]))).toBe(1);
    // Bugs (a TypeError) exit 1 too; they are not OciErrors.
    expect(failureExitCode(new TypeError('x'))).toBe(1);
  });

  it('SystemError.from turns Node errors into SystemErrors and leaves the rest alone', () => {
    const node = Object.assign(new Error("ENOENT: no such file or directory, open '/x'"), { code: 'ENOENT', errno: -2, syscall: 'open', path: '/x' });
    const e = SystemError.from(node) as SystemError;
    expect(e).toBeInstanceOf(SystemError);
    expect(e).toBeInstanceOf(OciError);
    expect(e).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open', path: '/x', exitCode: 1, name: 'SystemError' });
    const oci = new OciError('ERR_OCIRUN_HELPER', 'init helper exited');
    expect(SystemError.from(oci)).toBe(oci);
    const bug = new TypeError('undefined is not a function');
    expect(SystemError.from(bug)).toBe(bug);
    expect(SystemError.from(Object.assign(new Error('x'), { code: 'ERR_SOMETHING' }))).not.toBeInstanceOf(SystemError);
  });
});
