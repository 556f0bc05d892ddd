// The systemd driver's D-Bus side: the manager's methods a container needs
// (StartTransientUnit, StopUnit, ResetFailedUnit, SetUnitProperties, the
// version), each job waited for through JobRemoved, and errors turned into one
// line. Speaks through dbus-next's message API: no introspection round trip.
//
// One connection per process, opened on first use: the CLI closes it when its
// command is done (a live socket would keep Node running), the engine daemon
// keeps it across calls (keepSystemdConnection) and opens a new one when it drops.
import { existsSync } from 'node:fs';
import type { DBusError, Message as DbusMessage, MessageBus, Variant as DbusVariant } from 'dbus-next';
import { OciError } from '../errors.js';
import type { UnitProperty } from './systemd-props.js';

const SYSTEMD = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
/** How long systemd may take to create or stop a unit (runc's 30 s). */
export const JOB_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;

type DbusModule = typeof import('dbus-next');
let dbusModule: Promise<DbusModule> | undefined;
// Loaded on first use: the cgroupfs driver (and every `state`) never pays for it.
const loadDbus = (): Promise<DbusModule> => (dbusModule ??= import('dbus-next').then((m) => ((m as { default?: DbusModule }).default ?? m)));

/** The system bus: $DBUS_SYSTEM_BUS_ADDRESS, or the well-known socket. */
export function systemBusAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.DBUS_SYSTEM_BUS_ADDRESS || 'unix:path=/run/dbus/system_bus_socket';
}

function busError(what: string, err: unknown): OciError {
  const e = err as Partial<DBusError> & Error;
  const type = e.type ?? '';
  const text = (e.text ?? e.message ?? String(err)).replace(/\s+/g, ' ').trim();
  const short = type.replace(/^org\.freedesktop\.(systemd1|DBus\.Error)\./, '');
  if (/AccessDenied|InteractiveAuthorizationRequired/.test(type)) {
    return new OciError('ERR_SYSTEM', `systemd: ${what}: access denied (${text})`);
  }
  return new OciError('ERR_SYSTEM', `systemd: ${what}: ${short ? `${short}: ` : ''}${text}`);
}

export class SystemdBus {
  private readonly jobs = new Map<string, (result: string) => void>();
  /** JobRemoved signals that came before their StartTransientUnit reply was read. */
  private readonly early = new Map<string, string>();
  private version?: number;
  closed = false;

  private constructor(private readonly bus: MessageBus, private readonly dbus: DbusModule) {
    bus.on('message', (msg: DbusMessage) => {
      if (msg.type !== dbus.MessageType.SIGNAL || msg.interface !== MANAGER || msg.member !== 'JobRemoved') return;
      const [, job, , result] = msg.body as [number, string, string, string];
      const waiter = this.jobs.get(job);
      if (waiter) waiter(result);
      else this.early.set(job, result);
    });
  }

