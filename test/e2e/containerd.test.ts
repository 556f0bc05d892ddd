// containerd's runc v2 shim driving the runtime under test as its runc binary
// (ctr --runc-binary): run with output, exec, kill, delete. Against ocirun
// and against runc, each with a private containerd (socket, root, state).
//
// With cgroup support (`features`), the container gets ctr's own default
// config; without, ocirun's default spec (ctr run --config), since ctr's asks
// for a cgroup and CPU shares (see runArgs).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerdEnv, have, isRoot, runtimes, supportsCgroups } from './engines.js';

const enabled = isRoot && have('containerd') && have('ctr') && have('containerd-shim-runc-v2');

describe.runIf(enabled).each(runtimes())('containerd with $name', (runtime) => {
  let c: ContainerdEnv;
  let seq = 0;
  beforeAll(async () => { c = await ContainerdEnv.create(runtime); }, 60_000);
  afterAll(async () => { await c?.destroy(); });

  const id = (): string => `e2e-${runtime.name}-${process.pid}-${++seq}`;
  /**
   * What follows the flags of `ctr run`: with cgroup support, ctr's own
   * default config on our rootfs; without, a config that asks for none.
   */
  const runArgs = (name: string, args: string[]): string[] =>
    supportsCgroups(runtime)
      // Without an image there is no PATH (runc would not find sh; ocirun, like crun, assumes the usual one).
      ? ['--env', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', '--rootfs', c.rootfs, name, ...args]
      : ['--config', c.spec(args), name];

  it('ctr run: output and exit status come back through the shim', () => {
    const name = id();
    const r = c.ctr(['run', '--rm', ...c.runtimeFlags(), ...runArgs(name, ['sh', '-c', 'echo hello; echo err >&2; exit 3'])]);
    expect(r).toMatchObject({ status: 3, stdout: 'hello\n', stderr: 'err\n' });
    expect(c.ctr(['container', 'ls', '-q']).stdout).not.toContain(name);
  });

  it('ctr task exec, kill and delete on a detached task', async () => {
    const name = id();
    const script = 'trap "echo got-term; exit 0" TERM; while :; do sleep 0.1; done';
    expect(c.ctr(['run', '-d', ...c.runtimeFlags(), ...runArgs(name, ['sh', '-c', script])])).toMatchObject({ status: 0 });
    expect(c.ctr(['task', 'ls']).stdout).toMatch(new RegExp(`${name}\\s+\\d+\\s+RUNNING`));

    const fifo = ['--fifo-dir', c.runtimeFlags().at(-1)!];
    const e = c.ctr(['task', 'exec', ...fifo, '--exec-id', 'one', name, 'sh', '-c', 'echo in-exec; cat /proc/1/cmdline | tr "\\0" " "; exit 5']);
    expect(e.status).toBe(5);
    expect(e.stdout).toBe(`in-exec\nsh -c ${script} `);
    const missing = c.ctr(['task', 'exec', ...fifo, '--exec-id', 'two', name, 'no-such-command']);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/executable file not found/);

    expect(c.ctr(['task', 'kill', name]).status).toBe(0);  // SIGTERM, which the script honours
    let listed = '';
    for (let i = 0; i < 100 && !/STOPPED/.test(listed); i++) {
      await new Promise((r) => setTimeout(r, 50));
      listed = c.ctr(['task', 'ls']).stdout;
    }
    expect(listed).toMatch(new RegExp(`${name}\\s+\\d+\\s+STOPPED`));
    const del = c.ctr(['task', 'delete', name]);
    expect(del.status).toBe(0);
    expect(del.stderr).not.toMatch(/non-zero exit code/);  // exited 0 on SIGTERM
    expect(c.ctr(['container', 'delete', name]).status).toBe(0);
    expect(c.ctr(['container', 'ls', '-q']).stdout).not.toContain(name);
  });

  it('ctr task kill -s SIGKILL ends a task that ignores SIGTERM', async () => {
    const name = id();
    expect(c.ctr(['run', '-d', ...c.runtimeFlags(), ...runArgs(name, ['sh', '-c', 'trap "" TERM; while :; do sleep 0.1; done'])]).status).toBe(0);
    expect(c.ctr(['task', 'kill', '-s', 'SIGKILL', name]).status).toBe(0);
    let del = c.ctr(['task', 'delete', name]);
    for (let i = 0; i < 100 && del.status !== 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      del = c.ctr(['task', 'delete', name]);
    }
    expect(del.stderr).toMatch(/exit code 137/);
    expect(c.ctr(['container', 'delete', name]).status).toBe(0);
  });
}, 120_000);
