// API bearer tokens: random, shown once, stored only as a SHA-256 hash. There is no default token.
// Each has a role (viewer < analyst < admin), an optional expiry, and can be revoked.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store, TokenRecord, TokenRole } from '../store/types.ts';
import { TOKEN_ROLES } from '../store/types.ts';

const TOKEN = /^pw_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/; // pw_<lookup id>_<256-bit secret, base64url>

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A record made before roles existed had full access: it stays admin. */
export function roleOf(record: TokenRecord): TokenRole {
  return record.role ?? 'admin';
}

/** Whether `have` includes everything `need` may do. */
export function roleAllows(have: TokenRole, need: TokenRole): boolean {
  return TOKEN_ROLES.indexOf(have) >= TOKEN_ROLES.indexOf(need);
}

export async function createToken(
  store: Store,
  name: string,
  now = new Date(),
  options: { role?: TokenRole; expiresAt?: string } = {},
): Promise<{ token: string; record: TokenRecord }> {
  const id = randomBytes(8).toString('hex');
  const token = `pw_${id}_${randomBytes(32).toString('base64url')}`;
  const record: TokenRecord = { id, name, hash: sha256(token), createdAt: now.toISOString() };
  if (options.role) record.role = options.role;
  if (options.expiresAt) record.expiresAt = options.expiresAt;
  await store.putToken(record);
  return { token, record };
}

/**
 * Marks the token revoked and deletes its console sessions; undefined when no token has this id. Verifiers
 * refuse it within their cache TTL.
 */
export async function revokeToken(
  store: Store,
  id: string,
  now = new Date(),
): Promise<TokenRecord | undefined> {
  const record = await store.getToken(id);
  if (!record) return undefined;
  if (!record.revokedAt) await store.putToken({ ...record, revokedAt: now.toISOString() });
  await store.deleteSessions({ tokenId: id });
  return { ...record, revokedAt: record.revokedAt ?? now.toISOString() };
}

/** Why a record cannot be used now, or undefined when it can. */
export function refusal(record: TokenRecord, nowMs: number): string | undefined {
  if (record.revokedAt) return 'token revoked';
  if (record.expiresAt && Date.parse(record.expiresAt) <= nowMs) return 'token expired';
  return undefined;
}

/**
 * Checks bearer tokens against the store. A record is cached for at most `ttlMs` after it was READ from
 * the store (a hit never extends it), so a revocation is seen within ttlMs however often the token is used.
 */
export class TokenVerifier {
  readonly #store: Store;
  readonly #cache = new Map<string, { record: TokenRecord; until: number }>();
  readonly #lastUseWritten = new Map<string, number>();
  readonly #ttlMs: number;

  constructor(store: Store, ttlMs = 5_000) {
    this.#store = store;
    this.#ttlMs = ttlMs;
  }

  /** The token's record by id (fresh within ttlMs), or undefined. For sessions bound to a token. */
  async record(id: string, nowMs = Date.now()): Promise<TokenRecord | undefined> {
    const cached = this.#cache.get(id);
    if (cached && cached.until > nowMs) return cached.record;
    const record = await this.#store.getToken(id);
    if (record) this.#cache.set(id, { record, until: nowMs + this.#ttlMs });
    else this.#cache.delete(id);
    if (this.#cache.size > 10_000) this.#cache.clear();
    return record;
  }

  /** Forget a cached record (after this process revoked it). */
  forget(id: string): void {
    this.#cache.delete(id);
  }

  /** The token's record, or a reason it is refused. */
  async verify(
    token: string,
    nowMs = Date.now(),
  ): Promise<{ ok: true; record: TokenRecord } | { ok: false; reason: string }> {
    const m = TOKEN.exec(token);
    if (!m) return { ok: false, reason: 'malformed token (expected pw_<id>_<secret>)' };
    const id = m[1]!;
    const record = await this.record(id, nowMs);
    if (!record) return { ok: false, reason: 'unknown token' };
    const a = Buffer.from(record.hash, 'hex');
    const b = Buffer.from(sha256(token), 'hex');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: 'unknown token' };
    const refused = refusal(record, nowMs);
    if (refused) return { ok: false, reason: refused };
    this.#noteUse(record, nowMs);
    return { ok: true, record };
  }

  /** Records the last use at most once a minute per token, without making the request wait. */
  #noteUse(record: TokenRecord, nowMs: number): void {
    const last = this.#lastUseWritten.get(record.id) ?? 0;
    if (nowMs - last < 60_000) return;
    this.#lastUseWritten.set(record.id, nowMs);
    // Re-read so a revocation written meanwhile is not overwritten by this stale copy.
    void this.#store
      .getToken(record.id)
      .then((fresh) =>
        fresh ? this.#store.putToken({ ...fresh, lastUsedAt: new Date(nowMs).toISOString() }) : undefined,
      )
      .catch(() => {
        // best effort: last use is informational
      });
  }
}
