// The runtime-side hook runner and what the planner hands the helper (no root needed).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runHook, runHooksWarning } from '../../src/hooks/run.js';
import { hookState, statePieces } from '../../src/hooks/state.js';
import { planInitHooks, RuntimeHookGate } from '../../src/hooks/lifecycle.js';
import { encodePlan } from '../../src/native/plan-encode.js';
import { helperPath, native } from '../../src/native/binding.js';
import { minimalInitPlan, printPlan } from '../support/plan.js';

const src = { ociVersion: '1.2.1', id: 'c1', bundle: '/b', annotations: { a: 'b' } };
const state = hookState(src, 'creating', 42);

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'ocirun-hooks-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

function pidsWith(arg: string): string[] {
  return readdirSync('/proc').filter((n) => {
    try {
      return /^\d+$/.test(n) && readFileSync(`/proc/${n}/cmdline`, 'utf8').split('\0').includes(arg);
    } catch {
      return false;
    }
  });
}

describe('hook state', () => {
  it('has the OCI fields in runc order, without a pid once stopped', () => {
    expect(JSON.stringify(state)).toBe('{"ociVersion":"1.2.1","id":"c1","status":"creating","pid":42,"bundle":"/b","annotations":{"a":"b"}}');
    expect(hookState({ ...src, annotations: {} }, 'stopped')).toEqual({ ociVersion: '1.2.1', id: 'c1', status: 'stopped', bundle: '/b' });
  });

  it('splits around the pid so the helper can put its own in', () => {
    const [before, after] = statePieces(src, 'created');
    expect(JSON.parse(`${before}1${after}`)).toEqual(hookState(src, 'created', 1));
  });
});

describe('runHook', () => {
  it('gives the hook the state on stdin, its args and exactly its env', () => withDir(async (dir) => {
    await runHook('prestart', 0, {
      path: '/bin/sh', args: ['sh', '-c', `cat > ${dir}/state; echo "$0|$1|$FOO|\${HOME-none}" > ${dir}/argv`, 'zero', 'one'], env: ['FOO=a=b'],
    }, state);
    expect(JSON.parse(readFileSync(join(dir, 'state'), 'utf8'))).toEqual(state);
    expect(readFileSync(join(dir, 'argv'), 'utf8')).toBe('zero|one|a=b|none\n');
  }));

  it('uses the path as argv[0] when there are no args', () => withDir(async (dir) => {
    writeFileSync(join(dir, 'hook'), `#!/bin/sh\necho "$0 $#" > ${dir}/argv\n`, { mode: 0o755 });
    await runHook('poststop', 0, { path: join(dir, 'hook') }, state);
    expect(readFileSync(join(dir, 'argv'), 'utf8')).toBe(`${join(dir, 'hook')} 0\n`);
  }));

  it('reports the exit status and the output, on one line', async () => {
    await expect(runHook('createRuntime', 2, { path: '/bin/sh', args: ['sh', '-c', 'echo first; echo second >&2; exit 7'] }, state))
      .rejects.toMatchObject({ code: 'ERR_HOOK_FAILED', message: 'createRuntime hook #2 (/bin/sh): exit status 7: first second' });
    await expect(runHook('poststart', 0, { path: '/no/such/hook' }, state))
      .rejects.toMatchObject({ message: 'poststart hook #0 (/no/such/hook): cannot execute: ENOENT' });
    await expect(runHook('poststart', 0, { path: '/bin/sh', args: ['sh', '-c', 'kill -TERM $$'] }, state))
      .rejects.toMatchObject({ message: 'poststart hook #0 (/bin/sh): killed by signal SIGTERM' });
  });

  it('kills the whole process group at the timeout', async () => {
    const nap = `1000.${process.pid}7`;
    await expect(runHook('prestart', 0, { path: '/bin/sh', args: ['sh', '-c', `sleep ${nap}; true`], timeout: 1 }, state))
      .rejects.toMatchObject({ message: 'prestart hook #0 (/bin/sh): timed out after 1s' });
    // Dying takes a moment after SIGKILL; a zombie has an empty cmdline.
    for (let i = 0; i < 100 && pidsWith(nap).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(pidsWith(nap)).toEqual([]);
  });

  it('does not wait for a background child that keeps the output open', async () => {
    const nap = `1000.${process.pid}8`;
    await runHook('poststart', 0, { path: '/bin/sh', args: ['sh', '-c', `sleep ${nap} & echo started`] }, state);
    const left = pidsWith(nap);
    expect(left).toHaveLength(1);
    process.kill(Number(left[0]), 'SIGKILL'); // the sleep this test started
  });

  it('warns and carries on for poststop', async () => {
    const warnings: string[] = [];
    await withDir(async (dir) => {
      await runHooksWarning('poststop', [{ path: '/bin/false' }, { path: '/bin/sh', args: ['sh', '-c', `touch ${dir}/second`] }], state, (m) => warnings.push(m));
      expect(readdirSync(dir)).toEqual(['second']);
    });
    expect(warnings).toEqual(['poststop hook #0 (/bin/false): exit status 1']);
  });
});

describe('planInitHooks', () => {
  it('gives the helper createContainer and startContainer hooks and pauses only for runtime hooks', () => {
    expect(planInitHooks(undefined, src)).toBeUndefined();
    expect(planInitHooks({ poststart: [{ path: '/x' }], poststop: [{ path: '/y' }] }, src)).toBeUndefined();
    const plan = planInitHooks({
      createRuntime: [{ path: '/r' }],
      startContainer: [{ path: '/s', args: ['s', '1'], env: ['A=1'], timeout: 3 }],
      createContainer: [{ path: '/c' }],
    }, src)!;
    expect(plan).toEqual({
      pauseForRuntimeHooks: true,
      hooks: [
        { kind: 'createContainer', path: '/c', args: undefined, env: undefined, timeout: undefined },
        { kind: 'startContainer', path: '/s', args: ['s', '1'], env: ['A=1'], timeout: 3 },
      ],
      stateCreate: statePieces(src, 'creating'),
      stateStart: statePieces(src, 'created'),
    });
    expect(RuntimeHookGate.for({ createContainer: [{ path: '/c' }] }, src)).toBeUndefined();
    expect(RuntimeHookGate.for({ prestart: [{ path: '/p' }] }, src)).toBeInstanceOf(RuntimeHookGate);
  });

  it('reaches the helper as planned', () => {
    const hooks = planInitHooks({ prestart: [{ path: '/p' }], createContainer: [{ path: '/c', timeout: 2 }] }, src)!;
    const back = printPlan(encodePlan({ ...minimalInitPlan(), hooks }));
    expect(back.error).toBe('');
    expect((back.plan as { hooks: unknown }).hooks).toEqual({
      pauseForRuntimeHooks: true,
      hooks: [{ kind: 'createContainer', path: '/c', args: [], env: [], timeout: 2 }],
      stateCreate: statePieces(src, 'creating'),
    });
  });
});

describe('spawnContainer onHooks', () => {
  it('must be a function, checked before anything starts', async () => {
    const opts = { helper: helperPath(), plan: Buffer.alloc(0), stdio: [0, 1, 2] as [number, number, number] };
    await expect(native().spawnContainer({ ...opts, onHooks: 5 as unknown as () => void }))
      .rejects.toThrow('The "onHooks" option must be a function');
  });
});
