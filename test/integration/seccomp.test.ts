// seccomp as a user sees it from inside a container: denied syscalls fail with
// the configured errno or kill the process, argument comparisons select calls,
// unknown names are skipped with a warning, SCMP_ACT_NOTIFY hands the listener
// the state and a working notify fd, and Docker's default profile runs busybox
// (root only).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, isRoot, waitFor } from './harness.js';
import type { LinuxSeccomp, LinuxSyscall, Spec } from '../../src/oci/types.js';

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;
const dockerProfile = (): LinuxSeccomp => JSON.parse(readFileSync(fixture('seccomp-docker-default.json'), 'utf8'));
const MKDIR = ['mkdir', 'mkdirat'];
const deny = (names: string[], action: string, more: Partial<LinuxSyscall> = {}): LinuxSeccomp =>
  ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names, action, ...more }] });

describe.runIf(isRoot)('seccomp', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  function run(args: string[], seccomp: LinuxSeccomp | undefined, edit?: (s: Spec) => void) {
    const bundle = h.bundle((s) => {
      s.process!.args = args;
      if (seccomp) s.linux!.seccomp = seccomp;
      edit?.(s);
    });
    return h.run(['run', '--bundle', bundle, h.id()]);
  }
  const sh = (script: string, seccomp: LinuxSeccomp | undefined, edit?: (s: Spec) => void) => run(['sh', '-c', script], seccomp, edit);

  it('fails a denied syscall with errnoRet, and shows the filter in /proc/self/status', () => {
    const r = sh('grep ^Seccomp /proc/self/status; mkdir /dev/shm/x; echo rc=$?; ls /dev/shm',
      deny(MKDIR, 'SCMP_ACT_ERRNO', { errnoRet: 13 }));
    expect(r).toMatchObject({ status: 0, stdout: 'Seccomp:\t2\nSeccomp_filters:\t1\nrc=1\n' });
    expect(r.stderr).toBe("mkdir: can't create directory '/dev/shm/x': Permission denied\n");
    // The same command without a profile: allowed, no filter.
    expect(sh('grep ^Seccomp: /proc/self/status; mkdir /dev/shm/x && echo made', undefined).stdout).toBe('Seccomp:\t0\nmade\n');
  });

  it('uses EPERM when a deny rule has no errnoRet', () => {
    const r = sh('mkdir /dev/shm/x', deny(MKDIR, 'SCMP_ACT_ERRNO'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Operation not permitted');
  });

  it('runs busybox under a default-deny allow-list, failing the rest with defaultErrnoRet', () => {
    const profile = dockerProfile();
    profile.syscalls![0].names = profile.syscalls![0].names.filter((n) => !MKDIR.includes(n));
    profile.defaultErrnoRet = 38; // ENOSYS
    const r = sh('echo running; ls / | grep -cx bin; mkdir /dev/shm/x', profile);
    expect(r.stdout).toBe('running\n1\n');
    expect(r.stderr).toContain('Function not implemented');
    expect(r.status).toBe(1);
  });

  it('matches arguments: socket(AF_INET6) is refused, AF_INET is not', () => {
    const profile = deny(['socket'], 'SCMP_ACT_ERRNO', { errnoRet: 97, args: [{ index: 0, value: 10, op: 'SCMP_CMP_EQ' }] });
    const r = sh('nc ::1 9 </dev/null 2>&1; nc 127.0.0.1 9 </dev/null 2>&1; true', profile);
    const [v6, v4] = r.stdout.trim().split('\n');
    expect(v6).toBe('nc: socket: Address family not supported by protocol');
    // Past socket(): the new network namespace's loopback is up (as with runc), and nothing listens on port 9.
    expect(v4).toBe("nc: can't connect to remote host (127.0.0.1): Connection refused");
  });

  it('matches masked values, and ORs conditions on the same argument as runc', () => {
    // personality(PER_LINUX32 = 8) via linux32, personality(PER_LINUX = 0) via linux64.
    const masked = deny(['personality'], 'SCMP_ACT_ERRNO', { args: [{ index: 0, value: 0xff, valueTwo: 8, op: 'SCMP_CMP_MASKED_EQ' }] });
    const script = 'linux32 uname -m 2>&1; linux64 uname -m 2>&1; true';
    expect(sh(script, masked).stdout).toMatch(/^linux32: .*Operation not permitted\nx86_64\n$/);
    const either = deny(['personality'], 'SCMP_ACT_ERRNO', {
      args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }, { index: 0, value: 0, op: 'SCMP_CMP_EQ' }],
    });
    expect(sh(script, either).stdout).toMatch(/^linux32: .*not permitted\nlinux64: .*not permitted\n$/);
  });

  it.each([
    ['SCMP_ACT_KILL_PROCESS'], ['SCMP_ACT_KILL_THREAD'], ['SCMP_ACT_KILL'], ['SCMP_ACT_TRAP'],
  ])('%s ends the process with SIGSYS (exit 159)', (action) => {
    const r = run(['mkdir', '/dev/shm/x'], deny(MKDIR, action));
    expect(r.status).toBe(128 + 31);
  });

  it('SCMP_ACT_TRACE without a tracer fails the call with ENOSYS; SCMP_ACT_LOG allows it', () => {
    expect(run(['mkdir', '/dev/shm/x'], deny(MKDIR, 'SCMP_ACT_TRACE')).stderr).toContain('Function not implemented');
    expect(sh('mkdir /dev/shm/x && echo made', deny(MKDIR, 'SCMP_ACT_LOG'))).toMatchObject({ status: 0, stdout: 'made\n' });
  });

  it('skips syscall names libseccomp does not know, with a warning', () => {
    const r = sh('mkdir /dev/shm/x; echo rc=$?', deny(['no_such_syscall', ...MKDIR], 'SCMP_ACT_ERRNO'));
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('rc=1\n');
    expect(r.stderr).toMatch(/level=warning msg="seccomp: syscalls unknown to libseccomp [\d.]+ skipped: no_such_syscall"/);
  });

  it('refuses an unknown action naming the JSON path, leaving nothing behind', () => {
    const r = sh('true', deny(MKDIR, 'SCMP_ACT_SOMETIMES'));
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('ocirun: linux.seccomp.syscalls[0].action: unknown seccomp action "SCMP_ACT_SOMETIMES"\n');
    expect(h.stateDirs()).toEqual([]);
  });

  it('loads the filter before dropping capabilities without no_new_privs, after with it', () => {
    for (const nnp of [false, true]) {
      const r = sh('grep -E "^(NoNewPrivs|Seccomp|CapEff):" /proc/self/status; id -u; mkdir /dev/shm/x', deny(MKDIR, 'SCMP_ACT_ERRNO'), (s) => {
        s.process!.noNewPrivileges = nnp;
        s.process!.user = { uid: 1000, gid: 1000 };
      });
      expect(r.stdout).toBe(`CapEff:\t0000000000000000\nNoNewPrivs:\t${nnp ? 1 : 0}\nSeccomp:\t2\n1000\n`);
      expect(r.stderr).toContain('Operation not permitted');
    }
  });

  it('works in a user namespace', () => {
    const r = sh('grep ^Seccomp: /proc/self/status; mkdir /dev/shm/x', deny(MKDIR, 'SCMP_ACT_ERRNO', { errnoRet: 28 }), (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.process!.noNewPrivileges = false;
    });
    expect(r.stdout).toBe('Seccomp:\t2\n');
    expect(r.stderr).toContain('No space left on device');
  });

  it('keeps host fds out even when the profile denies close_range and fcntl', () => {
    const profile = deny(['close_range', 'fcntl'], 'SCMP_ACT_ERRNO');
    const r = sh('ls /proc/self/fd | tr "\\n" " "', profile);
    // 0-2, and 3 for the directory ls reads.
    expect(r).toMatchObject({ status: 0, stdout: '0 1 2 3 ' });
  });

  it("runs busybox under Docker's default profile, which refuses namespaces and unknown calls", () => {
    const r = sh('grep ^Seccomp: /proc/self/status; mkdir /dev/shm/d && echo made; unshare -U true || echo unshare-refused; ' +
      'ls /dev/shm; echo done', dockerProfile());
    expect(r.stdout).toBe('Seccomp:\t2\nmade\nunshare-refused\nd\ndone\n');
    expect(r.stderr).toContain('Operation not permitted');
  });

  describe('compiled-filter cache', () => {
    const cacheDir = () => `${h.root}.seccomp-cache`;
    const profile = deny(MKDIR, 'SCMP_ACT_ERRNO', { errnoRet: 18 });
    profile.syscalls!.push({ names: ['cache_test_unknown_call'], action: 'SCMP_ACT_ERRNO' });
    const script = 'mkdir /dev/shm/x; echo rc=$?';

    /** An entry in the helper's format that allows everything: FNV-1a checksum and all. */
    function forgedAllowAll(): Buffer {
      const prog = Buffer.alloc(8);
      prog.writeUInt16LE(0x06, 0); // BPF_RET | BPF_K
      prog.writeUInt32LE(0x7fff0000, 4); // SECCOMP_RET_ALLOW
      let sum = 0xcbf29ce484222325n;
      for (const b of prog) sum = BigInt.asUintN(64, (sum ^ BigInt(b)) * 0x100000001b3n);
      const head = Buffer.alloc(32);
      head.write('OCISCF01', 0, 'latin1');
      head.writeUInt32LE(1, 16); // one instruction
      head.writeBigUInt64LE(sum, 24);
      return Buffer.concat([head, prog]);
    }

    it('reuses the compiled program, warning about unknown names each time', () => {
      rmSync(cacheDir(), { recursive: true, force: true });
      for (let i = 0; i < 2; i++) {
        const r = sh(script, profile);
        expect(r.stdout).toBe('rc=1\n');
        expect(r.stderr).toContain('Invalid cross-device link');
        expect(r.stderr).toContain('skipped: cache_test_unknown_call');
      }
      expect(statSync(cacheDir()).mode & 0o777).toBe(0o700);
      expect(readdirSync(cacheDir())).toHaveLength(1);
    });

    it('compiles again over a damaged entry', () => {
      sh(script, profile);
      const [entry] = readdirSync(cacheDir());
      const bytes = readFileSync(join(cacheDir(), entry));
      bytes[bytes.length - 4] ^= 0xff; // the last instruction's operand
      writeFileSync(join(cacheDir(), entry), bytes);
      expect(sh(script, profile).stderr).toContain('Invalid cross-device link');
    });

    it('ignores a cache directory others can write to', () => {
      sh(script, profile);
      const [entry] = readdirSync(cacheDir());
      writeFileSync(join(cacheDir(), entry), forgedAllowAll());
      chmodSync(cacheDir(), 0o777);
      try {
        expect(sh(script, profile).stderr).toContain('Invalid cross-device link');
        // The same forged entry in a private directory is loaded: the check above is what refused it.
        chmodSync(cacheDir(), 0o700);
        expect(sh(script, profile).stdout).toBe('rc=0\n');
      } finally {
        rmSync(cacheDir(), { recursive: true, force: true });
      }
    });
  });

  describe('SCMP_ACT_NOTIFY', () => {
    let agent: ChildProcess | undefined;
    afterEach(() => { agent?.kill('SIGKILL'); agent = undefined; });

    async function startAgent(errno: number): Promise<{ socket: string; out: string }> {
      const socket = join(h.work, `agent-${process.pid}-${Math.random().toString(36).slice(2)}.sock`);
      const out = `${socket}.json`;
      agent = spawn('python3', [fixture('seccomp-agent.py'), socket, out, String(errno)], { stdio: 'ignore' });
      await waitFor(() => existsSync(socket));
      return { socket, out };
    }

    it('sends the container process state and a notify fd that decides the syscall', async () => {
      const { socket, out } = await startAgent(18); // EXDEV: only the agent answers that
      const id = h.id('notify');
      const bundle = h.bundle((s) => {
        s.process!.args = ['sh', '-c', 'mkdir /dev/shm/x; echo rc=$?; ls /dev/shm | wc -l'];
        s.annotations = { 'org.example/agent': 'yes' };
        s.linux!.seccomp = {
          defaultAction: 'SCMP_ACT_ALLOW', listenerPath: socket, listenerMetadata: 'MKDIR=deny',
          syscalls: [{ names: MKDIR, action: 'SCMP_ACT_NOTIFY' }],
        };
      });
      const created = h.run(['create', '--bundle', bundle, id]);
      expect(created.status, created.stderr).toBe(0);
      const pid = JSON.parse(h.run(['state', id]).stdout).pid;
      const started = h.run(['start', id]);
      expect(started.status, started.stderr).toBe(0);
      await waitFor(() => existsSync(out));
      const got = JSON.parse(readFileSync(out, 'utf8'));
      expect(got).toEqual({
        fds: 1,
        fdLink: 'anon_inode:seccomp notify',
        state: {
          ociVersion: '1.2.1', fds: ['seccompFd'], pid, metadata: 'MKDIR=deny',
          state: { ociVersion: '1.2.1', id, status: 'created', pid, bundle, annotations: { 'org.example/agent': 'yes' } },
        },
      });
      await waitFor(() => h.run(['state', id]).stdout.includes('"stopped"'));
      const deleted = h.run(['delete', id]);
      expect(deleted.status, deleted.stderr).toBe(0);
    });

    it('answers the notified syscall through the agent', async () => {
      const { socket } = await startAgent(18);
      const r = sh('mkdir /dev/shm/x; echo rc=$?; ls /dev/shm | wc -l', {
        defaultAction: 'SCMP_ACT_ALLOW', listenerPath: socket, syscalls: [{ names: MKDIR, action: 'SCMP_ACT_NOTIFY' }],
      });
      expect(r.stdout).toBe('rc=1\n0\n');
      expect(r.stderr).toContain('Invalid cross-device link');
    });

    it('fails create cleanly when nobody listens', () => {
      const socket = join(h.work, 'nobody.sock');
      const r = sh('true', { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: socket, syscalls: [{ names: MKDIR, action: 'SCMP_ACT_NOTIFY' }] });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^ocirun: seccomp: connect to listener ${socket}.*ENOENT.*\\n$`));
    });
  });
});
