// The console: sign-in (token or one-time link), the single-page UI's files, and the routes only the
// console needs (inbox, triage, silences, tokens, export). Every /api route here goes through the same
// auth hook as the JSON API (src/api/auth.ts); the UI uses the same API a script would.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { type SilenceError, type Silences, silenceInputSchema } from '../alerting/silences.ts';
import { type AlertRecord, SEVERITIES, TRIAGE_STATES } from '../alerting/types.ts';
import { type ConsoleAuth, principalOf, SESSION_COOKIE } from '../api/auth.ts';
import { doc, documentOnly, ITEMS, OBJECT } from '../api/openapi.ts';
import { notFound } from '../api/routes.ts';
import { createToken, revokeToken } from '../api/tokens.ts';
import type { PipewardenEvent } from '../event.ts';
import { parseQuery, parseTimeValue, QueryError, type QueryNode, withTime } from '../search/query.ts';
import type { Store } from '../store/types.ts';
import { TOKEN_ROLES } from '../store/types.ts';
import { parseExpiry } from '../util/duration.ts';
import { loginCodeKey } from './cli.ts';
import { type SourceState, sourceActivity } from './sources.ts';
import { applyTriage, type TriageInput, triageInputSchema, triageOf } from './triage.ts';

export interface ConsoleOptions {
  store: Store;
  auth: ConsoleAuth;
  silences: Silences;
  now: () => Date;
  /** Each push source enabled or not and why (from the config). */
  sources: SourceState[];
  /**
   * Called before a triage action is applied: acknowledging or resolving an alert does the same to its
   * incident and tells the incident's receivers (src/alerting/lifecycle.ts). A throw answers 503.
   */
  onTriage?: (alert: AlertRecord, input: TriageInput, by: string) => Promise<void>;
  /** The built UI (index.html, app.js, app.css); default: dist/console beside the sources. */
  webDir?: URL;
}

/** No inline script or style, nothing from elsewhere: every value on the page is attacker-controlled text. */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const ASSETS: ReadonlyMap<string, string> = new Map([
  ['index.html', 'text/html; charset=utf-8'],
  ['app.js', 'text/javascript; charset=utf-8'],
  ['app.css', 'text/css; charset=utf-8'],
]);

/** The UI's files, read once; undefined when the UI was not built (`npm run build`). */
function loadWeb(dir: URL | undefined): Map<string, Buffer> | undefined {
  const candidates = dir
    ? [dir]
    : [new URL('../../dist/console/', import.meta.url), new URL('../../console/', import.meta.url)];
  for (const d of candidates) {
    try {
      return new Map([...ASSETS.keys()].map((f) => [f, readFileSync(new URL(f, d))]));
    } catch {
      // not built here: try the next place
    }
  }
  return undefined;
}

function bad(reply: FastifyReply, error: z.ZodError) {
  const problems = error.issues.map((i) =>
    i.code === 'unrecognized_keys'
      ? `unknown field(s): ${i.keys.join(', ')}`
      : `${i.path.join('.') || 'body'}: ${i.message}`,
  );
  return reply.status(400).send({ error: 'bad_request', message: problems.join('; ') });
}

const isoTime = z.iso.datetime({ offset: true });
const text = z.string().trim().min(1).max(300);

const inboxQuerySchema = z.strictObject({
  status: z.enum([...TRIAGE_STATES, 'silenced']).optional(),
  severity: z.enum(SEVERITIES).optional(), // at least
  detector: text.optional(),
  source: text.optional(),
  repository: text.optional(), // owner/name, or an organisation (owner, or owner/*)
  actor: text.optional(),
  from: isoTime.optional(),
  to: isoTime.optional(),
  size: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().min(1).max(1000).optional(),
});

const timeParam = z.string().trim().min(1).max(40);

const searchQuerySchema = z.strictObject({
  q: z.string().max(2000).default(''),
  from: timeParam.optional(), // ISO or now-1h
  to: timeParam.optional(),
  size: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(1000).optional(),
  format: z.enum(['ndjson', 'csv']).default('ndjson'), // export only
});

