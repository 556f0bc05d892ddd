// Config fields ocirun used to refuse although runc or crun run them:
// SELinux labels on a host without SELinux, linux.resources.network (v1
// net_cls/net_prio), joining a mount namespace by path, and no mount
// namespace at all. Each scenario runs against ocirun and runc alike where
// runc supports it, and leaves no state dir, process, mount or cgroup behind.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isRoot, type Harness } from './harness.js';
import { harnessWithRunc, inPrivateMountNs, rebuildV1Layout, runtimeCommand, type RuntimeName } from '../support/private-ns.js';
import { hostLayout } from '../../src/cgroups/layout.js';
import { selinuxEnabled } from '../../src/process/host-checks.js';

const RUNTIMES: RuntimeName[] = ['ocirun', 'runc'];
const { h: harness, runc } = harnessWithRunc({ cgroups: true });
let h: Harness;
beforeAll(() => {
  h = harness();
});

const rootOf = (rt: RuntimeName): string => (rt === 'ocirun' ? h.root : runc.dir);

describe.runIf(isRoot)('SELinux labels on a host without SELinux', () => {
  it.runIf(!selinuxEnabled())('accepts process.selinuxLabel and linux.mountLabel and ignores them (runc 1.1.5 refuses the process label)', () => {
    const label = 'system_u:system_r:container_t:s0:c1,c2';
    const b = h.bundle((s) => {
      s.process!.selinuxLabel = label;
      s.linux!.mountLabel = 'system_u:object_r:container_file_t:s0:c1,c2';
      s.process!.args = ['sh', '-c', 'grep -c "context=" /proc/self/mountinfo || true'];
    });
    const r = h.run(['run', '--bundle', b, h.id()]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('0');

    const id = h.id();
    const idle = h.bundle((s) => {
      s.process!.selinuxLabel = label;
      s.process!.args = ['sleep', '30'];
    });
    expect(h.run(['run', '-d', '--bundle', idle, id]).status).toBe(0);
    const e = h.run(['exec', '--process-label', label, id, 'true']);
    expect(e.stderr).toBe('');
    expect(e.status).toBe(0);
    expect(h.run(['delete', '-f', id]).status).toBe(0);

    const byRunc = spawnSync('runc', ['--root', runc.dir, 'run', '--bundle', b, h.id()], { encoding: 'utf8' });
    expect(byRunc.status).not.toBe(0);
    expect(byRunc.stderr).toContain('selinux label is specified in config, but selinux is disabled');
  });
});

const v1Host = hostLayout().mode !== 'unified';
const NET_CLS = '/sys/fs/cgroup/net_cls,net_prio';

describe.runIf(isRoot && v1Host)('linux.resources.network (v1 net_cls and net_prio)', () => {
  const network = { classID: 0x100001, priorities: [{ name: 'lo', priority: 5 }] };

  it.each(RUNTIMES)('%s: writes classid and ifpriomap where the hierarchies are mounted, and removes the cgroups on delete', (rt) => {
    const id = h.id('net');
    const cg = `/${id}`;
    const b = h.bundle((s) => {
      s.linux!.cgroupsPath = cg;
      s.linux!.resources = { network };
      s.process!.args = ['sleep', '30'];
    });
    const RT = runtimeCommand(rt, rootOf(rt));
    const r = inPrivateMountNs(`
${rebuildV1Layout(['net_cls,net_prio'])}
${RT} create --bundle '${b}' '${id}' </dev/null >/dev/null
${RT} start '${id}'
pid=$(${RT} state '${id}' | tr -d ' \\n' | grep -o '"pid":[0-9]*' | cut -d: -f2)
d='${NET_CLS}${cg}'
echo classid=$(cat "$d/net_cls.classid")
echo prio_lo=$(grep '^lo ' "$d/net_prio.ifpriomap" | cut -d' ' -f2)
echo member=$(grep 'net_cls' /proc/$pid/cgroup | cut -d: -f3)
${RT} delete -f '${id}'
echo left=$(test -e "$d" && echo yes || echo no)
`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.values).toEqual({ classid: String(0x100001), prio_lo: '5', member: cg, left: 'no' });
  });

  it('ocirun: names the priority an unknown interface gets, leaving nothing', () => {
    const id = h.id('net');
    const b = h.bundle((s) => {
      s.linux!.cgroupsPath = `/${id}`;
      s.linux!.resources = { network: { priorities: [{ name: 'lo', priority: 1 }, { name: 'nosuchif0', priority: 2 }] } };
    });
    const r = inPrivateMountNs(`
${rebuildV1Layout(['net_cls,net_prio'])}
${runtimeCommand('ocirun', h.root)} create --bundle '${b}' '${id}' </dev/null >/dev/null || echo status=$?
echo left=$(test -e '${NET_CLS}/${id}' && echo yes || echo no)
`);
    expect(r.stderr).toBe(`ocirun: linux.resources.network.priorities[1]: cannot write "nosuchif0 2" to ${NET_CLS}/${id}/net_prio.ifpriomap: ENODEV\n`);
    expect(r.values).toEqual({ status: '1', left: 'no' });
  });

  it('refuses at create, in one line naming the field, where net_cls is not mounted (as runc fails, but at its start)', () => {
    const id = h.id('net');
    const b = h.bundle((s) => {
      s.linux!.resources = { network };
    });
    const r = h.run(['create', '--bundle', b, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('ocirun: linux.resources.network.classID: the net_cls cgroup controller is not mounted on this host\n');
    expect(h.stateDirs()).toEqual([]);
  });
});

describe.runIf(isRoot)('mount namespaces', () => {
  it.each(RUNTIMES)('%s: joins a mount namespace by path (create, exec see its mounts; the host does not)', async (rt) => {
    const rootfs = await h.privateRootfs();
    const nsDir = mkdtempSync(join(h.work, 'mntns-'));
    const nsFile = join(nsDir, 'mnt');
    const id = h.id('join');
    const b = h.bundle((s) => {
      s.root = { path: rootfs, readonly: false };
      s.linux!.namespaces = s.linux!.namespaces!.map((ns) => (ns.type === 'mount' ? { type: 'mount', path: nsFile } : ns));
      s.process!.args = ['sh', '-c', 'cat /mnt/marker; sleep 30'];
    });
    const RT = runtimeCommand(rt, rootOf(rt));
    // A mount namespace kept alive by a bind of its nsfs file, with a tmpfs only it has.
    const r = spawnSync('bash', ['-euc', `
mkdir -p '${rootfs}/mnt'
mount --bind '${nsDir}' '${nsDir}' && mount --make-private '${nsDir}'
touch '${nsFile}'
trap "umount '${nsFile}' 2>/dev/null; umount '${nsDir}'" EXIT
unshare --mount='${nsFile}' --propagation private sh -c "mount -t tmpfs -o size=1m tmpfs '${rootfs}/mnt' && echo only-in-ns > '${rootfs}/mnt/marker'"
${RT} run -d --bundle '${b}' '${id}' </dev/null >/dev/null
echo host_sees=$(test -e '${rootfs}/mnt/marker' && echo yes || echo no)
echo exec=$(${RT} exec '${id}' cat /mnt/marker)
${RT} delete -f '${id}'
`], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('host_sees=no');
    expect(r.stdout).toContain('exec=only-in-ns');
  });

  it.each(RUNTIMES)('%s: runs without a mount namespace (chroot); its mounts land in the caller\'s namespace', async (rt) => {
    const rootfs = await h.privateRootfs();
    const id = h.id('nomnt');
    const b = h.bundle((s) => {
      s.root = { path: rootfs, readonly: true };
      s.linux!.namespaces = s.linux!.namespaces!.filter((ns) => ns.type !== 'mount');
      s.linux!.maskedPaths = [];
      s.linux!.readonlyPaths = [];
      s.process!.args = ['sleep', '30'];
    });
    const RT = runtimeCommand(rt, rootOf(rt));
    // In a private namespace of our own: it is "the caller's" here, and runc leaves its mounts in it.
    const r = inPrivateMountNs(`
under() { grep -c " ${rootfs}[/ ]" /proc/self/mountinfo || true; }
echo before=$(under)
${RT} run -d --bundle '${b}' '${id}' </dev/null >/dev/null
echo during=$(under)
echo proc=$(grep -c " ${rootfs}/proc " /proc/self/mountinfo || true)
echo where=$(${RT} exec '${id}' sh -c 'test -d /work && echo host || echo container')
echo ro=$(grep " ${rootfs} " /proc/self/mountinfo | grep -c ' ro,' || true)
${RT} delete -f '${id}'
echo after=$(under)
`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.values.before).toBe('0');
    expect(Number(r.values.during)).toBeGreaterThan(1);
    expect(r.values.proc).toBe('1');
    // runc's exec runs the command in the caller's root, outside the container's chroot; ocirun's chroots too.
    expect(r.values.where).toBe(rt === 'ocirun' ? 'container' : 'host');
    // root.readonly: ocirun's rootfs bind is read-only, seen from the caller's namespace (runc leaves it writable).
    expect(r.values.ro).toBe(rt === 'ocirun' ? '1' : '0');
    // Better than runc, which leaves every mount behind in the caller's namespace.
    if (rt === 'ocirun') expect(r.values.after).toBe('0');
    else expect(Number(r.values.after)).toBeGreaterThan(0);
  });

  it('refuses masked or read-only paths without a mount namespace, leaving nothing', () => {
    const b = h.bundle((s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((ns) => ns.type !== 'mount');
    });
    const r = h.run(['create', '--bundle', b, h.id('nomnt')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('ocirun: linux.maskedPaths: unable to restrict sys entries without a private mount namespace (and 1 more problem)\n');
    expect(h.stateDirs()).toEqual([]);
  });
});
