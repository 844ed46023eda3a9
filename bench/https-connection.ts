// The load generator's side of bench/apiserver.ts: one keep-alive HTTP/1.1 connection over TLS that
// sends one request at a time and resolves with the answer's status once its body is in.
//
// Why not node:https (or undici, which had the worse tail here): on this 2-core machine the
// generator runs on the same CPUs as the server it measures, and node:https's client cost 340-450 µs
// of CPU per request against 173-267 µs for this one. Measured against the bare HTTPS floor at 1,000
// requests/s, five alternating 10 s rounds each: p99 16-23 ms with this client, 19-70 ms with
// node:https. Load generators are written lean for this reason (wrk, hey). It understands exactly
// what our servers send: a status line, headers, and a Content-Length or chunked body.
import { connect, type TLSSocket } from "node:tls";

export type Send = (method: string, path: string, body?: unknown) => Promise<number>;

interface Pending {
  resolve: (status: number) => void;
  reject: (error: Error) => void;
}

/**
 * The answer at the start of `buffer`, once its head is in: its status, and the offset where it ends
 * (known at once from Content-Length; for a chunked body only once the last chunk is in).
 */
export function parseAnswer(buffer: Buffer): { status: number; end: number | undefined; close: boolean } | undefined {
  const headEnd = buffer.indexOf("\r\n\r\n");
  if (headEnd < 0) return undefined;
  const head = buffer.toString("latin1", 0, headEnd);
  const status = Number(head.slice(9, 12));
  const close = /\r\nconnection:\s*close/i.test(head);
  const declared = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (declared) return { status, end: headEnd + 4 + Number(declared[1]), close };
  if (!/\r\ntransfer-encoding:\s*chunked/i.test(head)) return { status, end: headEnd + 4, close };
  // Chunks: a hexadecimal size line, that many bytes and CRLF; the last one has size 0 (no trailers sent).
  let at = headEnd + 4;
  for (;;) {
    const lineEnd = buffer.indexOf("\r\n", at);
    if (lineEnd < 0) return { status, end: undefined, close };
    const size = parseInt(buffer.toString("latin1", at, lineEnd), 16);
    if (Number.isNaN(size)) throw new Error(`bad chunk size at byte ${at}`);
    at = lineEnd + 2 + size + 2;
    if (buffer.length < at) return { status, end: undefined, close };
    if (size === 0) return { status, end: at, close };
  }
}

/** One connection to `origin` (opened on first use, again after the server closes it), sending `headers` with every request. */
export function httpsConnection(origin: string, options: { ca: string; headers: Record<string, string> }): Send {
  const url = new URL(origin);
  const fixedHeaders = Object.entries({ Host: url.host, ...options.headers })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  let socket: TLSSocket | undefined;
  let pending: Pending | undefined;
  let received: Buffer = Buffer.alloc(0);
  let busy = false;

  const fail = (error: Error): void => {
    socket = undefined;
    received = Buffer.alloc(0);
    const waiting = pending;
    pending = undefined;
    waiting?.reject(error);
  };

  const open = (): Promise<TLSSocket> =>
    new Promise((resolve, reject) => {
      const tls = connect({ host: url.hostname, port: Number(url.port), ca: options.ca }, () => resolve(tls));
      tls.setNoDelay(true);
      tls.on("error", (error) => {
        reject(error);
        if (socket === tls) fail(error);
      });
      tls.on("close", () => {
        if (socket === tls) fail(new Error("connection closed by the server"));
      });
      // A sized body is counted, not collected: a list of 10,000 pods is tens of MiB.
      let sized: { status: number; close: boolean; remaining: number } | undefined;
      const finish = (answer: { status: number; close: boolean }): void => {
        received = Buffer.alloc(0);
        sized = undefined;
        if (answer.close) {
          socket = undefined;
          tls.end();
        }
        const waiting = pending;
        pending = undefined;
        waiting?.resolve(answer.status);
      };
      tls.on("data", (data: Buffer) => {
        if (sized) {
          sized.remaining -= data.length;
          if (sized.remaining <= 0) finish(sized);
          return;
        }
        received = received.length === 0 ? data : Buffer.concat([received, data]);
        const answer = parseAnswer(received);
        if (answer?.end === undefined) return;
        if (received.length >= answer.end) finish(answer);
        else sized = { ...answer, remaining: answer.end - received.length };
      });
    });

  return async (method, path, body) => {
    if (busy) throw new Error("one request at a time per connection");
    busy = true;
    try {
      const current = (socket ??= await open());
      const payload = body === undefined ? "" : JSON.stringify(body);
      const request = `${method} ${path} HTTP/1.1\r\n${fixedHeaders}Content-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`;
      const status = await new Promise<number>((resolve, reject) => {
        pending = { resolve, reject };
        current.write(request);
      });
      if (status >= 300) throw new Error(`${method} ${path}: ${status}`);
      return status;
    } finally {
      busy = false;
    }
  };
}
