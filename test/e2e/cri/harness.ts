// A private containerd with its CRI plugin, driven through the CRI gRPC API
// as the kubelet drives it. One daemon per test file serves two runtime
// handlers, `ocirun` (this checkout's bin/ocirun) and `runc`, both through the
// runc v2 shim. Everything lives under one temp dir (socket, root, state, CNI
// config and IPAM state, logs, runtime state, netns mounts), and what cannot
// (the bridge, iptables rules, the shim's sockets in /run/containerd/s,
// cgroups) is recorded before and removed in destroy().
// CriEnv.create({ systemdCgroup: true }) (only where systemd is PID 1: the test
// VM's --systemd mode) sets SystemdCgroup = true and gives each pod a slice as
// its cgroup parent, as the kubelet's systemd driver does.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error plain JS module without types
import { buildBusyboxRootfs } from '../../../scripts/default-bundle.mjs';
import { OCIRUN, have, isRoot, killProcessesMentioning, removeCgroupTree, startContainerd, stopDaemon, unmountAll } from '../engines.js';
import { BUSYBOX_IMAGE, PAUSE_IMAGE, buildImages } from './images.js';

export { BUSYBOX_IMAGE, PAUSE_IMAGE };

const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
/** The handlers under test: ocirun always, runc as the reference when installed. */
export const HANDLERS = ['ocirun', ...(RUNC ? ['runc'] : [])];

export const criEnabled = isRoot && have('containerd') && have('ctr') && have('containerd-shim-runc-v2')
  && have('gcc') && existsSync('/usr/lib/cni/bridge');

const PROTO = fileURLToPath(new URL('./api.proto', import.meta.url));
const CGROUP_ROOT = '/sys/fs/cgroup';
// Under software emulation (the test VM) containerd takes ~10x longer to come up.
const SLOW = process.env.OCIRUN_TEST_VM ? 10 : 1;
const SHIM_SOCKETS = '/run/containerd/s';

// A plain object from proto-loader (keepCase: field names as in api.proto).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Msg = Record<string, any>;

type Unary = (req: Msg, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Msg) => void) => void;

