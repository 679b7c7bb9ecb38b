// Constant-time comparisons for webhook signatures and shared tokens.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type Headers, header, type VerifyResult } from './types.ts';

/** Hex HMAC of a body, as most sources sign (the sending side of hmacHexEquals). */
export function hmacHex(algorithm: 'sha1' | 'sha256', key: string, body: string | Buffer): string {
  return createHmac(algorithm, key).update(body).digest('hex');
}

/** An HTTP Basic Authorization value. */
export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Compares a hex digest sent by a source with the one we compute, in constant time. */
export function hmacHexEquals(
  algorithm: 'sha1' | 'sha256',
  key: string,
  body: Buffer,
  sentHex: string,
): boolean {
  const expected = createHmac(algorithm, key).update(body).digest();
  // Reject non-hex or wrong-length input before comparing: Buffer.from(hex) silently drops bad digits.
  if (!/^[0-9a-fA-F]+$/.test(sentHex) || sentHex.length !== expected.length * 2) return false;
  return timingSafeEqual(expected, Buffer.from(sentHex, 'hex'));
}

/** Compares a token sent in clear with the configured one, in constant time whatever the lengths. */
export function tokenEquals(expected: string, sent: string): boolean {
  // Hashing both sides first gives equal lengths, so the length of the secret does not leak either.
  const a = createHmac('sha256', 'pipewarden-token-compare').update(expected).digest();
  const b = createHmac('sha256', 'pipewarden-token-compare').update(sent).digest();
  return timingSafeEqual(a, b);
}

/**
 * The common webhook scheme `<header>: <prefix><hex HMAC of the raw body>` (GitHub's sha256=, Bitbucket's
 * sha256= under GitHub's old header name), with a reason naming the header when it fails.
 */
export function verifyPrefixedHmac(
  sent: string | undefined,
  opts: {
    header: string;
    prefix: string;
    algorithm: 'sha1' | 'sha256';
    key: string | undefined;
    body: Buffer;
  },
): { ok: true } | { ok: false; reason: string } {
  if (!sent) return { ok: false, reason: `missing ${opts.header} header (set a secret on the webhook)` };
  if (!sent.startsWith(opts.prefix))
    return { ok: false, reason: `${opts.header} must start with "${opts.prefix}"` };
  if (!opts.key || !hmacHexEquals(opts.algorithm, opts.key, opts.body, sent.slice(opts.prefix.length))) {
    return { ok: false, reason: `${opts.header} does not match the body` };
  }
  return { ok: true };
}

/** Bitbucket Cloud and Server / Data Center: `X-Hub-Signature: sha256=<hex>`. */
export function verifyHubSignatureSha256(
  headers: Headers,
  key: string | undefined,
  body: Buffer,
): VerifyResult {
  // SHA-256, although the header is the one GitHub uses for SHA-1.
  return verifyPrefixedHmac(header(headers, 'x-hub-signature'), {
    header: 'X-Hub-Signature',
    prefix: 'sha256=',
    algorithm: 'sha256',
    key,
    body,
  });
}