/** The parsed query with the pickers' range; a QueryError or RangeError becomes a 400 naming the problem. */
function compileSearch(p: z.output<typeof searchQuerySchema>, nowMs: number) {
  const from = p.from !== undefined ? parseTimeValue(p.from, nowMs) : undefined;
  const to = p.to !== undefined ? parseTimeValue(p.to, nowMs) : undefined;
  return { node: withTime(parseQuery(p.q, nowMs), from, to), from, to };
}

/** A bucket width near (to - from) / 60, rounded up to a whole minute, hour or day. */
function histogramInterval(spanMs: number): number {
  const raw = Math.max(60_000, Math.ceil(spanMs / 60));
  for (const unit of [86_400_000, 3_600_000, 60_000]) if (raw >= unit) return Math.ceil(raw / unit) * unit;
  return 60_000;
}

const CSV_COLUMNS = [
  '@timestamp',
  'source',
  'kind',
  'action',
  'outcome',
  'actor',
  'repository',
  'ip',
  'message',
];

/** One CSV cell: quoted, and a leading = + - @ neutralised so a spreadsheet never runs it as a formula. */
function csvCell(value: string | undefined): string {
  let v = value ?? '';
  if (/^[=+\-@\t\r]/.test(v)) v = `'${v}`;
  return `"${v.replaceAll('"', '""')}"`;
}

function csvRow(e: PipewardenEvent): string {
  return `${[
    e['@timestamp'],
    e.pipewarden.source,
    e.pipewarden.kind,
    e.event.action,
    e.event.outcome,
    e.user?.name,
    e.pipewarden.repository,
    e.source?.ip,
    e.message,
  ]
    .map(csvCell)
    .join(',')}\r\n`;
}

const signInSchema = z.strictObject({ token: z.string().min(1).max(200) });
const tokenInputSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  role: z.enum(TOKEN_ROLES).default('viewer'),
  expires: z.string().max(40).optional(), // 30m, 12h, 90d or an ISO time
});
const idParam = z.strictObject({ id: z.string().min(1).max(200) });
const savedQuerySchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  q: z.string().max(2000),
  range: z.string().max(10).optional(),
});
type SavedQuery = z.output<typeof savedQuerySchema>;
const S = ['session'];
const A = ['alerts'];
const SIL = ['silences'];
const TOK = ['tokens'];

