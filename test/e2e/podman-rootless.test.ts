// Rootless podman (as an unprivileged user this file creates and removes)
// with ocirun and with runc as its --runtime: conmon runs the runtime inside
// podman's user namespace, as uid 0 there. Storage, runroot and config live
// in the user's temp home; no network (--network none), no cgroups (this
// hybrid host gives users no delegation, so podman runs without them).
// ocirun is its native front end, served by a daemon in podman's user
// namespace under the user's state root ($XDG_RUNTIME_DIR/ocirun).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxTarball, have, isRoot } from './engines.js';
import { RootlessUser, type Result } from '../support/rootless-user.js';
import { daemonPids, ENGINE_DIR, stopDaemons } from '../support/engine.js';

const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
const enabled = isRoot && have('podman') && have('conmon') && Boolean(RUNC) && existsSync('/usr/bin/newuidmap');

describe.runIf(enabled)('rootless podman', () => {
  let u: RootlessUser;
  const image = 'localhost/ocirun-rootless-busybox:latest';
  let runtimes: Array<{ name: string; path: string }>;

  beforeAll(async () => {
    u = RootlessUser.create();
    const dir = u.dir('podman');
    writeFileSync(join(dir, 'storage.conf'), `[storage]\ndriver = "overlay"\ngraphroot = "${dir}/storage"\nrunroot = "${u.xdg}/containers"\n`);
    writeFileSync(join(dir, 'containers.conf'), [
      '[containers]', 'netns = "none"', 'log_driver = "k8s-file"',
      '[engine]', 'events_logger = "file"', 'pull_policy = "never"',
      'runtime_supports_json = ["crun", "runc", "ocirun"]', 'runtime_supports_nocgroup = ["crun", "krun", "ocirun"]', '',
    ].join('\n'));
    writeFileSync(join(dir, 'registries.conf'), 'unqualified-search-registries = []\n');
    const { tarball } = await busyboxTarball(u.dir('image'));
    runtimes = [{ name: 'ocirun', path: u.ocirun }, { name: 'runc', path: RUNC! }];
    const imported = podman(['import', tarball, image]);
    if (imported.status !== 0) throw new Error(`podman import: ${imported.stderr}`);
  }, 120_000);

  afterAll(() => {
    if (!u) return;
    podman(['rm', '--all', '--force', '--time', '0']);
    podman(['system', 'reset', '--force']);
    stopDaemons(join(u.xdg, 'ocirun'));
    // podman's pause process (holding its user namespace) and any conmon go with the user.
    u.destroy();
  });

  function podman(args: string[], runtime?: string): Result {
    const dir = join(u.home, 'podman');
    return u.run('podman', [...(runtime ? ['--runtime', runtime] : []), ...args], {
      cwd: dir, timeout: 90_000,
      env: {
        CONTAINERS_CONF: join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
        CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'),
      },
    });
  }

  /** The same podman commands with each runtime; the transcripts must agree. */
  function transcript(rt: string): unknown[] {
    const p = (args: string[]): Result => podman(args, rt);
    const out: unknown[] = [];
    const r = p(['run', '--rm', image, 'sh', '-c', 'id -u; cat /proc/self/uid_map | wc -l; echo err >&2; exit 3']);
    out.push(r.status, r.stdout, r.stderr);
    out.push(p(['run', '--rm', '--userns=keep-id', image, 'sh', '-c', 'id -u; id -g']).stdout);
    const vol = u.dir(`vol-${out.length}-${Math.random().toString(36).slice(2)}`);
    writeFileSync(join(vol, 'in'), 'from-host\n');
    const v = p(['run', '--rm', '-v', `${vol}:/v`, image, 'sh', '-c', 'cat /v/in; echo from-container > /v/out']);
    out.push(v.status, v.stdout, readFileSync(join(vol, 'out'), 'utf8'));
    const id = p(['run', '-d', image, 'sh', '-c', 'trap "echo got-term; exit 0" TERM; echo started; while :; do sleep 0.1; done']).stdout.trim();
    out.push(/^[0-9a-f]{64}$/.test(id));
    for (let i = 0; i < 100 && !p(['logs', id]).stdout.includes('started'); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    const e = p(['exec', id, 'sh', '-c', 'echo in-exec; exit 4']);
    out.push(e.status, e.stdout);
    out.push(p(['ps', '--format', '{{.ID}}', '--no-trunc']).stdout.trim() === id);
    out.push(p(['stop', '--time', '20', id]).status, p(['logs', id]).stdout);
    out.push(p(['inspect', '--format', '{{.State.ExitCode}}', id]).stdout.trim());
    out.push(p(['rm', id]).status, p(['ps', '-a', '-q']).stdout);
    return out;
  }

  it('run, --userns=keep-id, a volume, run -d, exec, logs, ps, stop, rm: as with runc', () => {
    const [o, r] = runtimes.map((rt) => transcript(rt.path));
    // ocirun's calls went to one daemon of the user's (uid 0 of podman's namespace), none fell back to Node.
    const [pid, ...more] = daemonPids(join(u.xdg, 'ocirun'));
    expect([pid > 0, more]).toEqual([true, []]);
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\t${u.uid}\\t`, 'm'));
    expect(readFileSync(join(u.xdg, 'ocirun', ENGINE_DIR, 'daemon.log'), 'utf8')).not.toMatch(/refused|bad request|failed/);
    expect(o).toEqual(r);
    expect(o).toEqual([
      3, '0\n2\n', 'err\n',
      `${u.uid}\n${u.gid}\n`,
      0, 'from-host\n', 'from-container\n',
      true, 4, 'in-exec\n', true, 0, 'started\ngot-term\n', '0', 0, '',
    ]);
  }, 240_000);
});
