// The systemd driver's D-Bus client (src/cgroups/systemd-bus.ts) against a
// real dbus-daemon on a private socket, without systemd on it: what a host
// without the system bus, or a bus without systemd, gives (one line each), and
// that the connection is opened per call and closed again (a live socket
// would keep the CLI's Node running). The driver itself is tested in the
// systemd VM (test/vm/cgroups-systemd.sd.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withSystemd } from '../../src/cgroups/systemd-bus.js';
import { waitFor } from './harness.js';

// dbus-daemon and dbus-send come with scripts/bootstrap.sh: missing, the test fails rather than skips.
describe('systemd D-Bus client', () => {
  let dir: string;
  let daemon: ChildProcess;
  let address: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ocirun-dbus-'));
    // A bus that allows everything and activates nothing: systemd1 is simply not there.
    writeFileSync(join(dir, 'bus.conf'), `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=${dir}/bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>`);
    daemon = spawn('dbus-daemon', ['--config-file', join(dir, 'bus.conf'), '--nofork', '--print-address'], { stdio: ['ignore', 'pipe', 'ignore'] });
    address = await new Promise<string>((resolve) => daemon.stdout!.once('data', (b: Buffer) => resolve(b.toString().trim())));
  });
  afterAll(() => {
    if (daemon?.pid) process.kill(daemon.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('says in one line that there is no bus', async () => {
    await expect(withSystemd(async () => 0, `unix:path=${dir}/none`))
      .rejects.toThrow(/^systemd: no D-Bus system bus at \S+\/none \(is dbus running\?\)$/);
  });

  it('says in one line that systemd is not on the bus, and closes the connection', async () => {
    const err = await withSystemd(async (bus) => bus.systemdVersion(), address).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^systemd: subscribe to systemd jobs: ServiceUnknown: [^\n]*org\.freedesktop\.systemd1[^\n]*$/);
    // No connection of ours left on the bus: only dbus-send's own.
    const clients = (): number => {
      const names = spawnSync('dbus-send', [`--bus=${address}`, '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.ListNames'], { encoding: 'utf8' });
      expect(names.status).toBe(0);
      return names.stdout.match(/string ":/g)?.length ?? 0;
    };
    await waitFor(() => clients() === 1);
  });
});
