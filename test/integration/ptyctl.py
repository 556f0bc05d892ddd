#!/usr/bin/env python3
"""Terminal driver for the integration tests (Node has no pty of its own).

  ptyctl.py run [--rows R --cols C] [--send TEXT] [--resize RxC] [--after MARK] -- CMD...
      Runs CMD as the session leader of a new pty (like a shell in a terminal
      window). Once the output contains MARK (or at once without --after) it
      resizes the window, then types TEXT. Prints one JSON line: exit code,
      output, and the pty's termios before and after (was it restored?).

  ptyctl.py recv SOCKET [--send TEXT]
      Listens on SOCKET (AF_UNIX stream) like runc's recvtty: accepts one
      connection and takes the fd that comes with the first message. A
      terminal it types TEXT into and reads until the other side is gone.
      Prints one JSON line: the payload, what the fd is (and for a pidfd, the
      pid), and the output. "ready" on stderr once listening.
"""
import argparse
import array
import fcntl
import json
import os
import select
import signal
import socket
import stat
import struct
import sys
import termios
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))


def read_all(fd, deadline):
    out = b''
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if not r:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            break  # EIO: no slave left
        if not data:
            break
        out += data
    return out


def cmd_run(a):
    master, slave = os.openpty()
    set_size(slave, a.rows, a.cols)
    before = termios.tcgetattr(slave)
    pid = os.fork()
    if pid == 0:
        os.close(master)
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        if slave > 2:
            os.close(slave)
        os.execvp(a.cmd[0], a.cmd)
    # The slave stays open here too, so the pty outlives the child and its
    # termios can be read afterwards.

    def act():
        if a.resize:
            rows, cols = (int(x) for x in a.resize.split('x'))
            set_size(master, rows, cols)  # the kernel signals the foreground group
        if a.send is not None:
            time.sleep(0.05)
            os.write(master, a.send.encode())

    if a.after is None:
        act()
    deadline = time.time() + a.timeout
    out = b''
    status = None
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.05)
        if r:
            try:
                data = os.read(master, 65536)
                out += data
                if a.after and a.after.encode() in out and not getattr(act, 'done', False):
                    act.done = True
                    act()
            except OSError:
                pass
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
    if status is None:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    # Whatever is still in flight after the exit.
    while True:
        r, _, _ = select.select([master], [], [], 0.1)
        if not r:
            break
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    after = termios.tcgetattr(slave)
    code = os.waitstatus_to_exitcode(status)
    print(json.dumps({'exit': code, 'output': out.decode('utf-8', 'replace'),
                      'restored': before == after, 'timedOut': time.time() >= deadline}))


def cmd_recv(a):
    try:
        os.unlink(a.socket)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(a.socket)
    srv.listen(1)
    srv.settimeout(a.timeout)
    sys.stderr.write('ready\n')
    sys.stderr.flush()
    conn, _ = srv.accept()
    msg, fds, _, _ = socket.recv_fds(conn, 4096, 8)
    conn.close()
    srv.close()
    os.unlink(a.socket)
    fd = fds[0]
    st = os.fstat(fd)
    info = {'payload': msg.decode(), 'fds': len(fds), 'isChar': stat.S_ISCHR(st.st_mode),
            'major': os.major(st.st_rdev), 'isatty': os.isatty(fd), 'link': os.readlink(f'/proc/self/fd/{fd}')}
    with open(f'/proc/self/fdinfo/{fd}') as f:
        pid = [line.split()[1] for line in f if line.startswith('Pid:')]
    if pid:
        info['pid'] = int(pid[0])  # a pidfd: whose
    if a.send is not None:
        os.write(fd, a.send.encode())
    if info['isatty']:
        info['output'] = read_all(fd, time.time() + a.timeout).decode('utf-8', 'replace')
    print(json.dumps(info))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest='what', required=True)
    r = sub.add_parser('run')
    r.add_argument('--rows', type=int, default=24)
    r.add_argument('--cols', type=int, default=80)
    r.add_argument('--send')
    r.add_argument('--resize')
    r.add_argument('--after')
    r.add_argument('--timeout', type=float, default=20)
    r.add_argument('cmd', nargs='+')
    v = sub.add_parser('recv')
    v.add_argument('socket')
    v.add_argument('--send')
    v.add_argument('--timeout', type=float, default=20)
    a = p.parse_args()
    cmd_run(a) if a.what == 'run' else cmd_recv(a)


if __name__ == '__main__':
    main()
