// The CLI fast path takes only plain forms of the hot commands; everything
// else must reach commander, which defines the syntax and its errors.
import { describe, expect, it } from 'vitest';
import { parseHot } from '../../src/cli/fast.js';

describe('CLI fast path parser', () => {
  it('takes the plain forms of state, start, kill, delete, create and run', () => {
    expect(parseHot(['state', 'c1'])).toEqual({ globals: { logFormat: 'text', debug: false }, hot: { cmd: 'state', id: 'c1' } });
    expect(parseHot(['--root', '/r', '--log=/l', '--log-format', 'json', '--debug', 'start', 'c1'])).toEqual({
      globals: { root: '/r', log: '/l', logFormat: 'json', debug: true }, hot: { cmd: 'start', id: 'c1' },
    });
    expect(parseHot(['kill', 'c1'])?.hot).toEqual({ cmd: 'kill', id: 'c1', signal: 'SIGTERM' });
    expect(parseHot(['kill', 'c1', '9'])?.hot).toEqual({ cmd: 'kill', id: 'c1', signal: '9' });
    expect(parseHot(['delete', '-f', 'c1'])?.hot).toEqual({ cmd: 'delete', id: 'c1', force: true });
    expect(parseHot(['delete', 'c1', '--force'])?.hot).toEqual({ cmd: 'delete', id: 'c1', force: true });
    expect(parseHot(['delete', 'c1'])?.hot).toEqual({ cmd: 'delete', id: 'c1', force: false });
    expect(parseHot(['create', 'c1'])?.hot).toEqual({ cmd: 'create', id: 'c1', flags: { bundle: '.', noPivot: false } });
    expect(parseHot(['create', '-b', '/b', '--pid-file=/p', '--no-pivot', 'c1'])?.hot).toEqual({
      cmd: 'create', id: 'c1', flags: { bundle: '/b', pidFile: '/p', noPivot: true },
    });
    expect(parseHot(['run', 'c1', '--bundle', '/b', '-d', '--keep'])?.hot).toEqual({
      cmd: 'run', id: 'c1', flags: { bundle: '/b', noPivot: false, detach: true, keep: true },
    });
  });

  it.each([
    [[]],
    [['--help']],
    [['-v']],
    [['state']],
    [['state', 'a', 'b']],
    [['state', '--help']],
    [['state', '-x']],
    [['list']],
    [['spec']],
    [['exec', 'c1', 'ls']],
    [['--root']],
    [['--root', '--debug', 'state', 'c1']],
    [['--root', '/a', '--root', '/b', 'state', 'c1']],
    [['--log-format', 'yaml', 'state', 'c1']],
    [['--cgroup-manager', 'systemd', 'delete', 'c1']],
    [['--debug=1', 'state', 'c1']],
    [['kill', 'c1', 'TERM', 'extra']],
    [['kill', 'c1', '-9']],
    [['delete', '-f', '-f', 'c1']],
    [['delete', '-ff', 'c1']],
    [['create', '--console-socket', '/s', 'c1']],
    [['create', '--preserve-fds', '1', 'c1']],
    [['create', '-b']],
    [['create', '-b', '/b', '-b', '/c', 'c1']],
    [['create', '--detach', 'c1']],
    [['create', 'c1', 'c2']],
    [['run', '-bx', 'c1']],
    [['run', '--no-pivot=1', 'c1']],
  ])('leaves %j to commander', (argv) => {
    expect(parseHot(argv)).toBeUndefined();
  });
});
