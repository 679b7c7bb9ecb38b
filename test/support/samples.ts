// The adapters' sample fixtures (one loader: ingest-adapters/fixtures.ts), and signing them as a source would.
import { createHmac } from 'node:crypto';
import { lowerHeaders, type Sample } from '../../ingest-adapters/fixtures.ts';

export {
  fixtureDir,
  listSamples,
  loadSample,
  loadSamples,
  lowerHeaders,
  rawBody,
  type Sample,
} from '../../ingest-adapters/fixtures.ts';

/** Headers for a GitHub delivery of `raw` signed with `secret` (replacing the sample's signatures). */
export function signGithub(
  sample: Sample,
  raw: string,
  secret: string,
  delivery?: string,
): Record<string, string> {
  const h = lowerHeaders(sample.headers);
  h['x-hub-signature-256'] = `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
  delete h['x-hub-signature'];
  if (delivery) h['x-github-delivery'] = delivery;
  return h;
}
