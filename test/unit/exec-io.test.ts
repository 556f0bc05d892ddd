// The parts of exec and of process I/O that need no root: how the exec'd
// process is derived from the container's, runc's terminal rules, socket
// activation, which cgroups exec joins, and the records the helper receives.
import { describe, expect, it } from 'vitest';
import { defaultSpec } from '../../src/config/default-spec.js';
import { execProcessFrom } from '../../src/lifecycle/exec.js';
import { cgroupPlacementToJoin } from '../../src/cgroups/join.js';
import { parseMountinfo } from '../../src/mountinfo.js';
import { checkTerminal, listenFdsFromEnv } from '../../src/io/process-io.js';
import { encodePlan } from '../../src/native/plan-encode.js';
import { minimalExecPlan, minimalInitPlan, printPlan } from '../support/plan.js';

describe('execProcessFrom', () => {
  const config = defaultSpec();
  config.process!.env = ['PATH=/bin', 'A=1', 'B=2'];
  config.process!.terminal = true;
  config.process!.consoleSize = { height: 10, width: 20 };

  it('starts from the container process, with no terminal unless asked', () => {
    const p = execProcessFrom(config, { args: ['ls'] });
    expect(p).toMatchObject({ args: ['ls'], env: ['PATH=/bin', 'A=1', 'B=2'], cwd: '/', terminal: false });
    expect(p.consoleSize).toBeUndefined();
    expect(p.capabilities).toEqual(config.process!.capabilities);
    expect(execProcessFrom(config, { args: ['ls'], tty: true })).toMatchObject({ terminal: true, consoleSize: { height: 10, width: 20 } });
  });

  it('replaces variables by name and appends new ones, in order', () => {
    expect(execProcessFrom(config, { args: ['x'], env: ['B=two', 'C=3', 'A=one'] }).env).toEqual(['PATH=/bin', 'A=one', 'B=two', 'C=3']);
  });

  it('overrides user, groups and cwd without touching the container config', () => {
    const p = execProcessFrom(config, { args: ['x'], uid: 7, gid: 8, additionalGids: [9], cwd: '/tmp', noNewPrivileges: true });
    expect(p.user).toEqual({ uid: 7, gid: 8, additionalGids: [9] });
    expect(p).toMatchObject({ cwd: '/tmp', noNewPrivileges: true });
    expect(config.process!.user).toEqual({ uid: 0, gid: 0 });
  });

  it('adds --cap to bounding, effective and permitted, and ambient only with inheritable ones (runc)', () => {
    const p = execProcessFrom(config, { args: ['x'], caps: ['CAP_SYS_ADMIN', 'CAP_KILL'] });
    expect(p.capabilities!.effective).toEqual([...config.process!.capabilities!.effective!, 'CAP_SYS_ADMIN']);
    expect(p.capabilities!.bounding).toContain('CAP_SYS_ADMIN');
    expect(p.capabilities!.permitted).toContain('CAP_SYS_ADMIN');
    expect(config.process!.capabilities!.inheritable).toBeUndefined();
    expect(p.capabilities!.ambient).toEqual(config.process!.capabilities!.ambient);
    const withInh = defaultSpec();
    withInh.process!.capabilities!.inheritable = ['CAP_KILL'];
    expect(execProcessFrom(withInh, { args: ['x'], caps: ['CAP_SYS_ADMIN'] }).capabilities!.ambient)
      .toEqual([...withInh.process!.capabilities!.ambient!, 'CAP_SYS_ADMIN']);
  });
});

describe('terminal rules', () => {
  it('follows runc: a detached terminal needs a console socket, and a socket needs a detached terminal', () => {
    expect(() => checkTerminal(true, false, undefined)).toThrow(/cannot allocate a terminal for a detached process without --console-socket/);
    expect(() => checkTerminal(false, false, '/s')).toThrow(/process has no terminal/);
    expect(() => checkTerminal(true, true, '/s')).toThrow(/only for detached processes/);
    expect(() => checkTerminal(true, false, '/s')).not.toThrow();
    expect(() => checkTerminal(true, true, undefined)).not.toThrow();
    expect(() => checkTerminal(false, false, undefined)).not.toThrow();
  });

  it('takes LISTEN_FDS only when LISTEN_PID names this process', () => {
    expect(listenFdsFromEnv({ LISTEN_FDS: '2', LISTEN_PID: '42' }, 42)).toBe(2);
    expect(listenFdsFromEnv({ LISTEN_FDS: '2', LISTEN_PID: '43' }, 42)).toBe(0);
    expect(listenFdsFromEnv({ LISTEN_FDS: '2' }, 42)).toBe(0);
    expect(listenFdsFromEnv({ LISTEN_FDS: 'x', LISTEN_PID: '42' }, 42)).toBe(0);
  });
});

