import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateSpec } from '../../src/config/validate.js';
import { formatProblem } from '../../src/errors.js';
import { features } from '../../src/features.js';
import { CAPABILITY_NAMES, HOOK_NAMES, MOUNT_OPTIONS, NAMESPACES, OCI_VERSION } from '../../src/oci/tables.js';

const base = (): any => ({
  ociVersion: '1.2.0',
  root: { path: 'rootfs' },
  process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 } },
  linux: { namespaces: [{ type: 'mount' }] },
});

const problemsFor = (mutate: (c: any) => void): string[] => {
  const c = base();
  mutate(c);
  return validateSpec(c).problems.map(formatProblem);
};

const withOption = (opt: string) => problemsFor((c) => {
  c.mounts = [{ destination: '/x', type: 'tmpfs', source: 'tmpfs', options: [opt] }];
});

describe('features', () => {
  const f = features();

  it('is the documented JSON document', () => {
    expect(JSON.parse(JSON.stringify(f))).toEqual(f);
    expect(f.ociVersionMin).toBe('1.0.0');
    expect(f.ociVersionMax).toBe(OCI_VERSION);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(f.annotations).toEqual({ 'org.opencontainers.ocirun.version': pkg.version });
  });

  it('accepts every advertised mount option', () => {
    expect(f.mountOptions!.length).toBeGreaterThan(30);
    for (const opt of f.mountOptions!) expect([opt, withOption(opt)]).toEqual([opt, []]);
  });

  it('refuses every recognised but unadvertised mount option as not supported yet', () => {
    const unlisted = Object.keys(MOUNT_OPTIONS).filter((o) => !f.mountOptions!.includes(o));
    expect(unlisted).toContain('idmap');
    expect(unlisted).toContain('rro');
    for (const opt of unlisted) {
      expect(withOption(opt)).toEqual([`mounts[0].options[0]: mount option ${JSON.stringify(opt)} not supported yet`]);
    }
  });

  it('advertises no hooks, and hooks are refused', () => {
    expect(f.hooks).toEqual([]);
    for (const h of HOOK_NAMES) {
      expect(problemsFor((c) => { c.hooks = { [h]: [{ path: '/bin/true' }] }; })).toEqual(['hooks: not supported yet']);
    }
  });

  it('advertises namespaces that can all be created', () => {
    expect([...f.linux!.namespaces!].sort()).toEqual(Object.keys(NAMESPACES).sort());
    const problems = problemsFor((c) => {
      c.linux.namespaces = f.linux!.namespaces!.map((type) => ({ type }));
      c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    });
    expect(problems).toEqual([]);
  });

  it('advertises every capability the validator knows', () => {
    expect(f.linux!.capabilities).toEqual(CAPABILITY_NAMES);
    expect(f.linux!.capabilities![0]).toBe('CAP_CHOWN');
    expect(f.linux!.capabilities![40]).toBe('CAP_CHECKPOINT_RESTORE');
  });

  it('reports disabled features that the validator refuses', () => {
    expect(f.linux!.cgroup).toEqual({ v1: false, v2: false, systemd: false, systemdUser: false, rdma: false });
    expect(f.linux!.seccomp).toEqual({ enabled: false });
    expect(f.linux!.apparmor).toEqual({ enabled: false });
    expect(f.linux!.selinux).toEqual({ enabled: false });
    expect(f.linux!.intelRdt).toEqual({ enabled: false });
    expect(f.linux!.mountExtensions).toEqual({ idmap: { enabled: false } });
    expect(f.linux!.netDevices).toEqual({ enabled: false });
    expect(problemsFor((c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW' }; })).toEqual(['linux.seccomp: not supported yet']);
    expect(problemsFor((c) => { c.process.apparmorProfile = 'x'; })).toEqual(['process.apparmorProfile: not supported yet']);
    expect(problemsFor((c) => { c.linux.intelRdt = { closID: 'x' }; })).toEqual(['linux.intelRdt: not supported yet']);
    // A map entry asks for something even when its value is empty.
    expect(problemsFor((c) => { c.linux.netDevices = { eth0: {} }; })).toEqual(['linux.netDevices: not supported yet']);
    expect(problemsFor((c) => { c.linux.netDevices = {}; })).toEqual([]);
  });
});
