// The thin JSON POST the HTTP sinks share (PagerDuty, Teams): moves bytes and says whether a failure is
// retryable (5xx, 429, 408, timeouts, network errors) and how long the receiver asked us to wait.
import { isRetryableStatus, retryAfterMs } from './sinks/webhook/index.ts';
import { SinkError } from './types.ts';

export async function postJson(
  sink: string,
  url: string,
  body: unknown,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'pipewarden' },
      body: JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = (await res.text()).slice(0, 500);
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
