// The numbers and lists the native front end and the TypeScript side both
// know, read from the C++ sources and compared with what TypeScript uses.
import { closeSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as wire from '../../src/daemon/wire.js';
import { parseRequest, BadRequest } from '../../src/daemon/request.js';
import { refusePeer } from '../../src/daemon/server.js';
import { ROOT_STATE_ROOT } from '../../src/rootless/mode.js';
import { native } from '../../src/native/binding.js';

const source = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8');

describe('engine wire', () => {
  it('frame types match native/engine/wire.h', () => {
    const header = source('native/engine/wire.h');
    const native = Object.fromEntries([...header.matchAll(/^\s*([FD]_[A-Z]+) = (\d+),/gm)].map((m) => [m[1], Number(m[2])]));
    const ours = Object.fromEntries(Object.entries(wire).filter(([k, v]) => /^[FD]_/.test(k) && typeof v === 'number'));
    expect(ours).toEqual(native);
    expect(Object.keys(native).length).toBeGreaterThan(8);
  });

  it('the front end knows which global flags take a value, as the CLI declares them', () => {
    const line = /kValueFlags\[\] = \{([^}]*)\}/.exec(source('native/frontend/paths.cc'))![1];
    const native = [...line.matchAll(/"([^"]+)"/g)].map((m) => m[1]).sort();
    // The global options of src/cli/main.ts: those declared with a <value>.
    const text = source('src/cli/main.ts');
    const program = text.slice(text.indexOf("new Command('ocirun')"), text.indexOf('.showSuggestionAfterError'));
    const valued = [...program.matchAll(/'(--[a-z-]+) <[a-z]+>'/g)].map((m) => m[1]).sort();
    expect(valued).toEqual(native);
  });

  it('the front end\'s state root of root is the CLI\'s', () => {
    expect(/kRootStateRoot = "([^"]+)"/.exec(source('native/frontend/paths.h'))![1]).toBe(ROOT_STATE_ROOT);
  });
});

describe('engine requests', () => {
  const good = { build: 'b1', argv: ['state', 'x'], cwd: '/tmp', umask: 0o22, env: ['A=1', 'B=x=y', 'junk'], fds: [0, 1, 2] };
  const buf = (o: unknown) => Buffer.from(JSON.stringify(o));

  it('takes a well-formed request', () => {
    expect(parseRequest(buf(good), 3, 'b1')).toEqual({ argv: ['state', 'x'], cwd: '/tmp', umask: 0o22, env: { A: '1', B: 'x=y' }, fds: [0, 1, 2] });
  });

  it.each([
    ['another build', { ...good, build: 'b0' }, /build "b0", daemon of build b1/],
    ['a relative cwd', { ...good, cwd: 'tmp' }, /cwd/],
    ['a bad umask', { ...good, umask: 0o1000 }, /umask/],
    ['argv not strings', { ...good, argv: ['a', 1] }, /argv/],
    ['fds not those sent', { ...good, fds: [0, 1] }, /fds/],
  ])('refuses %s', (_what, req, message) => {
    expect(() => parseRequest(buf(req), 3, 'b1')).toThrow(BadRequest);
    expect(() => parseRequest(buf(req), 3, 'b1')).toThrow(message);
  });

  it('refuses another uid and a pid outside our pid namespace', () => {
    expect(refusePeer({ pid: process.pid, uid: 12345 }, { uid: 0, ns: [] })).toMatch(/uid 12345 may not use the daemon of uid 0/);
    expect(refusePeer({ pid: 0, uid: 0 }, { uid: 0, ns: [] })).toMatch(/pid namespace/);
  });

  it('refuses a peer whose namespaces could not be read, and judges the rest by them', () => {
    const own = { uid: 0, ns: ['mnt:4:1', 'user:4:2', 'pid:4:3', 'net:4:4', 'cgroup:4:5', 'ipc:4:6', 'uts:4:7'] };
    expect(refusePeer({ pid: 5, uid: 0, ns: [], nsError: 'the caller has exited' }, own)).toBe('the caller has exited');
    expect(refusePeer({ pid: 5, uid: 0 }, own)).toBe("the caller's namespaces are unknown");
    expect(refusePeer({ pid: 5, uid: 0, ns: own.ns }, own)).toBeUndefined();
    expect(refusePeer({ pid: 5, uid: 0, ns: own.ns.map((n) => (n.startsWith('net') ? 'net:4:9' : n)) }, own))
      .toBe('the caller is in other namespaces (net)');
  });
});

describe('engine connection', () => {
  // A spawn waits for F_SPAWNED while the hooks it paused for wait for F_HOOK
  // and F_EXITED: each waiter gets the frame it asked for, whatever the order.
  it('hands each waiter the first frame it accepts, and rejects them all at the end', async () => {
    const [ours, theirs] = native().socketPair();
    const conn = new wire.Connection(ours);
    try {
      const spawned = conn.next((f) => f.type === wire.F_SPAWNED);
      const exited = conn.next((f) => f.type === wire.F_EXITED && JSON.parse(f.payload.toString()).pid === 7);
      for (const [type, body] of [[wire.F_EXITED, { pid: 6 }], [wire.F_EXITED, { pid: 7 }], [wire.F_SPAWNED, { ok: true }]] as const) {
        native().sendFrame(theirs, type, Buffer.from(JSON.stringify(body)), []);
      }
      expect(JSON.parse((await exited).payload.toString())).toEqual({ pid: 7 });
      expect((await spawned).type).toBe(wire.F_SPAWNED);
      // Not taken by anyone: queued for the next waiter that wants it.
      expect(JSON.parse((await conn.next()).payload.toString())).toEqual({ pid: 6 });
      const hook = conn.next((f) => f.type === wire.F_HOOK);
      const other = conn.next();
      closeSync(theirs);
      await expect(hook).rejects.toThrow(/closed the connection/);
      await expect(other).rejects.toThrow(/closed the connection/);
    } finally {
      conn.close();
      closeSync(ours);
    }
  });
});
