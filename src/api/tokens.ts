// API bearer tokens: random, shown once, stored only as a SHA-256 hash. There is no default token.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store, TokenRecord } from '../store/types.ts';

const TOKEN = /^pw_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/; // pw_<lookup id>_<256-bit secret, base64url>

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export async function createToken(
  store: Store,
  name: string,
  now = new Date(),
): Promise<{ token: string; record: TokenRecord }> {
  const id = randomBytes(8).toString('hex');
  const token = `pw_${id}_${randomBytes(32).toString('base64url')}`;
  const record: TokenRecord = { id, name, hash: sha256(token), createdAt: now.toISOString() };
  await store.putToken(record);
  return { token, record };
}

/** Checks bearer tokens against the store, caching known-good ones briefly to spare the store. */
export class TokenVerifier {
  readonly #store: Store;
  readonly #cache = new Map<string, { record: TokenRecord; until: number }>();
  readonly #ttlMs: number;

  constructor(store: Store, ttlMs = 30_000) {
    this.#store = store;
    this.#ttlMs = ttlMs;
  }

  /** The token's record, or a reason it is refused. */
  async verify(
    token: string,
    nowMs = Date.now(),
  ): Promise<{ ok: true; record: TokenRecord } | { ok: false; reason: string }> {
    const m = TOKEN.exec(token);
    if (!m) return { ok: false, reason: 'malformed token (expected pw_<id>_<secret>)' };
    const id = m[1]!;
    const cached = this.#cache.get(id);
    const record = cached && cached.until > nowMs ? cached.record : await this.#store.getToken(id);
    if (!record) return { ok: false, reason: 'unknown token' };
    const a = Buffer.from(record.hash, 'hex');
    const b = Buffer.from(sha256(token), 'hex');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: 'unknown token' };
    this.#cache.set(id, { record, until: nowMs + this.#ttlMs });
    return { ok: true, record };
  }
}
