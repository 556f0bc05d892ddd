// podman (through conmon) driving the runtime with runc's command-line
// contract, for everyday use. Every test runs against ocirun and against
// runc: one that runc passes and ocirun fails is an ocirun bug.
//
// Cgroups: a runtime whose `features` reports no cgroup support gets podman's
// cgroups = "disabled" (see podman/containers.conf.in). The tests that only
// cgroups can pass (limits, OOM, pause, top) are skipped for it, each saying
// so; they run as soon as the runtime reports cgroup support.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultSpec } from '../../src/config/default-spec.js';
import { PodmanEnv, have, isRoot, runtimes } from './engines.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

const enabled = isRoot && have('podman') && have('conmon');

describe.runIf(enabled).each(runtimes())('podman with $name', (runtime) => {
  let p: PodmanEnv;
  beforeAll(async () => { p = await PodmanEnv.create(runtime); }, 120_000);
  afterAll(() => p?.destroy());
  const needsCgroups = (): boolean => !p.cgroups;
  const run = (...args: string[]) => p.podman(['run', '--rm', p.image, ...args]);

  it('run --rm passes output through and returns the exit code', () => {
    expect(run('sh', '-c', 'echo out; echo err >&2; exit 3')).toMatchObject({ status: 3, stdout: 'out\n', stderr: 'err\n' });
    expect(run('true').status).toBe(0);
    // A signal-killed process (not the container's pid 1, which SIGKILL from inside cannot end).
    expect(run('sh', '-c', 'sh -c "kill -KILL \\$\\$"; echo "child=$?"')).toMatchObject({ status: 0, stdout: 'child=137\n' });
    // podman's own code for a command the runtime could not find.
    expect(run('no-such-command').status).toBe(127);
  });

  it('applies -e, -w, --user and --hostname', () => {
    const r = p.podman(['run', '--rm', '-e', 'FOO=bar', '-w', '/tmp', '--user', '1000:1000', '--hostname', 'e2e-host', p.image,
      'sh', '-c', 'echo "$FOO"; pwd; id -u; id -g; hostname']);
    expect(r).toMatchObject({ status: 0, stdout: 'bar\n/tmp\n1000\n1000\ne2e-host\n' });
  });

  it('run -d, logs, stop (SIGTERM honoured), kill, wait, rm', () => {
    const script = 'trap "echo got-term; exit 0" TERM; echo started; while :; do sleep 0.1; done';
    const id = p.podman(['run', '-d', p.image, 'sh', '-c', script]).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    for (let i = 0; i < 100 && !p.podman(['logs', id]).stdout.includes('started'); i++) spinWait(50);
    expect(p.podman(['stop', '--time', '20', id]).status).toBe(0);
    expect(p.podman(['logs', id]).stdout).toBe('started\ngot-term\n');
    expect(p.podman(['inspect', '--format', '{{.State.ExitCode}}', id]).stdout.trim()).toBe('0');
    expect(p.podman(['rm', id]).status).toBe(0);

    const k = p.podman(['run', '-d', p.image, 'sleep', '100']).stdout.trim();
    expect(p.podman(['kill', k]).status).toBe(0);
    expect(p.podman(['wait', k]).stdout.trim()).toBe('137');
    expect(p.podman(['rm', k]).status).toBe(0);
    expect(p.podman(['ps', '-a', '-q']).stdout).toBe('');
  });

  it('exec: plain, under a pty with -t, and detached', () => {
    const id = p.podman(['run', '-d', p.image, 'sleep', '100']).stdout.trim();
    try {
      expect(p.podman(['exec', id, 'sh', '-c', 'echo in-exec; exit 6'])).toMatchObject({ status: 6, stdout: 'in-exec\n' });
      expect(p.podman(['exec', '-e', 'X=y', '-w', '/etc', '-u', '42', id, 'sh', '-c', 'echo "$X $(pwd) $(id -u)"']).stdout).toBe('y /etc 42\n');
      expect(p.podman(['exec', id, 'no-such-command']).status).toBe(127);
      const t = p.podmanInPty(['exec', '-t', id, 'sh', '-c', 'tty; stty size; exit 4'], { rows: 20, cols: 90 });
      expect(t.exit).toBe(4);
      expect(t.output).toMatch(/\/dev\/pts\/\d+\r\n20 90\r\n/);
      expect(t.restored).toBe(true);
      expect(p.podman(['exec', '-d', id, 'sh', '-c', 'echo detached > /tmp/d']).status).toBe(0);
      let got = '';
      for (let i = 0; i < 100 && got !== 'detached\n'; i++, spinWait(20)) got = p.podman(['exec', id, 'cat', '/tmp/d']).stdout;
      expect(got).toBe('detached\n');
    } finally {
      p.podman(['rm', '-f', '-t', '0', id]);
    }
  });

  it('run -t gives the container a terminal', () => {
    const r = p.podmanInPty(['run', '--rm', '-i', '-t', p.image, 'sh', '-c', 'tty; test -t 0 && test -t 1 && echo both-tty; read x; echo "got=$x"'],
      { after: 'both-tty', send: 'typed\n' });
    expect(r.exit).toBe(0);
    expect(r.output).toMatch(/\/dev\/pts\/0\r\nboth-tty\r\n/);
    expect(r.output).toContain('got=typed\r\n');
  });

  it('--read-only, -v bind rw and ro, --tmpfs', () => {
    const vol = join(p.dir, 'vol');
    mkdirSync(vol, { recursive: true });
    writeFileSync(join(vol, 'f'), 'hostdata\n');
    const r = p.podman(['run', '--rm', '--read-only', '-v', `${vol}:/rw`, '-v', `${vol}:/ro:ro`, '--tmpfs', '/scratch', p.image, 'sh', '-c',
      'cat /ro/f; touch /rootfile 2>/dev/null || echo root-ro; touch /ro/x 2>/dev/null || echo bind-ro; '
      + 'echo written > /rw/new && echo bind-rw; echo t > /scratch/t && echo tmpfs-rw; grep " /scratch " /proc/mounts | cut -d" " -f3']);
    expect(r).toMatchObject({ status: 0, stdout: 'hostdata\nroot-ro\nbind-ro\nbind-rw\ntmpfs-rw\ntmpfs\n' });
    expect(readFileSync(join(vol, 'new'), 'utf8')).toBe('written\n');
  });

  it('--cap-drop ALL, --cap-add, and no-new-privileges', () => {
    expect(run('grep', '^CapEff', '/proc/self/status').stdout).not.toBe('CapEff:\t0000000000000000\n');
    expect(p.podman(['run', '--rm', '--cap-drop', 'ALL', p.image, 'grep', '^Cap[EPB]', '/proc/self/status']).stdout)
      .toBe('CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n');
    expect(p.podman(['run', '--rm', '--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN', p.image, 'grep', '^CapEff', '/proc/self/status']).stdout)
      .toBe('CapEff:\t0000000000001000\n');
    expect(p.podman(['run', '--rm', '--security-opt', 'no-new-privileges', p.image, 'grep', '^NoNewPrivs', '/proc/self/status']).stdout)
      .toBe('NoNewPrivs:\t1\n');
  });

  it('--init runs the command under podman\'s init', () => {
    const r = p.podman(['run', '--rm', '--init', p.image, 'sh', '-c', 'tr "\\0" " " < /proc/1/cmdline; echo; echo $$']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\/run\/podman-init -- sh -c /);
    expect(r.stdout.trim().split('\n').at(-1)).not.toBe('1');
  });

  it('starts a stopped container again', () => {
    const name = `restart-${process.pid}-${runtime.name}`;
    expect(p.podman(['run', '--name', name, p.image, 'sh', '-c', 'echo run; exit 5']).status).toBe(5);
    expect(p.podman(['start', '--attach', name])).toMatchObject({ status: 5, stdout: 'run\n' });
    expect(p.podman(['logs', name]).stdout).toBe('run\nrun\n');
    expect(p.podman(['rm', name]).status).toBe(0);
  });

  it('a pod whose containers share ipc, net and uts namespaces', () => {
    const pod = `pod-${process.pid}-${runtime.name}`;
    expect(p.podman(['pod', 'create', '--name', pod]).status).toBe(0);
    try {
      const a = p.podman(['run', '-d', '--pod', pod, p.image, 'sh', '-c', 'echo shared > /dev/shm/x; sleep 100']).stdout.trim();
      let shm = '';
      for (let i = 0; i < 100 && shm !== 'shared\n'; i++, spinWait(20)) shm = p.podman(['exec', a, 'cat', '/dev/shm/x']).stdout;
      const ns = 'for n in ipc net uts pid; do readlink /proc/self/ns/$n; done';
      const mine = p.podman(['exec', a, 'sh', '-c', ns]).stdout.split('\n');
      const r = p.podman(['run', '--rm', '--pod', pod, p.image, 'sh', '-c', `cat /dev/shm/x; hostname; ${ns}`]);
      expect(r.status).toBe(0);
      const [x, host, ipc, net, uts, pid] = r.stdout.split('\n');
      expect([x, host]).toEqual(['shared', pod]);
      expect([ipc, net, uts]).toEqual(mine.slice(0, 3));
      expect(pid).not.toBe(mine[3]);  // each container has its own pid namespace
    } finally {
      p.podman(['pod', 'rm', '-f', '-t', '0', pod]);
    }
  });

  it('1 MB of stdout arrives intact, attached and through the log', () => {
    const script = 'i=0; while [ $i -lt 16384 ]; do printf "%063d\\n" $i; i=$((i+1)); done';
    const expected = Array.from({ length: 16384 }, (_, i) => `${String(i).padStart(63, '0')}\n`).join('');
    const name = `big-${process.pid}-${runtime.name}`;
    const r = p.podman(['run', '--name', name, p.image, 'sh', '-c', script]);
    expect(r.status).toBe(0);
    expect(r.stdout.length).toBe(1 << 20);
    expect(r.stdout === expected).toBe(true);
    expect(p.podman(['logs', name]).stdout === expected).toBe(true);
    p.podman(['rm', name]);
  });

  it('--preserve-fds hands an extra descriptor to the container', () => {
    const fd = openSync('/etc/hostname', 'r');
    try {
      const r = p.podman(['run', '--rm', '--preserve-fds', '1', p.image, 'sh', '-c', 'readlink /proc/self/fd/3 >/dev/null && cat <&3'],
        { fds: [fd] });
      expect(r.status).toBe(0);
      // What the container read from fd 3 is the host file we passed, not just anything.
      expect(r.stdout).toBe(readFileSync('/etc/hostname', 'utf8'));
    } finally {
      closeSync(fd);
    }
  });

  // -- privileged: engines list every host device (/dev/ptmx among them) and every capability --

  it('--privileged: run, exec, the host\'s devices, mounting inside', () => {
    expect(p.podman(['run', '--rm', '--privileged', p.image, 'true'])).toMatchObject({ status: 0, stderr: '' });
    const id = p.podman(['run', '-d', '--privileged', p.image, 'sleep', '100']).stdout.trim();
    try {
      expect(p.podman(['exec', id, 'sh', '-c', 'echo in-exec'])).toMatchObject({ status: 0, stdout: 'in-exec\n' });
      // The container's own devpts, not a copy of the host's ptmx node.
      expect(p.podman(['exec', id, 'readlink', '/dev/ptmx']).stdout).toBe('pts/ptmx\n');
      expect(p.podman(['exec', id, 'sh', '-c', 'echo x > /dev/null && head -c 4 /dev/zero | wc -c']).stdout.trim()).toBe('4');
      const devices = ['/dev/loop-control', ...(existsSync('/dev/fuse') ? ['/dev/fuse'] : [])];
      for (const dev of devices) {
        expect(p.podman(['exec', id, 'sh', '-c', `test -c ${dev} && exec 3<>${dev} && echo opened`]).stdout, dev).toBe('opened\n');
      }
      const mount = p.podman(['exec', id, 'sh', '-c', 'mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo hi > /mnt/t/f && cat /mnt/t/f && umount /mnt/t']);
      expect(mount).toMatchObject({ status: 0, stdout: 'hi\n' });
    } finally {
      p.podman(['rm', '-f', '-t', '0', id]);
    }
  });

  it('--privileged: ocirun runs a container inside the privileged container', () => {
    // The host's node and this ocirun tree, read-only, and a bundle whose rootfs is the image's source tree.
    const bundle = join(p.dir, `nested-${runtime.name}`);
    mkdirSync(bundle, { recursive: true });
    const spec = defaultSpec();
    spec.root = { path: '/nested-rootfs', readonly: true };
    spec.process!.args = ['sh', '-c', 'echo "nested $(cat /proc/self/cgroup >/dev/null && hostname)"'];
    spec.hostname = 'nested';
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    const r = p.podman(['run', '--rm', '--privileged',
      '-v', '/usr:/usr:ro', '-v', '/lib:/lib:ro', '-v', '/lib64:/lib64:ro', '-v', `${REPO}:${REPO}:ro`,
      '-v', `${join(p.dir, 'rootfs')}:/nested-rootfs:ro`, '-v', `${bundle}:/bundle:ro`, '--tmpfs', '/run',
      p.image, '/usr/bin/node', join(REPO, 'bin', 'ocirun'), '--root', '/run/nested', 'run', '--bundle', '/bundle', 'inner']);
    expect(r, r.stderr).toMatchObject({ status: 0, stdout: 'nested nested\n' });
  });

  // -- cgroups: skipped while the runtime reports no cgroup support (ocirun: cgroups are another issue) --

  it('--memory: the limit is set and an allocation past it is OOM-killed', (ctx) => {
    if (needsCgroups()) ctx.skip();  // needs the memory controller (cgroup support)
    const limit = 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max';
    expect(p.podman(['run', '--rm', '--memory', '32m', p.image, 'sh', '-c', limit]).stdout).toBe(`${32 << 20}\n`);
    // tail keeps the endless line in memory. (State.OOMKilled is conmon's to
    // report; conmon 2.1.6 does not on this hybrid host, with runc either.)
    const r = p.podman(['run', '--rm', '--memory', '32m', '--memory-swap', '32m', p.image, 'tail', '/dev/zero']);
    expect(r.status).toBe(137);
  });

  it('--pids-limit stops a fork bomb', (ctx) => {
    if (needsCgroups()) ctx.skip();  // needs the pids controller (cgroup support)
    const r = p.podman(['run', '--rm', '--pids-limit', '8', p.image, 'sh', '-c', 'for i in $(seq 20); do sleep 5 & done; wait']);
    expect(r.stderr).toMatch(/can't fork|Resource temporarily unavailable/);
  });

  it('--cpus sets the CFS quota', (ctx) => {
    if (needsCgroups()) ctx.skip();  // needs the cpu controller (cgroup support)
    const r = run('sh', '-c', 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d" " -f1 /sys/fs/cgroup/cpu.max');
    expect(r.stdout.trim()).toMatch(/^(-1|max)$/);
    expect(p.podman(['run', '--rm', '--cpus', '0.5', p.image, 'sh', '-c',
      'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d" " -f1 /sys/fs/cgroup/cpu.max']).stdout.trim()).toBe('50000');
  });

  it('pause, unpause and top', (ctx) => {
    if (needsCgroups()) ctx.skip();  // pause needs the freezer, top the container's cgroup (cgroup support)
    const id = p.podman(['run', '-d', p.image, 'sleep', '100']).stdout.trim();
    try {
      expect(p.podman(['top', id]).stdout).toMatch(/sleep 100/);
      expect(p.podman(['pause', id]).status).toBe(0);
      expect(p.podman(['inspect', '--format', '{{.State.Status}}', id]).stdout.trim()).toBe('paused');
      expect(p.podman(['unpause', id]).status).toBe(0);
      expect(p.podman(['inspect', '--format', '{{.State.Status}}', id]).stdout.trim()).toBe('running');
    } finally {
      p.podman(['rm', '-f', '-t', '0', id]);
    }
  });
}, 300_000);

function spinWait(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
