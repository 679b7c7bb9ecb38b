// Splunk HTTP Event Collector wire format: a body of concatenated JSON objects, and HEC's answers.
import type { FastifyInstance } from 'fastify';
import { AdapterInputError } from '../../src/ingest/types.ts';
import { table } from '../../src/util/table.ts';

export const HEC_PATHS = [
  '/services/collector/event',
  '/services/collector',
  '/services/collector/event/1.0',
];

/** An input error whose message is HEC's own text, so the reply hook can give HEC's code. */
export const HEC_TEXT = {
  noData: 'No data',
  invalidFormat: 'Invalid data format',
  eventRequired: 'Event field is required',
  eventBlank: 'Event field cannot be blank',
} as const;

const CODES = table<number>({
  [HEC_TEXT.noData]: 5,
  [HEC_TEXT.invalidFormat]: 6,
  [HEC_TEXT.eventRequired]: 12,
  [HEC_TEXT.eventBlank]: 13,
});

/**
 * Splits "{...}{...}\n{...}" into its top-level JSON objects and parses each. Splunk accepts any
 * whitespace (or none) between objects; a top-level array or scalar is not HEC and is refused.
 */
export function splitConcatenatedJson(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === 0x5c)
        escaped = true; // backslash
      else if (ch === 0x22) inString = false; // quote
      continue;
    }
    if (ch === 0x22) {
      if (depth === 0)
        throw new AdapterInputError(`${HEC_TEXT.invalidFormat}: expected a JSON object at offset ${i}`);
      inString = true;
    } else if (ch === 0x7b || ch === 0x5b) {
      // { or [
      if (depth === 0) {
        if (ch === 0x5b)
          throw new AdapterInputError(
            `${HEC_TEXT.invalidFormat}: a JSON array is not HEC; send objects one after another`,
          );
        start = i;
      }
      depth++;
    } else if (ch === 0x7d || ch === 0x5d) {
      depth--;
      if (depth < 0)
        throw new AdapterInputError(`${HEC_TEXT.invalidFormat}: unbalanced bracket at offset ${i}`);
      if (depth === 0) {
        try {
          out.push(JSON.parse(text.slice(start, i + 1)));
        } catch (err) {
          throw new AdapterInputError(
            `${HEC_TEXT.invalidFormat}: event ${out.length}: ${(err as Error).message}`,
          );
        }
      }
    } else if (depth === 0 && ch !== 0x20 && ch !== 0x0a && ch !== 0x0d && ch !== 0x09) {
      throw new AdapterInputError(`${HEC_TEXT.invalidFormat}: unexpected character at offset ${i}`);
    }
  }
  if (depth !== 0 || inString)
    throw new AdapterInputError(`${HEC_TEXT.invalidFormat}: the last event is cut off`);
  if (out.length === 0) throw new AdapterInputError(HEC_TEXT.noData);
  return out;
}

/** HEC's reply for one of the generic plugin's error answers: HEC clients read `code`, not `error`. */
export function hecError(
  status: number,
  error: string,
  message: string,
): { status: number; body: { text: string; code: number } } {
  if (error === 'unauthorized') {
    return /missing/i.test(message)
      ? { status: 401, body: { text: 'Token is required', code: 2 } }
      : /Splunk/.test(message) && /must/.test(message)
        ? { status: 401, body: { text: 'Invalid authorization', code: 3 } }
        : { status: 403, body: { text: 'Invalid token', code: 4 } };
  }
  if (error === 'disabled_source') return { status: 403, body: { text: 'Token disabled', code: 1 } };
  if (error === 'bad_request' || error === 'unsupported_type') {
    if (/body is empty/.test(message)) return { status: 400, body: { text: HEC_TEXT.noData, code: 5 } };
    const known = Object.keys(CODES).find((t) => message.startsWith(t));
    return { status: 400, body: { text: known ?? HEC_TEXT.invalidFormat, code: known ? CODES[known]! : 6 } };
  }
  if (status === 413) return { status: 413, body: { text: 'Content too large', code: 27 } };
  if (status === 503) return { status: 503, body: { text: 'Server is busy', code: 9 } };
  return { status, body: { text: 'Internal server error', code: 8 } };
}

/** HEC's code for one of its texts (6, invalid data format, for anything else). */
export function hecCode(text: string): number {
  return CODES[text] ?? 6;
}

/**
 * Rewrites the generic ingest plugin's `{error, message}` answers on the HEC paths into HEC's
 * `{text, code}`. Register on the root instance before the ingest plugin so its routes inherit it.
 */
export function hecReplies(app: FastifyInstance): void {
  const paths = new Set(HEC_PATHS);
  app.addHook('onSend', async (req, reply, payload) => {
    if (!paths.has(req.routeOptions.url ?? '') || reply.statusCode < 400 || typeof payload !== 'string')
      return payload;
    let parsed: { error?: unknown; message?: unknown };
    try {
      parsed = JSON.parse(payload);
    } catch {
      return payload;
    }
    const { status, body } = hecError(
      reply.statusCode,
      String(parsed.error ?? ''),
      String(parsed.message ?? ''),
    );
    reply.status(status);
    return JSON.stringify(body);
  });
}
