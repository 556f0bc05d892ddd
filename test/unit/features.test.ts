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

const idmapping = [{ containerID: 0, hostID: 100000, size: 65536 }];
const withOption = (opt: string) => problemsFor((c) => {
  // Id-mapping is for bind mounts and needs a mapping; every other option fits a tmpfs.
  c.mounts = [opt === 'idmap' || opt === 'ridmap'
    ? { destination: '/x', type: 'bind', source: '/x', options: [opt], uidMappings: idmapping, gidMappings: idmapping }
    : { destination: '/x', type: 'tmpfs', source: 'tmpfs', options: [opt] }];
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

  it('advertises every recognised mount option, recursive attributes and extensions included', () => {
    expect(Object.keys(MOUNT_OPTIONS).filter((o) => !f.mountOptions!.includes(o))).toEqual([]);
    expect(f.mountOptions).toEqual(expect.arrayContaining(['rro', 'rnosuid', 'ratime', 'idmap', 'ridmap', 'tmpcopyup']));
  });

  it('advertises all six hooks, and accepts each', () => {
    expect(f.hooks).toEqual([...HOOK_NAMES]);
    for (const h of HOOK_NAMES) {
      expect(problemsFor((c) => { c.hooks = { [h]: [{ path: '/bin/true', timeout: 5 }] }; })).toEqual([]);
    }
    expect(problemsFor((c) => { c.hooks = { poststop: [{ path: 'true', timeout: 0 }] }; })).toEqual([
      'hooks.poststop[0].path: must be an absolute path',
      'hooks.poststop[0].timeout: must be an integer between 1 and 2147483647',
    ]);
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
    expect(f.linux!.cgroup).toEqual({ v1: true, v2: true, systemd: true, systemdUser: false, rdma: false });
    expect(f.linux!.selinux).toEqual({ enabled: true });
    expect(f.linux!.intelRdt).toEqual({ enabled: false });
    expect(f.linux!.mountExtensions).toEqual({ idmap: { enabled: true } });
    expect(f.linux!.netDevices).toEqual({ enabled: false });
    expect(problemsFor((c) => { c.linux.intelRdt = { closID: 'x' }; })).toEqual(['linux.intelRdt: not supported yet']);
    // A map entry asks for something even when its value is empty.
    expect(problemsFor((c) => { c.linux.netDevices = { eth0: {} }; })).toEqual(['linux.netDevices: not supported yet']);
    expect(problemsFor((c) => { c.linux.netDevices = {}; })).toEqual([]);
  });
});