describe('cgroupPlacementToJoin', () => {
  const lines = [
    '30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
    '31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct',
    '32 25 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd',
    '33 25 0:29 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate',
    '34 25 0:30 /sub /mnt/pids rw - cgroup cgroup rw,pids',
  ];
  const mountinfo = parseMountinfo(lines.join('\n'));
  const ours = '5:pids:/sub/me\n4:memory:/\n3:cpu,cpuacct:/\n2:name=systemd:/\n0::/\n';
  const init = '5:pids:/sub/box\n4:memory:/ocirun/box\n3:cpu,cpuacct:/\n2:name=systemd:/ocirun/box\n0::/ocirun/box\n';
  const tasks = ['/mnt/pids/box/tasks', '/sys/fs/cgroup/memory/ocirun/box/tasks', '/sys/fs/cgroup/systemd/ocirun/box/tasks'];

  it('v1 by tasks, cgroup2 by CLONE_INTO_CGROUP, through the mount that shows each', () => {
    expect(cgroupPlacementToJoin(init, ours, mountinfo, { root: true, joinsCgroupNamespace: false }))
      .toEqual({ dir: '/sys/fs/cgroup/unified/ocirun/box', procs: [], tasks });
  });

  it("cgroup.procs where the kernel would refuse the clone: rootless, or a joined cgroup namespace under nsdelegate", () => {
    const procs = { procs: ['/sys/fs/cgroup/unified/ocirun/box/cgroup.procs'], tasks };
    expect(cgroupPlacementToJoin(init, ours, mountinfo, { root: false, joinsCgroupNamespace: false })).toEqual(procs);
    expect(cgroupPlacementToJoin(init, ours, mountinfo, { root: true, joinsCgroupNamespace: true })).toEqual(procs);
    // Without nsdelegate the kernel does not look at the cgroup namespace.
    const plain = parseMountinfo(lines.join('\n').replace(',nsdelegate', ''));
    expect(cgroupPlacementToJoin(init, ours, plain, { root: true, joinsCgroupNamespace: true }))
      .toEqual({ dir: '/sys/fs/cgroup/unified/ocirun/box', procs: [], tasks });
  });

  it('joins nothing when the init shares our cgroups, or where no mount reaches its cgroup', () => {
    const opts = { root: true, joinsCgroupNamespace: false };
    expect(cgroupPlacementToJoin(ours, ours, mountinfo, opts)).toEqual({ procs: [] });
    expect(cgroupPlacementToJoin('5:pids:/elsewhere\n', ours, mountinfo, opts)).toEqual({ procs: [] });
  });
});

describe('the helper plan for terminals and exec', () => {
  const read = (bytes: Buffer) => {
    const back = printPlan(bytes);
    expect(back.error).toBe('');
    return back.plan as Record<string, unknown>;
  };

  it('carries the console socket fd and size', () => {
    expect(read(encodePlan({ ...minimalInitPlan(), console: { socketFd: 6, rows: 24, cols: 80 } })).console)
      .toEqual({ socketFd: 6, rows: 24, cols: 80 });
    expect(read(encodePlan({ ...minimalInitPlan(), console: { socketFd: 4 } })).console).toEqual({ socketFd: 4 });
  });

  it('an exec plan names its target and cgroups and carries no rootfs or state dir', () => {
    const cgroup = { dir: '/u/box', procs: ['/a/cgroup.procs'], tasks: ['/b/tasks'] };
    const plan = read(encodePlan({ ...minimalExecPlan(), targetFd: 5, cgroup }));
    expect(plan).toMatchObject({ mode: 'exec', targetFd: 5, cgroup });
    expect(plan).not.toHaveProperty('rootfs');
    expect(plan).not.toHaveProperty('stateDir');
    expect(plan).toHaveProperty('process');
  });
});
