// The daemon's calls: accept, check who is asking, run the CLI for them, end
// the call. Every call has its own Caller and context; nothing of one call
// is shared with another but the code, and nothing lives only here (state is
// on disk), so killing the daemon at any moment costs only the calls in flight.
import { closeSync, statSync } from 'node:fs';
import { native } from '../native/binding.js';
import { main, RunInNode } from '../cli/main.js';
import { RemoteCaller } from './caller.js';
import { BadRequest, parseRequest } from './request.js';
import { closeFds, Connection, D_ACK, D_EXIT, D_FALLBACK, F_REQUEST } from './wire.js';

/** The namespaces a caller must share with the daemon, compared by device and inode. */
export const SHARED_NAMESPACES = ['mnt', 'user', 'pid', 'net', 'cgroup', 'ipc', 'uts'] as const;

/** How long a connected front end may take to send its request. */
const REQUEST_TIMEOUT_MS = 5000;

function ownNamespaceIds(): string[] {
  return SHARED_NAMESPACES.map((ns) => {
    const st = statSync(`/proc/self/ns/${ns}`);
    return `${ns}:${st.dev}:${st.ino}`;
  });
}

/**
 * A connection's peer: SO_PEERCRED's pid and uid, and the namespaces the addon
 * read through the peer's pidfd (native/engine/peer.cc), never by a pid alone
 * where the kernel can pin the process.
 */
export interface Peer { pid: number; uid: number; ns?: string[]; nsError?: string }

/** Why this peer may not be served, or undefined when it may. */
export function refusePeer(peer: Peer, own = { uid: process.geteuid!(), ns: ownNamespaceIds() }): string | undefined {
  if (peer.uid !== own.uid) return `uid ${peer.uid} may not use the daemon of uid ${own.uid}`;
  // 0: the peer is in a pid namespace that cannot see us, so not in ours.
  if (peer.pid <= 0) return 'the caller is in another pid namespace';
  if (peer.nsError) return peer.nsError;
  const theirs = peer.ns ?? [];
  if (theirs.length !== SHARED_NAMESPACES.length) return 'the caller\'s namespaces are unknown';
  const differ = SHARED_NAMESPACES.filter((_, i) => theirs[i] !== own.ns[i]);
  return differ.length ? `the caller is in other namespaces (${differ.join(', ')})` : undefined;
}

export interface ServerOptions {
  buildId: string;
  log: (msg: string) => void;
  /** Called with the number of calls in flight whenever it changes. */
  onActivity: (active: number) => void;
}

export class Server {
  private readonly own = { uid: process.geteuid!(), ns: ownNamespaceIds() };
  private watch?: { close(): void };
  private active = 0;

  constructor(private readonly listenFd: number, private readonly opts: ServerOptions) {}

  start(): void {
    this.watch = native().watchReadable(this.listenFd, () => this.acceptAll());
  }

  stop(): void {
    this.watch?.close();
    this.watch = undefined;
    closeSync(this.listenFd);
  }

  get inFlight(): number {
    return this.active;
  }

  private acceptAll(): void {
    for (;;) {
      const peer = native().acceptUnix(this.listenFd, SHARED_NAMESPACES);
      if (!peer) return;
      this.setActive(+1);
      void this.serve(peer).finally(() => this.setActive(-1));
    }
  }

  private setActive(delta: number): void {
    this.active += delta;
    this.opts.onActivity(this.active);
  }

  private async serve(peer: Peer & { fd: number }): Promise<void> {
    const conn = new Connection(peer.fd);
    let received: number[] = [];
    try {
      const refused = refusePeer(peer, this.own);
      if (refused) {
        this.opts.log(`refused pid ${peer.pid}: ${refused}`);
        conn.send(D_FALLBACK, { reason: refused });
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const first = await Promise.race([
        conn.next(),
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new BadRequest('no request in time')), REQUEST_TIMEOUT_MS); }),
      ]).finally(() => clearTimeout(timer));
      received = first.fds;
      if (first.type !== F_REQUEST) throw new BadRequest(`frame ${first.type} before the request`);
      const req = parseRequest(first.payload, first.fds.length, this.opts.buildId);
      const caller = new RemoteCaller(conn, req, first.fds, peer.pid);
      conn.send(D_ACK, {});
      let code: number;
      try {
        code = await main(req.argv, caller);
      } catch (err) {
        if (!(err instanceof RunInNode)) throw err;
        conn.send(D_FALLBACK, { reason: err.message });
        return;
      }
      // Ours go first: an engine reading the call's stdout until EOF must see
      // it end when the front end exits, not when we get round to it.
      closeFds(received);
      received = [];
      if (!conn.closed) conn.send(D_EXIT, { code });
    } catch (err) {
      const message = (err as Error)?.message ?? String(err);
      if (err instanceof BadRequest) {
        this.opts.log(`bad request from pid ${peer.pid}: ${message}`);
        if (!conn.closed) conn.send(D_FALLBACK, { reason: message });
      } else if (!conn.closed) {
        this.opts.log(`call from pid ${peer.pid} failed: ${(err as Error)?.stack ?? message}`);
        try {
          conn.send(D_EXIT, { code: 1, error: `internal error in the daemon: ${message.split('\n')[0]}` });
        } catch {
          // the front end is gone too
        }
      }
    } finally {
      closeFds(received);
      conn.close();
      closeSync(peer.fd);
    }
  }
}
