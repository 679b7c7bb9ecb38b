// What the roles are built on, chosen by configuration: the bus, the store, the alert sinks, and the
// build-log secret scanner's settings. The CLI uses them too (token create, replay, alert test).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectors } from '../detectors/index.ts';
import { createSinks as createRegisteredSinks } from './alerting/sinks/index.ts';
import type { Sink } from './alerting/types.ts';
import { KafkaBus } from './bus/kafka.ts';
import { SqliteBus } from './bus/sqlite.ts';
import type { Bus } from './bus/types.ts';
import { ConfigError } from './config/load.ts';
import type { Config } from './config/schema.ts';
import type { Detector } from './detect/types.ts';
import type { SecretScanning } from './ingest/build-logs/writer.ts';
import type { Logger } from './log.ts';
import { SecretEngine } from './secrets/scanner.ts';
import { ElasticsearchStore } from './store/elasticsearch.ts';
import { SqliteStore } from './store/sqlite.ts';
import type { Store } from './store/types.ts';
import { privateDir } from './util/private-files.ts';

export function createBus(config: Config, log?: Logger): Bus {
  if (config.mode === 'distributed')
    return new KafkaBus(config.kafka!, {
      ...(log ? { log } : {}),
      // One webhook is one message: the topics must take the largest body the server accepts, plus the
      // event's own fields around the (redacted) payload.
      maxMessageBytes: config.server.bodyLimitBytes + 1024 * 1024,
    });
  privateDir(config.embedded.dataDir); // 0700: the whole trail, alerts, token hashes
  return new SqliteBus({
    path: join(config.embedded.dataDir, 'bus.sqlite'),
    retentionMs: config.embedded.retentionHours * 3_600_000,
    ...(log ? { log } : {}),
  });
}

/** Elasticsearch's retention is the data stream lifecycle (its template); SQLite sweeps its own. */
export function createStore(config: Config, log?: Logger): Store {
  if (config.mode === 'distributed') return new ElasticsearchStore(config.elasticsearch!, log ? { log } : {});
  privateDir(config.embedded.dataDir); // 0700: the whole trail, alerts, token hashes
  const { storeRetentionDays } = config.embedded;
  return new SqliteStore({
    path: join(config.embedded.dataDir, 'store.sqlite'),
    ...(storeRetentionDays ? { retentionDays: storeRetentionDays } : {}),
    ...(log ? { log } : {}),
  });
}

/**
 * The scanner's settings. The fingerprint key comes from the environment; embedded mode without one
 * generates a key once and keeps it beside the data (mode 0600), distributed mode requires it, because
 * every ingest node must share it for fingerprints to correlate.
 */
export function secretScanning(config: Config): SecretScanning {
  // The detector that reads scanned build logs declares the scanner's settings (Detector.buildLogScanning).
  const sections = config.detectors as Record<string, { enabled: boolean } | undefined>;
  const owner = (detectors as Detector[]).find((d) => d.buildLogScanning && sections[d.id]);
  const d = owner?.buildLogScanning?.(sections[owner.id]!);
  let key = d?.fingerprintKey;
  if (!key) {
    if (config.mode === 'distributed') {
      throw new ConfigError('config', [
        `detectors.${owner?.id ?? '<build-log detector>'}.${d?.keyPath ?? 'fingerprintKeyEnv'}: build logs are enabled in distributed mode but PIPEWARDEN_FINGERPRINT_KEY is not set (>= 16 bytes, shared by every ingest node)`,
      ]);
    }
    const file = join(config.embedded.dataDir, 'fingerprint.key');
    privateDir(config.embedded.dataDir); // 0700: the whole trail, alerts, token hashes
    if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    key = readFileSync(file, 'utf8').trim();
  }
  return {
    engine: new SecretEngine(),
    fingerprintKey: key,
    suppressFingerprints: d?.suppressFingerprints ?? [],
    suppressRules: d?.suppressRules ?? [],
  };
}

/** Every enabled sink of the registry (src/alerting/sinks/index.ts). */
export function createSinks(config: Config): Sink[] {
  return createRegisteredSinks(withConsoleUrl(config));
}

/** Sinks link to the console's alert page: server.publicUrl unless a sink sets its own consoleUrl. */
export function withConsoleUrl(config: Config): Config['alerting'] {
  const url = config.server.publicUrl;
  if (!url) return config.alerting;
  return Object.fromEntries(
    Object.entries(config.alerting).map(([k, v]) => [
      k,
      v && typeof v === 'object' && 'enabled' in v && !('consoleUrl' in v && v.consoleUrl)
        ? { ...v, consoleUrl: url }
        : v,
    ]),
  ) as unknown as Config['alerting'];
}
