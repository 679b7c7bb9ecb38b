// The thin JSON request the HTTP sinks share (PagerDuty, Teams, Opsgenie, Jira): moves bytes and says whether
// a failure is retryable (5xx, 429, 408, timeouts, network errors) and how long the receiver asked us to
// wait. Headers (credentials) are sent, never put in an error message.
import { isRetryableStatus, retryAfterMs } from './sinks/webhook/index.ts';
import { SinkError } from './types.ts';

export async function postJson(
  sink: string,
  url: string,
  body: unknown,
  timeoutMs: number,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  return requestJson(sink, { method: 'POST', url, body, timeoutMs, headers });
}

export async function requestJson(
  sink: string,
  req: {
    method: 'GET' | 'POST';
    url: string;
    body?: unknown;
    timeoutMs: number;
    headers?: Record<string, string>;
  },
): Promise<{ status: number; text: string }> {
  const { url, timeoutMs } = req;
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method: req.method,
      headers: {
        ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}),
        accept: 'application/json',
        'user-agent': 'pipewarden',
        ...req.headers,
      },
      ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = (await res.text()).slice(0, 16_384); // bounded: a search answer is small, an error page need not be
  } catch (err) {
    const e = err as Error & { cause?: { code?: unknown } };
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError')
      throw new SinkError(`${sink}: timeout`, true, { cause: err });
    const code = typeof e?.cause?.code === 'string' ? ` (${e.cause.code})` : '';
    throw new SinkError(`${sink}: request_error: ${e?.message ?? String(err)}${code}`, true, { cause: err });
  }
  if (res.status >= 200 && res.status < 300) return { status: res.status, text };
  const wait = retryAfterMs(res.headers.get('retry-after'), Date.now());
  // the receiver's own words help the person fixing a 400 (invalid routing key, malformed card)
  const detail = text
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .trim()
    .slice(0, 200);
  throw new SinkError(
    `${sink}: http_${res.status}${detail ? ` ${detail}` : ''}`,
    isRetryableStatus(res.status),
    {
      ...(wait !== undefined ? { retryAfterMs: wait } : {}),
    },
  );
}
