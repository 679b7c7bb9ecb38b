// What `pipewarden config check` says about each source: on or off, and why (issue 10 item 9).
import { adapters } from '../../ingest-adapters/index.ts';
import { type SecretSourceConfig, sourceSecretName } from '../ingest/source-config.ts';
import type { Config } from './schema.ts';

export function sourceStatus(config: Config): string[] {
  const sources = config.sources as Record<string, Partial<SecretSourceConfig> & { enabled: boolean }>;
  return adapters.map(({ id }) => {
    const c = sources[id];
    if (!c) return `${id}: off (not configured)`;
    const name = sourceSecretName(c);
    if (c.enabled) {
      const extra = [
        c.previousSecret ? `previous from ${c.previousSecret.origin}` : '',
        c.additionalSecrets?.length ? `${c.additionalSecrets.length} additional` : '',
      ].filter(Boolean);
      const from = c.secret ? `secret from ${c.secret.origin}` : 'enabled';
      return `${id}: on (${[from, ...extra].join(', ')})`;
    }
    if (c.secret) return `${id}: off (enabled: false, although ${c.secret.origin} is set)`;
    return `${id}: off (${name ? `$${name} is not set` : 'enabled: false'})`;
  });
}