export async function consoleRoutes(app: FastifyInstance, opts: ConsoleOptions): Promise<void> {
  const { store, auth, silences, now } = opts;
  documentOnly(app);
  const web = loadWeb(opts.webDir);

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('content-security-policy', CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    return payload;
  });

  const page = (file: string) => async (_req: FastifyRequest, reply: FastifyReply) => {
    if (!web)
      return reply
        .status(503)
        .send({ error: 'console_not_built', message: 'the console UI is not built: run npm run build' });
    return reply
      .type(ASSETS.get(file)!)
      .header('cache-control', file === 'index.html' ? 'no-store' : 'no-cache')
      .send(web.get(file));
  };
  app.get('/', page('index.html'));
  app.get('/assets/app.js', page('app.js'));
  app.get('/assets/app.css', page('app.css'));

  const signIn = async (req: FastifyRequest, reply: FastifyReply, tokenId: string) => {
    const record = await auth.tokens.record(tokenId);
    if (!record) return undefined;
    auth.succeededSignIn(req.ip);
    const s = await auth.open(record);
    reply.setCookie(SESSION_COOKIE, s.id, auth.cookieOptions(req));
    return { name: record.name, role: record.role ?? 'admin', csrf: s.csrf };
  };

  const throttled = (req: FastifyRequest, reply: FastifyReply) => {
    const wait = auth.throttled(req.ip);
    if (wait === 0) return false;
    reply
      .status(429)
      .header('retry-after', String(wait))
      .send({ error: 'too_many_attempts', message: `too many failed sign-ins; try again in ${wait} s` });
    return true;
  };

  // Sign in with a token: opens a session (cookie) and returns its CSRF token.
  app.post(
    '/api/session',
    {
      schema: doc({
        summary: 'Sign in with a token: sets the session cookie, returns the CSRF token',
        tags: S,
        body: signInSchema,
        response: { 200: OBJECT, 429: OBJECT },
      }),
    },
    async (req, reply) => {
      if (!auth.sameOrigin(req))
        return reply.status(403).send({ error: 'csrf', message: 'cross-site sign-in refused' });
      if (throttled(req, reply)) return reply;
      const parsed = signInSchema.safeParse(req.body);
      if (!parsed.success) return bad(reply, parsed.error);
      const verdict = await auth.tokens.verify(parsed.data.token);
      if (!verdict.ok) {
        auth.failedSignIn(req.ip);
        req.log.warn({ ip: req.ip, reason: verdict.reason }, 'Failed console sign-in.');
        return reply.status(401).send({ error: 'unauthorized', message: verdict.reason });
      }
      return signIn(req, reply, verdict.record.id);
    },
  );

  // The one-time link printed by `pipewarden console login`.
  app.get('/login', async (req, reply) => {
    if (throttled(req, reply)) return reply;
    const code = (req.query as { code?: unknown }).code;
    const key = typeof code === 'string' && code.length <= 100 ? loginCodeKey(code) : undefined;
    const saved = key ? await store.getState(key) : undefined;
    const grant = saved
      ? (JSON.parse(saved) as { tokenId?: string; expiresAt?: number; used?: boolean })
      : {};
    if (!key || !grant.tokenId || grant.used || (grant.expiresAt ?? 0) < now().getTime()) {
      auth.failedSignIn(req.ip);
      return reply
        .status(401)
        .type('text/plain; charset=utf-8')
        .send(
          'This sign-in link is unknown, expired or already used. Run `pipewarden console login` again.\n',
        );
    }
    await store.putState(key, JSON.stringify({ used: true }));
    const ok = await signIn(req, reply, grant.tokenId);
    if (!ok)
      return reply.status(401).type('text/plain; charset=utf-8').send('The link’s token no longer exists.\n');
    return reply.redirect('/', 303);
  });

  await app.register(async (api) => {
    api.addHook('onRequest', auth.hook);

    api.get(
      '/api/session',
      {
        schema: doc({
          summary: "Who is signed in (and the session's CSRF token)",
          tags: S,
          response: { 200: OBJECT },
        }),
      },
      async (req) => {
        const p = principalOf(req);
        const s = await auth.session(req);
        return {
          name: p.name,
          role: p.role,
          via: p.via,
          ...('csrf' in s ? { csrf: s.csrf } : {}),
        };
      },
    );

    api.delete(
      '/api/session',
      {
        config: { role: 'viewer' },
        schema: doc({ summary: 'Sign out', tags: S, response: { 200: OBJECT } }),
      },
      async (req, reply) => {
        await auth.close(req.cookies[SESSION_COOKIE]);
        reply.clearCookie(SESSION_COOKIE, { path: '/' });
        return { signedOut: true };
      },
    );

    api.get(
      '/api/console/alerts',
      {
        schema: doc({
          summary:
            'The inbox: filtered alerts (paged by cursor) and the matching alerts counted per severity',
          tags: A,
          querystring: inboxQuerySchema,
          response: { 200: OBJECT },
        }),
      },
      async (req, reply) => {
        const parsed = inboxQuerySchema.safeParse(req.query);
        if (!parsed.success) return bad(reply, parsed.error);
        const { severity, ...q } = parsed.data;
        // Filtered, counted and paged by the store: any number of alerts, not a recent window of them.
        const page = await store.inboxAlerts({ ...q, ...(severity ? { minSeverity: severity } : {}) });
        return {
          counts: page.counts,
          total: page.total,
          items: page.items,
          ...(page.next ? { next: page.next } : {}),
        };
      },
    );

    api.post(
      '/api/alerts/:id/triage',
      {
        config: { role: 'analyst' },
        schema: doc({
          summary: 'Acknowledge, assign, resolve, comment or reopen',
          tags: A,
          params: idParam,
          body: triageInputSchema,
          response: { 200: OBJECT },
        }),
      },
      async (req, reply) => {
        const { id } = req.params as { id: string };
        const parsed = triageInputSchema.safeParse(req.body);
        if (!parsed.success) return bad(reply, parsed.error);
        const alert = await store.getAlert(id);
        if (!alert) return notFound(reply, 'alert', id);
        try {
          await opts.onTriage?.(alert, parsed.data, principalOf(req).name);
        } catch (err) {
          req.log.warn({ alert: id, err }, 'Could not pass a triage action on to the incident.');
          return reply.status(503).send({
            error: 'unavailable',
            message:
              "the alert's incident could not be updated or its receivers told (bus or store unavailable); retry",
          });
        }
        return applyTriage(store, alert, parsed.data, principalOf(req).name, now());
      },
    );

    api.get(
      '/api/console/sources',
      {
        schema: doc({
          summary:
            'Each source: enabled or why not, last event, events and rejected requests in the last hour',
          tags: ['sources'],
          response: { 200: ITEMS },
        }),
      },
      async () => ({
        items: await sourceActivity(store, opts.sources, now().getTime()),
      }),
    );

    // Saved queries, per user (per token): a small state document each.
    const savedKey = (req: FastifyRequest) => `saved-queries:${principalOf(req).tokenId}`;
    const readSaved = async (req: FastifyRequest): Promise<SavedQuery[]> => {
      const text = await store.getState(savedKey(req));
      return text ? (JSON.parse(text) as SavedQuery[]) : [];
    };
    api.get(
      '/api/saved-queries',
      { schema: doc({ summary: 'My saved queries', tags: ['events'], response: { 200: ITEMS } }) },
      async (req) => ({ items: await readSaved(req) }),
    );
    api.post(
      '/api/saved-queries',
      {
        config: { role: 'viewer' },
        schema: doc({
          summary: 'Save a query under a name (replaces one of that name)',
          tags: ['events'],
          body: savedQuerySchema,
          response: { 200: ITEMS },
        }),
      },
      async (req, reply) => {
        const parsed = savedQuerySchema.safeParse(req.body);
        if (!parsed.success) return bad(reply, parsed.error);
        try {
          parseQuery(parsed.data.q);
        } catch (err) {
          if (err instanceof QueryError)
            return reply.status(400).send({ error: 'bad_query', message: err.message });
          throw err;
        }
        const items = [
          ...(await readSaved(req)).filter((x) => x.name !== parsed.data.name),
          parsed.data,
        ].slice(-100);
        await store.putState(savedKey(req), JSON.stringify(items));
        return { items };
      },
    );
    api.delete(
      '/api/saved-queries/:name',
      {
        config: { role: 'viewer' },
        schema: doc({
          summary: 'Forget a saved query',
          tags: ['events'],
          params: z.strictObject({ name: z.string().min(1).max(100) }),
          response: { 200: ITEMS },
        }),
      },
      async (req) => {
        const { name } = req.params as { name: string };
        const items = (await readSaved(req)).filter((x) => x.name !== name);
        await store.putState(savedKey(req), JSON.stringify(items));
        return { items };
      },
    );

    api.get(
      '/api/silences',
      { schema: doc({ summary: 'Silences, newest first', tags: SIL, response: { 200: ITEMS } }) },
      async () => ({ items: (await silences.list()).reverse() }),
    );

    api.post(
      '/api/silences',
      {
        config: { role: 'analyst' },
        schema: doc({
          summary: 'Create a silence',
          tags: SIL,
          body: silenceInputSchema,
          response: { 201: OBJECT },
        }),
      },
      async (req, reply) => {
        const parsed = silenceInputSchema.safeParse(req.body);
        if (!parsed.success) return bad(reply, parsed.error);
        try {
          return reply.status(201).send(await silences.create(parsed.data, principalOf(req).name));
        } catch (err) {
          if ((err as SilenceError).name === 'SilenceError')
            return reply.status(400).send({ error: 'bad_request', message: (err as Error).message });
          throw err;
        }
      },
    );

    api.post(
      '/api/silences/:id/expire',
      {
        config: { role: 'analyst' },
        schema: doc({ summary: 'End a silence now', tags: SIL, params: idParam, response: { 200: OBJECT } }),
      },
      async (req, reply) => {
        const { id } = req.params as { id: string };
        const s = await silences.expire(id, principalOf(req).name);
        if (!s) return notFound(reply, 'silence', id);
        return s;
      },
    );

    api.get(
      '/api/tokens',
      {
        config: { role: 'admin' },
        schema: doc({ summary: 'Tokens (never their secret)', tags: TOK, response: { 200: ITEMS } }),
      },
      async () => ({
        items: (await store.listTokens()).map(({ hash: _hash, ...t }) => ({ ...t, role: t.role ?? 'admin' })),
      }),
    );

    api.post(
      '/api/tokens',
      {
        config: { role: 'admin' },
        schema: doc({
          summary: 'Create a token (shown once)',
          tags: TOK,
          body: tokenInputSchema,
          response: { 201: OBJECT },
        }),
      },
      async (req, reply) => {
        const parsed = tokenInputSchema.safeParse(req.body);
        if (!parsed.success) return bad(reply, parsed.error);
        const at = now();
        const expiresAt =
          parsed.data.expires === undefined ? undefined : parseExpiry(parsed.data.expires, at);
        if (parsed.data.expires !== undefined && !expiresAt)
          return reply.status(400).send({
            error: 'bad_request',
            message: 'expires: a duration (30m, 12h, 90d) or a future ISO time',
          });
        const { token, record } = await createToken(store, parsed.data.name, at, {
          role: parsed.data.role,
          ...(expiresAt ? { expiresAt } : {}),
        });
        const { hash: _hash, ...shown } = record;
        return reply.status(201).send({ token, ...shown });
      },
    );

    api.post(
      '/api/tokens/:id/revoke',
      {
        config: { role: 'admin' },
        schema: doc({ summary: 'Revoke a token', tags: TOK, params: idParam, response: { 200: OBJECT } }),
      },
      async (req, reply) => {
        const { id } = req.params as { id: string };
        const revoked = await revokeToken(store, id, now());
        if (!revoked) return notFound(reply, 'token', id);
        auth.tokens.forget(id);
        const { hash: _hash, ...shown } = revoked;
        return shown;
      },
    );

    // Search in the query language (src/search/query.ts): a page of events and their histogram.
    api.get(
      '/api/search',
      {
        schema: doc({
          summary: 'Search in the query language: a page of events and their histogram',
          tags: ['events'],
          querystring: searchQuerySchema,
          response: { 200: OBJECT },
        }),
      },
      async (req, reply) => {
        const parsed = searchQuerySchema.safeParse(req.query);
        if (!parsed.success) return bad(reply, parsed.error);
        const nowMs = now().getTime();
        try {
          const { node, from, to } = compileSearch(parsed.data, nowMs);
          const end = to ?? nowMs;
          const start = from ?? end - 7 * 86_400_000;
          const [page, histogram] = await Promise.all([
            store.queryEvents(node, {
              size: parsed.data.size,
              ...(parsed.data.cursor ? { cursor: parsed.data.cursor } : {}),
            }),
            store.eventHistogram(node, { from: start, to: end, interval: histogramInterval(end - start) }),
          ]);
          return { ...page, histogram };
        } catch (err) {
          if (err instanceof QueryError || err instanceof RangeError)
            return reply.status(400).send({ error: 'bad_query', message: err.message });
          throw err;
        }
      },
    );

    // The current search as NDJSON or CSV, streamed page by page (any size, constant memory).
    api.get(
      '/api/events/export',
      {
        schema: doc({
          summary: 'The query streamed as NDJSON or CSV',
          tags: ['events'],
          querystring: searchQuerySchema,
          response: { 200: { type: 'string' } },
        }),
      },
      async (req, reply) => {
        const parsed = searchQuerySchema.safeParse(req.query);
        if (!parsed.success) return bad(reply, parsed.error);
        const { format } = parsed.data;
        let query: QueryNode;
        try {
          query = compileSearch(parsed.data, now().getTime()).node;
        } catch (err) {
          if (err instanceof QueryError)
            return reply.status(400).send({ error: 'bad_query', message: err.message });
          throw err;
        }
        // The store's documents as they are stored (NDJSON needs no re-encoding), in large batches with
        // no total counted: one chunk per batch, so the socket sees few large writes.
        async function* lines() {
          if (format === 'csv') yield `${CSV_COLUMNS.map(csvCell).join(',')}\r\n`;
          for await (const docs of store.exportEvents(query)) {
            yield format === 'csv'
              ? docs.map((d) => csvRow(JSON.parse(d) as PipewardenEvent)).join('')
              : `${docs.join('\n')}\n`;
          }
        }
        return reply
          .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
          .header('content-disposition', `attachment; filename="pipewarden-events.${format}"`)
          .send(Readable.from(lines()));
      },
    );
  });
}
