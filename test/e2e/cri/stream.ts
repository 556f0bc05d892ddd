// The client half of the kubelet's streaming protocol, as kubectl speaks it to
// the URL that Exec and Attach return: a WebSocket with subprotocol
// v4.channel.k8s.io, each binary message one channel byte then data (0 stdin,
// 1 stdout, 2 stderr, 3 the final status as a JSON metav1.Status).
import WebSocket from 'ws';

export interface StreamResult { stdout: string; stderr: string; status?: { status: string; reason?: string; details?: { causes?: { reason: string; message: string }[] } } }

/** The exit code a v4 status reports (0 on Success). */
export function exitCode(r: StreamResult): number | undefined {
  if (r.status?.status === 'Success') return 0;
  const c = r.status?.details?.causes?.find((x) => x.reason === 'ExitCode');
  return c ? Number(c.message) : undefined;
}

/**
 * Opens url, sends each of inputs on stdin (after until(output so far) holds,
 * when given), and resolves when the server closes the stream or done(output)
 * holds (then we close it, as a detaching kubectl does).
 */
export function stream(url: string, opts: { input?: string; until?: (out: string) => boolean; done?: (r: StreamResult) => boolean; timeoutMs?: number } = {}): Promise<StreamResult> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
  const res: StreamResult = { stdout: '', stderr: '' };
  let sent = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`stream ${url}: timed out with ${JSON.stringify(res)}`)); }, opts.timeoutMs ?? 20_000);
    const send = (): void => {
      if (sent || opts.input === undefined || (opts.until && !opts.until(res.stdout))) return;
      sent = true;
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(opts.input)]));
    };
    ws.on('open', send);
    ws.on('message', (data: Buffer) => {
      const text = data.subarray(1).toString();
      if (data[0] === 1) res.stdout += text;
      else if (data[0] === 2) res.stderr += text;
      else if (data[0] === 3 && text) res.status = JSON.parse(text);
      send();
      if (opts.done?.(res)) ws.close();
    });
    ws.on('error', (err) => { clearTimeout(timer); reject(err); });
    ws.on('close', () => { clearTimeout(timer); resolve(res); });
  });
}
