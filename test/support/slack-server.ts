// A local peer for the real @slack/web-api client: the parts of the Slack Web API pipewarden uses
// (chat.postMessage, auth.test), with failures on demand. Point the client's slackApiUrl at `url`.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type SlackFailMode =
  | 'ratelimit'
  | 'server_error'
  | 'invalid_auth'
  | 'channel_not_found'
  | 'not_in_channel';

/** A chat.postMessage body as the client sent it, with JSON-encoded fields (blocks, ...) decoded. */
export interface SlackPostedMessage {
  channel: string;
  text?: string;
  blocks?: Array<Record<string, unknown>>;
  [key: string]: unknown;
}

export interface SlackServerOptions {
  /** The bot token the server accepts; anything else gets invalid_auth. */
  token?: string;
  /** When given, chat.postMessage to any other channel gets channel_not_found. */
  channels?: string[];
  /** Seconds in the Retry-After header of a rate-limited answer. */
  retryAfter?: number;
}

export interface SlackServer {
  /** The Web API base, ending in '/': pass as slackApiUrl / the sink's apiUrl. */
  url: string;
  token: string;
  /** Accepted chat.postMessage bodies, in arrival order (thread replies carry thread_ts). */
  messages: SlackPostedMessage[];
  /** Accepted chat.update bodies, in arrival order. */
  updates: SlackPostedMessage[];
  /** Each message's current state by `channel ts` (chat.update edits it). */
  current: Map<string, SlackPostedMessage>;
  /** Every API call received, failed ones included (to count attempts). */
  requests: Array<{ method: string; status: number; error?: string }>;
  /** The next `n` API calls fail with `mode`. */
  failNext(n: number, mode: SlackFailMode): void;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;
// Fields Slack takes as JSON strings in a form-encoded body.
const JSON_FIELDS = new Set(['blocks', 'attachments', 'metadata']);

export async function startSlackServer(options: SlackServerOptions = {}): Promise<SlackServer> {
  const token = options.token ?? 'xoxb-pipewarden-test';
  const retryAfter = options.retryAfter ?? 1;
  const messages: SlackPostedMessage[] = [];
  const updates: SlackPostedMessage[] = [];
  const current = new Map<string, SlackPostedMessage>();
  const requests: SlackServer['requests'] = [];
  const failures: SlackFailMode[] = [];
  let seq = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) reply(res, 500, { ok: false, error: 'internal_error', detail: String(err) });
      else res.destroy();
    });
  });

  function reply(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const method = path.startsWith('/api/') ? path.slice('/api/'.length) : path;
    const answer = (
      status: number,
      body: { ok: boolean; error?: string } & Record<string, unknown>,
      headers = {},
    ) => {
      requests.push({ method, status, ...(body.error ? { error: body.error } : {}) });
      reply(res, status, body, headers);
    };
    if (req.method !== 'POST' || !path.startsWith('/api/')) {
      return answer(404, { ok: false, error: 'unknown_method' });
    }
    let args: Record<string, unknown>;
    try {
      args = await readArgs(req);
    } catch (err) {
      return answer(400, { ok: false, error: 'invalid_arguments', detail: (err as Error).message });
    }

    const failure = failures.shift();
    if (failure === 'ratelimit') {
      return answer(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(retryAfter) });
    }
    if (failure === 'server_error') {
      requests.push({ method, status: 500 });
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('Internal Server Error');
      return;
    }
    if (failure) return answer(200, { ok: false, error: failure });

    // Slack takes the token from the Authorization header or, for form posts, a token field.
    const auth = req.headers.authorization;
    const given = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : args.token;
    if (given === undefined || given === '') return answer(200, { ok: false, error: 'not_authed' });
    if (given !== token) return answer(200, { ok: false, error: 'invalid_auth' });

    switch (method) {
      case 'auth.test':
        return answer(200, {
          ok: true,
          url: 'https://pipewarden-test.slack.com/',
          team: 'pipewarden-test',
          user: 'pipewarden',
          team_id: 'T0PIPEWARD',
          user_id: 'U0PIPEWARD',
          bot_id: 'B0PIPEWARD',
        });
      case 'chat.postMessage': {
        const channel = typeof args.channel === 'string' ? args.channel : '';
        if (!channel) return answer(200, { ok: false, error: 'channel_not_found' });
        if (options.channels && !options.channels.includes(channel)) {
          return answer(200, { ok: false, error: 'channel_not_found' });
        }
        if (!args.text && !args.blocks && !args.attachments)
          return answer(200, { ok: false, error: 'no_text' });
        seq += 1;
        const ts = `${1_700_000_000 + seq}.${String(seq).padStart(6, '0')}`;
        const { token: _token, ...message } = args;
        if (message.thread_ts !== undefined && !current.has(`${channel} ${message.thread_ts}`))
          return answer(200, { ok: false, error: 'thread_not_found' });
        messages.push(message as SlackPostedMessage);
        current.set(`${channel} ${ts}`, { ...(message as SlackPostedMessage), ts });
        return answer(200, {
          ok: true,
          channel,
          ts,
          message: {
            type: 'message',
            user: 'U0PIPEWARD',
            bot_id: 'B0PIPEWARD',
            ts,
            text: args.text,
            blocks: args.blocks,
          },
        });
      }
      case 'chat.update': {
        const channel = typeof args.channel === 'string' ? args.channel : '';
        const ts = typeof args.ts === 'string' ? args.ts : '';
        const before = current.get(`${channel} ${ts}`);
        if (!before) return answer(200, { ok: false, error: 'message_not_found' });
        if (!args.text && !args.blocks) return answer(200, { ok: false, error: 'no_text' });
        const { token: _token, ...update } = args;
        updates.push(update as SlackPostedMessage);
        current.set(`${channel} ${ts}`, { ...before, ...(update as SlackPostedMessage) });
        return answer(200, { ok: true, channel, ts, text: args.text });
      }
      default:
        return answer(200, { ok: false, error: 'unknown_method' });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/api/`,
    token,
    messages,
    updates,
    current,
    requests,
    failNext(n, mode) {
      for (let i = 0; i < n; i++) failures.push(mode);
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // fetch keeps connections alive: without this, close waits for them to time out
        server.closeAllConnections();
      });
    },
  };
}

/** Reads a form-urlencoded or JSON body into arguments, decoding the fields Slack sends as JSON strings. */
async function readArgs(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks).toString('utf8');
  if (body === '') return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json') {
    const parsed: unknown = JSON.parse(body);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('JSON body must be an object');
    return parsed as Record<string, unknown>;
  }
  if (type === 'application/x-www-form-urlencoded') {
    const args: Record<string, unknown> = {};
    for (const [key, value] of new URLSearchParams(body)) {
      args[key] = JSON_FIELDS.has(key) ? JSON.parse(value) : value;
    }
    return args;
  }
  throw new Error(`unsupported content-type ${type}`);
}
