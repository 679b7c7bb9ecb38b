// Jenkins plugins authenticate with Basic (URL user-info, the Elasticsearch logger) or a bearer token.
import { tokenEquals } from '../../src/ingest/crypto.ts';
import { type Headers, header, type VerifyResult } from '../../src/ingest/types.ts';

/** Basic (any user name, the secret as password) or Bearer (the secret), compared in constant time. */
export function basicOrBearer(headers: Headers, secret: string | undefined): VerifyResult {
  const auth = header(headers, 'authorization');
  if (!auth)
    return {
      ok: false,
      reason: 'missing Authorization header (send Basic <user:secret> or Bearer <secret>)',
    };
  const space = auth.indexOf(' ');
  const scheme = (space === -1 ? auth : auth.slice(0, space)).toLowerCase();
  const value = space === -1 ? '' : auth.slice(space + 1).trim();
  let sent: string;
  if (scheme === 'bearer') sent = value;
  else if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) return { ok: false, reason: 'Basic credentials must be base64 of "user:password"' };
    sent = decoded.slice(colon + 1);
  } else return { ok: false, reason: 'Authorization must use the Basic or Bearer scheme' };
  // Compare even when no secret is configured, so the answer time does not say which case it was.
  const ok = tokenEquals(secret ?? '\u0000no secret configured', sent) && secret !== undefined;
  return ok
    ? { ok: true }
    : { ok: false, reason: 'Authorization credentials do not match the configured secret' };
}