function iptablesRules(table: string): string[] {
  const r = spawnSync('iptables', ['-w', '-t', table, '-S'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean) : [];
}

export class CriEnv {
  private daemon?: ChildProcess;
  private rt!: Record<string, Unary>;
  private img!: Record<string, Unary>;
  private clients: grpc.Client[] = [];
  private readonly iptablesBefore = new Map(['nat', 'filter'].map((t) => [t, new Set(iptablesRules(t))]));
  private readonly ipForwardBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
  private readonly shimSocketsExisted = existsSync(SHIM_SOCKETS);
  private readonly runContainerdExisted = existsSync('/run/containerd');
  /** Pods whose cgroups go under this top-level cgroup, in every hierarchy; removed in destroy(). */
  readonly cgroupParent = `/ocirun-cri-${process.pid}`;
  /** The CNI bridge, private to this env. */
  readonly bridge = `ocricri${process.pid % 100000}`;
  readonly subnet: string;
  /**
   * systemdCgroup: the top slice of this env's pods, in the kubelet's naming
   * (`<top>-burstable-pod<uid>.slice` under `<top>-burstable.slice` under
   * `<top>.slice`, as kubepods.slice); stopped in destroy().
   */
  readonly topSlice = `ocirunpods${process.pid}`;
  private seq = 0;

  private constructor(readonly dir: string, readonly systemdCgroup: boolean) {
    this.subnet = `10.${200 + (process.pid % 50)}.${process.pid % 250}.0/24`;
  }

  static async create(opts: { systemdCgroup?: boolean } = {}): Promise<CriEnv> {
    const systemdCgroup = !!opts.systemdCgroup;
    if (systemdCgroup && readFileSync('/proc/1/comm', 'utf8').trim() !== 'systemd') {
      throw new Error('CriEnv: SystemdCgroup = true needs systemd as PID 1 (node test/vm/run.mjs --systemd)');
    }
    // containerd's shim finds no stats and misses OOM kills, for every runtime
    // alike, while a v1 hierarchy that no mount shows still lists in
    // /proc/*/cgroup (what a test mounting one in a private namespace can leave).
    const orphans = await releaseUnmountedV1Hierarchies();
    if (orphans.length > 0) throw new Error(`host: cgroup v1 hierarchies ${orphans.join(' ')} exist but are not mounted, and still have cgroups`);
    const dir = mkdtempSync(join(tmpdir(), 'ocirun-e2e-cri-'));
    chmodSync(dir, 0o711);
    const env = new CriEnv(dir, systemdCgroup);
    try {
      await env.start();
    } catch (err) {
      await env.destroy();
      throw err;
    }
    return env;
  }

  private runtimeTable(name: string, binary: string): string[] {
    const t = `[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${name}]`;
    return [
      t, '  runtime_type = "io.containerd.runc.v2"',
      `${t.slice(0, -1)}.options]`,
      `  BinaryName = "${binary}"`, `  Root = "${this.dir}/runtime-state/${name}"`, `  SystemdCgroup = ${this.systemdCgroup}`,
    ];
  }

  private async start(): Promise<void> {
    const d = this.dir;
    mkdirSync(join(d, 'cni', 'net.d'), { recursive: true });
    mkdirSync(join(d, 'logs'));
    writeFileSync(join(d, 'cni', 'net.d', '10-ocirun-cri.conflist'), JSON.stringify({
      cniVersion: '1.0.0', name: 'ocirun-cri',
      plugins: [
        { type: 'bridge', bridge: this.bridge, isGateway: true, ipMasq: false, hairpinMode: true,
          ipam: { type: 'host-local', dataDir: join(d, 'cni', 'ipam'), ranges: [[{ subnet: this.subnet }]], routes: [{ dst: '0.0.0.0/0' }] } },
        { type: 'portmap', capabilities: { portMappings: true } },
        { type: 'loopback' },
      ],
    }));
    const cri = '[plugins."io.containerd.grpc.v1.cri"]';
    writeFileSync(join(d, 'config.toml'), [
      'version = 2',
      `root = "${d}/root"`, `state = "${d}/state"`,
      '[grpc]', `  address = "${d}/containerd.sock"`,
      '[ttrpc]', `  address = "${d}/containerd.sock.ttrpc"`,
      '[debug]', `  address = "${d}/debug.sock"`,
      '[plugins."io.containerd.internal.v1.opt"]', `  path = "${d}/opt"`,
      cri,
      `  sandbox_image = "${PAUSE_IMAGE}"`,
      '  stream_server_address = "127.0.0.1"', '  stream_server_port = "0"',
      '  disable_apparmor = true', '  enable_selinux = false',
      '  netns_mounts_under_state_dir = true',
      // Root here lacks CAP_SYS_RESOURCE: the sandbox's default -998 could not be set.
      '  restrict_oom_score_adj = true',
      `${cri.slice(0, -1)}.containerd]`, '  default_runtime_name = "runc"', '  snapshotter = "overlayfs"',
      ...this.runtimeTable('ocirun', OCIRUN),
      ...(RUNC ? this.runtimeTable('runc', RUNC) : []),
      `${cri.slice(0, -1)}.cni]`, '  bin_dir = "/usr/lib/cni"', `  conf_dir = "${d}/cni/net.d"`, '  max_conf_num = 1', '',
    ].join('\n'));

    const rootfs = join(d, 'busybox-rootfs');
    await buildBusyboxRootfs(rootfs);
    const tarballs = buildImages(d, rootfs);

    const log = join(d, 'containerd.log');
    this.daemon = await startContainerd(d, (args) => this.ctr(args), 30_000 * SLOW);
    const deadline = Date.now() + 30_000 * SLOW;
    for (const t of tarballs) {
      const r = this.ctr(['-n', 'k8s.io', 'images', 'import', '--platform', 'linux/amd64', t]);
      if (r.status !== 0) throw new Error(`ctr images import ${t}: ${r.stderr}`);
    }

    const pkg = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, arrays: true });
    const api = (grpc.loadPackageDefinition(pkg) as unknown as { runtime: { v1: Record<string, grpc.ServiceClientConstructor> } }).runtime.v1;
    const address = `unix://${d}/containerd.sock`;
    const runtime = new api.RuntimeService(address, grpc.credentials.createInsecure());
    const image = new api.ImageService(address, grpc.credentials.createInsecure());
    this.clients = [runtime, image];
    this.rt = runtime as unknown as Record<string, Unary>;
    this.img = image as unknown as Record<string, Unary>;
    // The CRI plugin comes up after the daemon answers and sees the imported images a little later.
    for (;;) {
      try {
        const st = await this.call('Status', {});
        const images = await this.image('ListImages', {});
        const tags = images.images.flatMap((i: Msg) => i.repo_tags);
        if (st.status.conditions.every((c: Msg) => c.status) && tags.includes(BUSYBOX_IMAGE) && tags.includes(PAUSE_IMAGE)) break;
      } catch { /* not serving yet */ }
      if (Date.now() > deadline) throw new Error(`the CRI plugin did not become ready: ${readFileSync(log, 'utf8').slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  ctr(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('ctr', ['--address', join(this.dir, 'containerd.sock'), ...args], { encoding: 'utf8', timeout: 60_000, input: '' });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** One RuntimeService call. */
  call(method: string, req: Msg, timeoutMs = 60_000): Promise<Msg> {
    return this.unary(this.rt, method, req, timeoutMs);
  }

  image(method: string, req: Msg): Promise<Msg> {
    return this.unary(this.img, method, req, 60_000);
  }

  private unary(client: Record<string, Unary>, method: string, req: Msg, timeoutMs: number): Promise<Msg> {
    return new Promise((resolve, reject) => {
      client[method]!.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(Object.assign(new Error(`${method}: ${err.details || err.message}`), { code: err.code }));
        else resolve(res);
      });
    });
  }

  /**
   * A pod sandbox config as the kubelet builds one: a cgroup parent per pod,
   * a path under cgroupfs, a slice under systemd (the uid's dashes escaped, as
   * the kubelet does, since a dash in a slice name nests it).
   */
  podConfig(name: string, edit?: (c: Msg) => void): Msg {
    const uid = `${process.pid}-${++this.seq}`;
    const logDir = join(this.dir, 'logs', `${name}-${uid}`);
    mkdirSync(logDir, { recursive: true });
    const c: Msg = {
      metadata: { name, uid, namespace: 'default', attempt: 0 },
      hostname: name,
      log_directory: logDir,
      labels: { app: name },
      linux: {
        cgroup_parent: this.systemdCgroup ? `${this.topSlice}-burstable-pod${uid.replace(/-/g, '_')}.slice` : `${this.cgroupParent}/pod${uid}`,
        security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } },
      },
    };
    edit?.(c);
    return c;
  }

  /** RunPodSandbox on a handler; returns the sandbox id and the config (CreateContainer wants it again). */
  async runPod(handler: string, name: string, edit?: (c: Msg) => void): Promise<{ id: string; config: Msg }> {
    const config = this.podConfig(name, edit);
    const r = await this.call('RunPodSandbox', { config, runtime_handler: handler });
    return { id: r.pod_sandbox_id, config };
  }

  /** CreateContainer + StartContainer of the test busybox in a pod. */
  async runContainer(pod: { id: string; config: Msg }, name: string, command: string[], edit?: (c: Msg) => void): Promise<string> {
    const config: Msg = {
      metadata: { name, attempt: 0 },
      image: { image: BUSYBOX_IMAGE },
      command,
      log_path: `${name}.log`,
      // The kubelet gives each container the pod's namespace modes.
      linux: { security_context: { namespace_options: pod.config.linux.security_context.namespace_options } },
    };
    edit?.(config);
    const { container_id: id } = await this.call('CreateContainer', { pod_sandbox_id: pod.id, config, sandbox_config: pod.config });
    await this.call('StartContainer', { container_id: id });
    return id;
  }

  /** ExecSync: stdout, stderr as text and the exit code. */
  async exec(id: string, cmd: string[], timeout = 20): Promise<{ stdout: string; stderr: string; exit_code: number }> {
    const r = await this.call('ExecSync', { container_id: id, cmd, timeout });
    return { stdout: Buffer.from(r.stdout).toString(), stderr: Buffer.from(r.stderr).toString(), exit_code: r.exit_code };
  }

  /** Polls ContainerStatus until test() holds (or throws with the last status). */
  async waitStatus(id: string, test: (s: Msg) => boolean, timeoutMs = 20_000): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { status } = await this.call('ContainerStatus', { container_id: id });
      if (test(status)) return status;
      if (Date.now() > deadline) throw new Error(`container ${id} status: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The lines of a container's CRI log file (`<time> <stream> <P|F> <text>`), as stream and text. */
  logLines(pod: { config: Msg }, name: string): { stream: string; text: string }[] {
    const file = join(pod.config.log_directory, `${name}.log`);
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
      const [, stream, , ...text] = l.split(' ');
      return { stream: stream!, text: text.join(' ') };
    });
  }

  /** StopPodSandbox + RemovePodSandbox, which take the pod's containers with them. */
  async removePod(id: string): Promise<void> {
    await this.call('StopPodSandbox', { pod_sandbox_id: id });
    await this.call('RemovePodSandbox', { pod_sandbox_id: id });
  }

  /** The cgroup dirs of this env still present, in every hierarchy (under systemd: below its top slice). */
  leftoverCgroups(): string[] {
    if (!existsSync(CGROUP_ROOT)) return [];
    const tops = this.systemdCgroup ? [join(CGROUP_ROOT, `${this.topSlice}.slice`)]
      : readdirSync(CGROUP_ROOT).map((h) => join(CGROUP_ROOT, h, this.cgroupParent));
    const out: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) { out.push(join(d, e.name)); walk(join(d, e.name)); }
    };
    for (const top of tops) if (existsSync(top)) { out.push(top); walk(top); }
    return out;
  }

  async destroy(): Promise<void> {
    try {
      const pods = this.rt ? (await this.call('ListPodSandbox', {})).items as Msg[] : [];
      for (const p of pods) await this.removePod(p.id).catch(() => undefined);
    } catch { /* the daemon is gone: the sweep below still runs */ }
    for (const c of this.clients) c.close();
    await stopDaemon(this.daemon);
    // Shims (and their containers) of a daemon that died mid-test outlive it.
    killProcessesMentioning(this.dir);
    unmountAll(this.dir);
    spawnSync('ip', ['link', 'del', this.bridge], { stdio: 'ignore' });
    for (const [table, before] of this.iptablesBefore) {
      // New rules first (deleted as they were added), then new chains.
      const added = iptablesRules(table).filter((l) => !before.has(l)).reverse();
      for (const l of added.filter((x) => x.startsWith('-A '))) spawnSync('iptables', ['-w', '-t', table, '-D', ...l.slice(3).split(' ')]);
      for (const l of added.filter((x) => x.startsWith('-N '))) {
        spawnSync('iptables', ['-w', '-t', table, '-F', l.slice(3)]);
        spawnSync('iptables', ['-w', '-t', table, '-X', l.slice(3)]);
      }
    }
    writeFileSync('/proc/sys/net/ipv4/ip_forward', this.ipForwardBefore);
    // Stopping the top slice stops every slice and scope below it.
    if (this.systemdCgroup) {
      spawnSync('systemctl', ['stop', `${this.topSlice}.slice`], { stdio: 'ignore', timeout: 60_000 });
      spawnSync('systemctl', ['reset-failed'], { stdio: 'ignore', timeout: 60_000 });
    }
    for (const h of existsSync(CGROUP_ROOT) ? readdirSync(CGROUP_ROOT) : []) {
      const top = join(CGROUP_ROOT, h, this.cgroupParent);
      if (existsSync(top)) removeCgroupTree(top);
    }
    if (!this.shimSocketsExisted) try { rmdirSync(SHIM_SOCKETS); } catch { /* not made, or not empty */ }
    if (!this.runContainerdExisted) try { rmdirSync('/run/containerd'); } catch { /* not made, or not empty */ }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A container's cgroup v1 file under the cgroupfs driver (`<pod cgroup_parent>/<id>`), as text. */
export function cgroupV1File(pod: { config: Msg }, id: string, controller: string, file: string): string {
  return readFileSync(join(CGROUP_ROOT, controller, pod.config.linux.cgroup_parent, id, file), 'utf8').trim();
}

/** v1 hierarchies processes are in (/proc/self/cgroup) that no mount shows: what a test mounting one privately leaves. */
function unmountedV1Hierarchies(): string[] {
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => / - cgroup /.test(l))
    .map((l) => l.split(' ').at(-1)!.split(','));
  return readFileSync('/proc/self/cgroup', 'utf8').split('\n').map((l) => l.split(':')[1]).filter((c): c is string => Boolean(c))
    .filter((c) => !mounted.some((opts) => c.split(',').every((x) => opts.includes(x))));
}

/**
 * The kernel frees an unmounted v1 hierarchy at its last umount if it has no
 * cgroups left; one that still had (dying) cgroups then lingers. Mounting and
 * unmounting it in a private mount namespace lets the kernel free it now; a
 * hierarchy that still has cgroups stays, and is returned.
 */
async function releaseUnmountedV1Hierarchies(): Promise<string[]> {
  for (const controllers of unmountedV1Hierarchies()) {
    const dir = mkdtempSync(join(tmpdir(), 'ocirun-cri-cgv1-'));
    spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t cgroup -o "$1" none "$2" && umount "$2"', 'sh', controllers, dir]);
    rmdirSync(dir);
  }
  // The kernel frees the hierarchy after an RCU grace period, not at once.
  for (let i = 0; i < 50 && unmountedV1Hierarchies().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  return unmountedV1Hierarchies();
}
