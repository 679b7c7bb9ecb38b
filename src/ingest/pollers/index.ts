// The pollers the configuration asks for: each adapter that has a pull API declares its own (`pollers`).
import { adapters } from '../../../ingest-adapters/index.ts';
import type { IngestAdapter } from '../types.ts';
import type { Poller } from './types.ts';

export function createPollers(sources: Record<string, unknown>): Poller[] {
  return (adapters as IngestAdapter<{ enabled: boolean }>[]).flatMap((a) => {
    const config = sources[a.id] as { enabled: boolean } | undefined;
    return config && a.pollers ? a.pollers(config) : [];
  });
}
