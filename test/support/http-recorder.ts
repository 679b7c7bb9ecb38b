// A local HTTP server standing in for a vendor API (PagerDuty Events v2, Opsgenie, Jira): records every
// request (method, path, headers, JSON body) and answers through a handler the test gives, with failures
// on demand. Tests check the exact request shape against the vendor's documentation.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The body parsed as JSON (undefined when empty or not JSON). */
  body: unknown;
  raw: string;
}

export interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface HttpRecorder {
  /** Base URL, without a trailing slash. */
  url: string;
  requests: RecordedRequest[];
  /** The next `n` requests get `answer` (a 500 by default) instead of the handler's. */
  failNext(n: number, answer?: Answer): void;
  close(): Promise<void>;
}

export async function startHttpRecorder(handler: (req: RecordedRequest) => Answer): Promise<HttpRecorder> {
  const requests: RecordedRequest[] = [];
  const failures: Answer[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = undefined;
    }
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body,
      raw,
    };
    requests.push(recorded);
    const answer = failures.shift() ?? handler(recorded);
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext(n, answer = { status: 500, body: { message: 'internal error' } }) {
      for (let i = 0; i < n; i++) failures.push(answer);
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
