// unwatchExit: an abandoned watch (an aborted wait) stops keeping the event
// loop alive and never calls back.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const addonPath = fileURLToPath(new URL('../../build/Release/ocirun_native.node', import.meta.url));

describe.runIf(existsSync(addonPath))('unwatchExit', () => {
  it('cancels a watch: no callback, and the process exits although the watched one lives on', () => {
    // The watched process is the test runner itself: it outlives the child by far.
    const script = `
      const a = require(${JSON.stringify(addonPath)});
      const fd = a.pidfdOpen(process.ppid);
      const id = a.watchExit(fd, () => console.log('callback'));
      const other = a.watchExit(fd, () => console.log('callback'));
      console.log(typeof id, id !== other, a.unwatchExit(id), a.unwatchExit(id), a.unwatchExit(other), a.unwatchExit(12345));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect({ status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr })
      .toEqual({ status: 0, signal: null, stdout: 'number true true false true false\n', stderr: '' });
  });

  it('reports false for a watch that has already fired', () => {
    const script = `
      const { spawn } = require('node:child_process');
      const a = require(${JSON.stringify(addonPath)});
      const child = spawn('true');
      child.unref(); // the watch reaps it, so libuv never sees it exit
      const id = a.watchExit(a.pidfdOpen(child.pid), (s) => setImmediate(() => console.log(s.known !== undefined, a.unwatchExit(id))));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: 'true false\n', stderr: '' });
  });
});
