// Issue 10 item 10, DNS rebinding: a vendor log-storage host that resolves to a public address when the
// redirect is checked and to loopback when the fetcher connects must not be reached. The check used to
// resolve the name and the fetch to resolve it again; now the connection's own lookup is the check.
import { createServer as createHttpServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchError, fetchLog } from '../../src/ingest/build-logs/fetch.ts';
import type { FetchTarget } from '../../src/ingest/build-logs/fetcher.ts';
import type { BuildLogWriter } from '../../src/ingest/build-logs/writer.ts';

let api: Server;
let loopback: TcpServer;
let apiUrl: string;
let loopbackPort: number;
let connections = 0;

beforeAll(async () => {
  // What the rebound name leads to: a loopback service; any connection to it is the attack succeeding.
  loopback = createTcpServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((r) => loopback.listen(0, '127.0.0.1', () => r()));
  loopbackPort = (loopback.address() as AddressInfo).port;
  api = createHttpServer((_req, res) => {
    res.writeHead(302, { location: `https://logs.rebind.test:${loopbackPort}/job.log` }).end();
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => api?.close(r));
  await new Promise((r) => loopback?.close(r));
});

describe('a redirect to a vendor host that rebinds', () => {
  it('is refused when the connection is made, and loopback is never reached', async () => {
    const asked: string[] = [];
    // Public for the first answer, loopback for every later one.
    const lookup = async (host: string) => {
      asked.push(host);
      return asked.length === 1 ? ['140.82.112.21'] : ['127.0.0.1'];
    };
    const target: FetchTarget = {
      job: '42',
      source: 'github',
      url: `${apiUrl}/repos/acme/app/actions/jobs/42/logs`,
      headers: {},
      redirects: { apiOrigin: apiUrl, allowHosts: [], vendorHosts: ['*.rebind.test'] },
    };
    const got: string[] = [];
    const writer = {
      async write(body: ReadableStream<Uint8Array>) {
        got.push(await new Response(body).text());
        return { chunks: 1, bytes: 0, secrets: 0 };
      },
    } as unknown as BuildLogWriter;
    const err = await fetchLog(target, writer, 10_000, lookup).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).retryable).toBe(false);
    expect((err as Error).message).toMatch(/refused: logs\.rebind\.test resolves to 127\.0\.0\.1/);
    expect(asked).toEqual(['logs.rebind.test', 'logs.rebind.test']); // checked, then resolved to connect
    expect(connections).toBe(0);
    expect(got).toHaveLength(0);
  });
});
