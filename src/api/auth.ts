// Who is asking: a bearer token (scripts) or a console session cookie (people), with a role each.
// Sessions live in the store, keyed by a hash of their id (the cookie value is never stored), so they
// survive a restart and work across API replicas; each replica caches one for at most SESSION_CACHE_MS.
// A session is bound to the token that opened it (revoking the token deletes its sessions, and a session
// of a refused token ends), expires when idle, and carries a CSRF token (derived from its id) that every
// state-changing request must echo in X-CSRF-Token, from our own origin.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import '@fastify/cookie'; // types: request.cookies
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Counters } from '../metrics.ts';
import type { SessionRecord, Store, TokenRecord, TokenRole } from '../store/types.ts';
import { refusal, roleAllows, roleOf, type TokenVerifier } from './tokens.ts';

export const SESSION_COOKIE = 'pw_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface Principal {
  tokenId: string;
  name: string;
  role: TokenRole;
  via: 'bearer' | 'session';
}

/** How long a replica trusts its copy of a session record (sign-out elsewhere is seen within this). */
export const SESSION_CACHE_MS = 2_000;

/** The store key of a session: its id hashed, so the store never holds a usable cookie value. */
export function sessionKey(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/** The session's CSRF token: derived from its id (one-way), so no replica needs to store it. */
function csrfOf(id: string): string {
  return createHash('sha256').update('pipewarden console csrf\0').update(id).digest('base64url');
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Failed sign-ins from one address before it must wait, and for how long the count is kept. */
const MAX_FAILURES = 5;
const FAILURE_WINDOW_MS = 15 * 60_000;

const principals = new WeakMap<FastifyRequest, Principal>();

/** The authenticated caller of a request (after the auth hook ran). */
export function principalOf(req: FastifyRequest): Principal {
  const p = principals.get(req);
  if (!p) throw new Error('principalOf called on a request the auth hook did not authenticate');
  return p;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class ConsoleAuth {
  readonly tokens: TokenVerifier;
  readonly #metrics: Counters;
  readonly #idleMs: number;
  readonly #publicOrigin: string | undefined;
  readonly #store: Store;
  readonly #cache = new Map<string, { record: SessionRecord; until: number }>();
  #sweptAt = 0;
  readonly #failures = new Map<string, { count: number; first: number }>();
  readonly #now: () => number;

  constructor(options: {
    tokens: TokenVerifier;
    store: Store;
    metrics: Counters;
    sessionMinutes: number;
    publicUrl?: string;
    now?: () => number;
  }) {
    this.tokens = options.tokens;
    this.#store = options.store;
    this.#metrics = options.metrics;
    this.#idleMs = options.sessionMinutes * 60_000;
    this.#publicOrigin = options.publicUrl ? new URL(options.publicUrl).origin : undefined;
    this.#now = options.now ?? Date.now;
  }

  /** Seconds the address must wait before trying again, or 0. */
  throttled(ip: string): number {
    const f = this.#failures.get(ip);
    if (!f) return 0;
    const left = f.first + FAILURE_WINDOW_MS - this.#now();
    if (left <= 0) {
      this.#failures.delete(ip);
      return 0;
    }
    return f.count >= MAX_FAILURES ? Math.ceil(left / 1000) : 0;
  }

  succeededSignIn(ip: string): void {
    this.#failures.delete(ip);
  }

  failedSignIn(ip: string): void {
    this.#metrics.inc('pipewarden_console_signin_failures_total');
    const f = this.#failures.get(ip);
    if (f && f.first + FAILURE_WINDOW_MS > this.#now()) f.count++;
    else this.#failures.set(ip, { count: 1, first: this.#now() });
    if (this.#failures.size > 100_000) this.#failures.clear();
  }

  /** Opens a session for a verified token record: the cookie value and its CSRF token. */
  async open(record: TokenRecord): Promise<{ id: string; csrf: string }> {
    const id = randomBytes(32).toString('base64url');
    const now = this.#now();
    const session: SessionRecord = {
      id: sessionKey(id),
      tokenId: record.id,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.#idleMs).toISOString(),
    };
    await this.#store.putSession(session);
    this.#cache.set(session.id, { record: session, until: now + SESSION_CACHE_MS });
    // Expired sessions are refused when read; the ones nobody comes back with are swept now and then.
    if (now - this.#sweptAt > 3_600_000) {
      this.#sweptAt = now;
      void this.#store.deleteSessions({ expiredBefore: new Date(now).toISOString() }).catch(() => undefined);
    }
    return { id, csrf: csrfOf(id) };
  }

  /** Ends the session everywhere (every replica reads the store). */
  async close(sessionId: string | undefined): Promise<void> {
    if (!sessionId) return;
    const key = sessionKey(sessionId);
    this.#cache.delete(key);
    await this.#store.deleteSessions({ id: key });
  }

  /** The stored session (cached for at most SESSION_CACHE_MS after it was read). */
  async #read(key: string, now: number): Promise<SessionRecord | undefined> {
    const cached = this.#cache.get(key);
    if (cached && cached.until > now) return cached.record;
    const record = await this.#store.getSession(key);
    if (record) this.#cache.set(key, { record, until: now + SESSION_CACHE_MS });
    else this.#cache.delete(key);
    if (this.#cache.size > 10_000) this.#cache.clear();
    return record;
  }

  async #end(key: string): Promise<void> {
    this.#cache.delete(key);
    await this.#store.deleteSessions({ id: key });
  }

  cookieOptions(req: FastifyRequest) {
    return {
      path: '/',
      httpOnly: true,
      sameSite: 'strict' as const,
      secure: req.protocol === 'https',
      maxAge: Math.floor(this.#idleMs / 1000),
    };
  }

  /** The session of this request (still valid, token still good), touching its idle timer. */
  async session(
    req: FastifyRequest,
  ): Promise<{ id: string; csrf: string; record: TokenRecord; touched: boolean } | { reason: string }> {
    const id = req.cookies?.[SESSION_COOKIE];
    if (!id || id.length > 200) return { reason: 'not signed in' };
    const key = sessionKey(id);
    const now = this.#now();
    const session = await this.#read(key, now);
    if (!session) return { reason: 'session ended; sign in again' };
    const expires = Date.parse(session.expiresAt);
    if (!(expires > now)) {
      await this.#end(key);
      return { reason: 'session expired; sign in again' };
    }
    const record = await this.tokens.record(session.tokenId, now);
    const refused = record ? refusal(record, now) : 'token deleted';
    if (!record || refused) {
      await this.#end(key);
      return { reason: `session ended: ${refused}` };
    }
    // Move the idle expiry forward, writing at most every tenth of the idle time (and at least once a minute).
    if (now + this.#idleMs - expires >= Math.min(60_000, this.#idleMs / 10)) {
      const touched = { ...session, expiresAt: new Date(now + this.#idleMs).toISOString() };
      if (!(await this.#store.touchSession(key, touched.expiresAt))) {
        this.#cache.delete(key); // signed out (or revoked) on another replica since this one cached it
        return { reason: 'session ended; sign in again' };
      }
      this.#cache.set(key, { record: touched, until: now + SESSION_CACHE_MS });
      return { id, csrf: csrfOf(id), record, touched: true };
    }
    return { id, csrf: csrfOf(id), record, touched: false };
  }

  /** Whether a state-changing request comes from our own pages: Origin (when sent) is ours. */
  sameOrigin(req: FastifyRequest): boolean {
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') return false;
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    const own = `${req.protocol}://${req.host}`;
    return origin === own || origin === this.#publicOrigin;
  }

  /**
   * The onRequest hook of every /api route: authenticates, then checks CSRF (sessions, unsafe methods)
   * and the role the route needs (its `config.role`; default viewer for reads, analyst for writes).
   */
  hook = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const auth = req.headers.authorization;
    let principal: Principal;
    if (auth) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      if (!m)
        return reply
          .status(401)
          .send({ error: 'unauthorized', message: 'Authorization header must be "Bearer <token>"' });
      const verdict = await this.tokens.verify(m[1]!);
      if (!verdict.ok) {
        this.#metrics.inc('pipewarden_api_auth_failures_total');
        req.log.warn({ ip: req.ip, reason: verdict.reason }, 'Rejected an API request.');
        return reply.status(401).send({ error: 'unauthorized', message: verdict.reason });
      }
      const r = verdict.record;
      principal = { tokenId: r.id, name: r.name, role: roleOf(r), via: 'bearer' };
    } else {
      const s = await this.session(req);
      if ('reason' in s) {
        const message = req.cookies?.[SESSION_COOKIE]
          ? s.reason
          : 'missing Authorization: Bearer <token> header (or a console session)';
        return reply.status(401).send({ error: 'unauthorized', message });
      }
      if (!SAFE_METHODS.has(req.method)) {
        const sent = req.headers[CSRF_HEADER];
        if (!this.sameOrigin(req))
          return reply.status(403).send({ error: 'csrf', message: 'cross-site request refused' });
        if (typeof sent !== 'string' || !sameText(sent, s.csrf))
          return reply
            .status(403)
            .send({ error: 'csrf', message: `missing or wrong ${CSRF_HEADER} header (CSRF protection)` });
      }
      // The idle expiry moved forward: so does the cookie's, or a browser in steady use would drop it
      // Max-Age after sign-in while the session itself was still alive.
      if (s.touched) reply.setCookie(SESSION_COOKIE, s.id, this.cookieOptions(req));
      principal = { tokenId: s.record.id, name: s.record.name, role: roleOf(s.record), via: 'session' };
    }
    const need =
      (req.routeOptions.config as { role?: TokenRole } | undefined)?.role ??
      (SAFE_METHODS.has(req.method) ? 'viewer' : 'analyst');
    if (!roleAllows(principal.role, need))
      return reply.status(403).send({
        error: 'forbidden',
        message: `this needs the ${need} role; token '${principal.name}' has ${principal.role}`,
      });
    principals.set(req, principal);
    return undefined;
  };
}
