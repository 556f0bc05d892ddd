// The package as a consumer gets it: `import { Runtime } from 'ocirun'`
// through package.json "exports", from a project whose node_modules/ocirun is
// this checkout (built dist/ and build/), with the bundled .d.ts types.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Harness, isRoot, waitFor } from './harness.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');

function consumerProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ocirun-consumer-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(repo, join(dir, 'node_modules', 'ocirun'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], typeRoots: [join(repo, 'node_modules', '@types')] },
    include: ['*.ts'],
  }));
  return dir;
}

describe('the ocirun package from a consumer project', () => {
  let dir: string;
  beforeAll(() => { dir = consumerProject(); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('type-checks agent code against the published .d.ts, and rejects wrong uses', () => {
    writeFileSync(join(dir, 'agent.ts'), `
      import { Runtime, OciError, SystemError, type ExitStatus, type Spec, type ContainerState, type RuntimeEvent } from 'ocirun';
      const rt = new Runtime({ root: '/run/ocirun' });
      const spec: Spec = { ociVersion: '1.2.0', process: { cwd: '/', user: { uid: 0, gid: 0 }, args: ['true'] }, root: { path: 'rootfs' } };
      export async function agent(signal: AbortSignal): Promise<number | null> {
        await rt.create('a', '/bundle', { config: spec, stdio: [0, 1, 2], timing: true });
        await rt.start('a');
        const state: ContainerState = await rt.state('a');
        const status: ExitStatus = await rt.wait(state.id, { signal });
        const ran: ExitStatus = await rt.run('b', '/bundle', { keep: false, signal });
        await rt.exec('a', { args: ['ls'], env: ['A=1'] });
        for await (const ev of rt.events({ signal })) { const e: RuntimeEvent = ev; if (e.status.known) break; }
        try { await rt.delete('a', { force: true }); } catch (e) { if (e instanceof SystemError) return e.errno; if (e instanceof OciError) return e.code.length; }
        return status.exitCode ?? ran.exitCode;
      }
    `);
    const ok = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
    expect(ok.stdout + ok.stderr).toBe('');
    expect(ok.status).toBe(0);

    writeFileSync(join(dir, 'wrong.ts'), `
      import { Runtime } from 'ocirun';
      export const n: number = (await new Runtime().wait('a')).signal;
    `);
    const bad = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/wrong\.ts.*TS2322: Type 'string \| null' is not assignable to type 'number'/);
    rmSync(join(dir, 'wrong.ts'));
  }, 120_000);

  describe.runIf(isRoot)('at run time', () => {
    let h: Harness;
    beforeAll(async () => { h = await Harness.create(); });
    afterAll(() => {
      expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
      h.destroy();
    });

    it('runs a container through `import { Runtime } from "ocirun"`', () => {
      const out = join(h.work, 'consumer.out');
      closeSync(openSync(out, 'w'));
      const bundle = h.bundle((s) => { s.process!.args = ['sh', '-c', 'echo inside; exit 3']; });
      writeFileSync(join(dir, 'agent.mjs'), `
        import { openSync } from 'node:fs';
        import { Runtime, OciError } from 'ocirun';
        const rt = new Runtime({ root: ${JSON.stringify(h.root)} });
        const fd = openSync(${JSON.stringify(out)}, 'a');
        console.log(JSON.stringify(await rt.run('consumer-1', ${JSON.stringify(bundle)}, { stdio: [0, fd, fd] })));
        const err = await rt.state('consumer-1').catch((e) => e);
        console.log(err instanceof OciError, err.code);
      `);
      const r = spawnSync(process.execPath, [join(dir, 'agent.mjs')], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('{"exitCode":3,"signal":null,"known":true}\ntrue ERR_CONTAINER_NOT_FOUND\n');
      expect(readFileSync(out, 'utf8')).toBe('inside\n');
    });

    it('runs the example agent of docs/library.md: restarts, gives up, stops cleanly', async () => {
      const doc = readFileSync(join(repo, 'docs', 'library.md'), 'utf8');
      const code = /<!-- example-agent -->\n```js\n([\s\S]*?)```/.exec(doc)?.[1];
      expect(code).toBeDefined();
      writeFileSync(join(dir, 'example-agent.mjs'), code!);
      const agent = spawn(process.execPath, [join(dir, 'example-agent.mjs'), h.bundle()], {
        cwd: dir, env: { ...process.env, OCIRUN_ROOT: h.root }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      agent.stdout.on('data', (d) => { out += d; });
      agent.stderr.on('data', (d) => { err += d; });
      const exited = new Promise<number | null>((res) => agent.on('exit', (c) => res(c)));
      await waitFor(() => out.includes('flaky: gave up'), 20_000);
      agent.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(err).toBe('');
      const lines = out.trim().split('\n');
      expect(lines.filter((l) => l === 'flaky exited (code 1)')).toHaveLength(4);
      expect(lines).toEqual(expect.arrayContaining([
        expect.stringMatching(/^started web as web-\d+-0$/), 'batch done', 'batch exited (code 0)',
        'flaky: gave up after 3 restarts', 'stopping', 'web exited (code 0)', 'stopped',
      ]));
      expect(lines.at(-1)).toBe('stopped');
      expect(h.stateDirs()).toEqual([]);
    }, 60_000);
  });
});
