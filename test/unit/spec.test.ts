import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultSpec } from '../../src/config/default-spec.js';
import { validateSpec } from '../../src/config/validate.js';
import { OCI_VERSION } from '../../src/oci/tables.js';

function hasRunc(): boolean {
  try { execFileSync('runc', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

function runcSpec(rootless: boolean): any {
  const dir = mkdtempSync(join(tmpdir(), 'ocirun-runc-spec-'));
  try {
    execFileSync('runc', ['spec', ...(rootless ? ['--rootless'] : [])], { cwd: dir, stdio: 'ignore' });
    return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('defaultSpec', () => {
  it.each([false, true])('validates cleanly (rootless: %s)', (rootless) => {
    const res = validateSpec(JSON.parse(JSON.stringify(defaultSpec({ rootless }))), { requireProcess: true });
    expect(res.problems).toEqual([]);
    expect(res.warnings).toEqual([]);
  });

  it('has the documented basics', () => {
    const s = defaultSpec();
    expect(s.ociVersion).toBe(OCI_VERSION);
    expect(s.process).toMatchObject({ terminal: false, args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 }, noNewPrivileges: true });
    expect(s.process?.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm']);
    expect(s.process?.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
    expect(s.root).toEqual({ path: 'rootfs', readonly: true });
    expect(s.hostname).toBe('ocirun');
    expect(s.linux?.namespaces?.map((n) => n.type)).toEqual(['pid', 'network', 'ipc', 'uts', 'mount']);
    expect(s.linux?.resources).toEqual({ devices: [{ allow: false, access: 'rwm' }] });
    expect(defaultSpec({ rootless: true }).linux?.resources).toBeUndefined();
  });

  it('maps root to the given ids when rootless', () => {
    const s = defaultSpec({ rootless: true, uid: 1000, gid: 1001 });
    expect(s.linux?.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(s.linux?.gidMappings).toEqual([{ containerID: 0, hostID: 1001, size: 1 }]);
    expect(s.linux?.namespaces?.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'user']);
  });

  it('returns a fresh object each time', () => {
    const a = defaultSpec();
    a.process!.capabilities!.bounding!.push('CAP_SYS_ADMIN');
    expect(defaultSpec().process?.capabilities?.bounding).not.toContain('CAP_SYS_ADMIN');
  });

  it.skipIf(!hasRunc()).each([false, true])('matches `runc spec` except where documented (rootless: %s)', (rootless) => {
    const runc = runcSpec(rootless);
    const ours = JSON.parse(JSON.stringify(defaultSpec({ rootless }))) as any;
    // The documented differences: no terminal, our hostname and version.
    expect(runc.process.terminal).toBe(true);
    delete runc.process.terminal; delete ours.process.terminal;
    delete runc.hostname; delete ours.hostname;
    delete runc.ociVersion; delete ours.ociVersion;
    expect(ours).toEqual(runc);
  });
});
