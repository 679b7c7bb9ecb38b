// Starts a real embedded pipewarden (SQLite bus and store in a temp dir) for HTTP-level tests.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createToken } from '../../src/api/tokens.ts';
import { type RunningApp, startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Role } from '../../src/config/schema.ts';
import { createLogger } from '../../src/log.ts';

export const GITHUB_SECRET = 'test-github-secret';

export async function startEmbedded(
  overrides: Record<string, unknown> = {},
  env: Record<string, string> = {},
  roles?: Role[],
): Promise<{ app: RunningApp; token: string; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pipewarden-test-'));
  const config = parseConfig(
    { mode: 'embedded', embedded: { dataDir }, log: { level: 'silent' }, ...overrides },
    { PIPEWARDEN_GITHUB_WEBHOOK_SECRET: GITHUB_SECRET, ...env },
  );
  const app = await startApp(config, {
    port: 0,
    log: createLogger({ level: 'silent' }),
    ...(roles ? { roles } : {}),
  });
  const { token } = await createToken(app.store, 'test');
  return { app, token, dataDir };
}

/** Polls until `fn` returns a truthy value or the time runs out (then throws with the last value). */
export async function eventually<T>(
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
  );
}

/**
 * A consumer-group prefix of this test file's own: test files run in parallel on one Kafka, each on its own
 * topics, and members of one group subscribing to different topics would be handed each other's partitions.
 */
export const TEST_GROUP_PREFIX = `pwt-${process.pid}-${Date.now().toString(36)}`;