  static async open(address: string): Promise<SystemdBus> {
    const path = /^unix:path=([^,;]+)/.exec(address)?.[1];
    if (path && !existsSync(path)) {
      throw new OciError('ERR_SYSTEM', `systemd: no D-Bus system bus at ${path} (is dbus running?)`);
    }
    const dbus = await loadDbus();
    const bus = dbus.sessionBus({ busAddress: address });
    const sd = new SystemdBus(bus, dbus);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS);
      function fail(err: unknown): void {
        clearTimeout(timer);
        sd.close();
        reject(busError(`cannot connect to the D-Bus system bus (${address})`, err));
      }
      bus.once('connect', () => { clearTimeout(timer); resolve(); });
      bus.once('error', fail);
    });
    // From now on a dropped connection only marks this one dead; the next call opens another.
    bus.on('error', () => sd.close());
    const stream = (bus as unknown as { _connection?: { stream?: NodeJS.EventEmitter } })._connection?.stream;
    stream?.on('close', () => sd.close());
    const match = `type='signal',sender='${SYSTEMD}',path='${MANAGER_PATH}',interface='${MANAGER}',member='JobRemoved'`;
    try {
      await sd.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'AddMatch', 's', [match], 'subscribe to systemd jobs');
      // systemd sends job signals only to its subscribers.
      await sd.manager('Subscribe', '', [], 'subscribe to systemd jobs');
    } catch (err) {
      sd.close();
      throw err;
    }
    return sd;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of this.jobs.values()) waiter('disconnected');
    try {
      this.bus.disconnect();
    } catch {
      // already gone
    }
  }

  private async call(dest: string, path: string, iface: string, member: string, signature: string, body: unknown[], what: string): Promise<unknown[]> {
    if (this.closed) throw new OciError('ERR_SYSTEM', `systemd: ${what}: the D-Bus connection is closed`);
    try {
      const reply = await this.bus.call(new this.dbus.Message({ destination: dest, path, interface: iface, member, signature, body }));
      return reply?.body ?? [];
    } catch (err) {
      throw busError(what, err);
    }
  }

  private manager(member: string, signature: string, body: unknown[], what: string): Promise<unknown[]> {
    return this.call(SYSTEMD, MANAGER_PATH, MANAGER, member, signature, body, what);
  }

  private variants(props: UnitProperty[]): Array<[string, DbusVariant]> {
    return props.map((p) => [p.name, new this.dbus.Variant(p.sig, p.value instanceof Uint8Array ? Buffer.from(p.value) : p.value)]);
  }

  /** The job's result ("done", "failed", "timeout", ...), or "timeout" after JOB_TIMEOUT_MS. */
  private waitJob(job: string): Promise<string> {
    const early = this.early.get(job);
    if (early !== undefined) {
      this.early.delete(job);
      return Promise.resolve(early);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => done('timeout'), JOB_TIMEOUT_MS);
      const done = (result: string): void => {
        clearTimeout(timer);
        this.jobs.delete(job);
        resolve(result);
      };
      this.jobs.set(job, done);
    });
  }

  /** systemd's version number (252 for "252.19-1~deb12u1"), read once per connection. */
  async systemdVersion(): Promise<number> {
    if (this.version === undefined) {
      const [v] = await this.call(SYSTEMD, MANAGER_PATH, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [MANAGER, 'Version'], 'read its version');
      const text = String((v as DbusVariant | undefined)?.value ?? '');
      this.version = Number(/^v?(\d+)/.exec(text)?.[1] ?? 0);
    }
    return this.version;
  }

  /**
   * StartTransientUnit, and its job. A unit of that name that is left over
   * and failed is reset and tried once more, as runc does; one that is active
   * is refused. Resolves true once the unit is up; `onCreated` is called as
   * soon as systemd has accepted the unit (it then exists, and is ours to stop).
   */
  async startUnit(unit: string, props: UnitProperty[], onCreated: () => void): Promise<void> {
    const what = `create unit ${unit}`;
    let job: string;
    try {
      [job] = (await this.manager('StartTransientUnit', 'ssa(sv)a(sa(sv))', [unit, 'replace', this.variants(props), []], what)) as [string];
    } catch (err) {
      if (!/UnitExists/.test((err as Error).message)) throw err;
      await this.resetFailedUnit(unit);
      try {
        [job] = (await this.manager('StartTransientUnit', 'ssa(sv)a(sa(sv))', [unit, 'replace', this.variants(props), []], what)) as [string];
      } catch (again) {
        if (/UnitExists/.test((again as Error).message)) throw new OciError('ERR_INVALID_CONFIG', `linux.cgroupsPath: systemd unit ${unit} already exists`);
        throw again;
      }
    }
    onCreated();
    const result = await this.waitJob(job);
    if (result !== 'done') {
      await this.resetFailedUnit(unit);
      throw new OciError('ERR_SYSTEM', `systemd: could not start unit ${unit}: job ${result}`);
    }
  }

  /** StopUnit and its job, then ResetFailedUnit; a unit that is already gone is no error. */
  async stopUnit(unit: string): Promise<void> {
    let job: string | undefined;
    try {
      [job] = (await this.manager('StopUnit', 'ss', [unit, 'replace'], `stop unit ${unit}`)) as [string];
    } catch (err) {
      if (!/NoSuchUnit/.test((err as Error).message)) throw err;
    }
    const result = job ? await this.waitJob(job) : 'done';
    await this.resetFailedUnit(unit);
    if (result !== 'done') throw new OciError('ERR_SYSTEM', `systemd: could not stop unit ${unit}: job ${result}`);
  }

  async resetFailedUnit(unit: string): Promise<void> {
    await this.manager('ResetFailedUnit', 's', [unit], `reset unit ${unit}`).catch((err: Error) => {
      // Not failed, or not there: nothing to reset.
      if (!/NoSuchUnit|not failed|not loaded/i.test(err.message)) throw err;
    });
  }

  async setUnitProperties(unit: string, props: UnitProperty[]): Promise<void> {
    if (props.length === 0) return;
    await this.manager('SetUnitProperties', 'sba(sv)', [unit, true, this.variants(props)], `set the limits of unit ${unit}`);
  }
}

let shared: Promise<SystemdBus> | undefined;
let users = 0;
let keep = false;

/** The engine daemon: keep the connection between calls (reopened when it drops). */
export function keepSystemdConnection(on = true): void {
  keep = on;
}

/** Runs `fn` with the process's connection to systemd, opening it if needed. */
export async function withSystemd<T>(fn: (bus: SystemdBus) => Promise<T>, address = systemBusAddress()): Promise<T> {
  users++;
  try {
    let opened = shared;
    if (opened && (await opened.catch(() => undefined))?.closed !== false) opened = undefined;
    if (!opened) {
      opened = SystemdBus.open(address);
      shared = opened;
      opened.catch(() => { if (shared === opened) shared = undefined; });
    }
    return await fn(await opened);
  } finally {
    if (--users === 0 && !keep && shared) {
      const last = shared;
      shared = undefined;
      last.then((b) => b.close(), () => {});
    }
  }
}
