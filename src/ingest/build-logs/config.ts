// The `buildLogs:` config section: the streaming upload endpoint and the log fetchers, one per adapter that
// declares one (`logFetcher`: GitHub Actions job logs, GitLab job traces), keyed by the adapter's id.
import { z } from 'zod';
import { adapters } from '../../../ingest-adapters/index.ts';
import { type Secret, secretRef } from '../../config/secrets.ts';
import { DEFAULT_CHUNK_BYTES } from './types.ts';

export type FetcherConfig = {
  enabled: boolean;
  apiUrl: string;
  token: Secret | undefined;
  redirectHosts: string[];
};

function fetcherSchema(defaultUrl: string, tokenEnv: string) {
  return z
    .strictObject({
      enabled: z.boolean().optional(),
      apiUrl: z.url().default(defaultUrl),
      tokenEnv: secretRef(tokenEnv),
      /** Hosts (`host` or `host:port`) a log download may be redirected to besides the vendor's own. */
      redirectHosts: z.array(z.string().min(1).max(255)).max(50).default([]),
    })
    .superRefine((c, ctx) => {
      if (c.enabled === true && !c.tokenEnv) {
        ctx.addIssue({
          code: 'custom',
          path: ['tokenEnv'],
          message: `log fetching is enabled but its API token is not set: export ${tokenEnv} (or ${tokenEnv}_FILE)`,
        });
      }
    })
    .transform(
      (c): FetcherConfig => ({
        enabled: c.enabled ?? c.tokenEnv !== undefined,
        apiUrl: c.apiUrl.replace(/\/+$/, ''),
        token: c.tokenEnv,
        redirectHosts: c.redirectHosts,
      }),
    )
    .prefault({});
}

/** One entry per adapter that fetches job logs, under its id (`buildLogs.fetch.github`, `…gitlab`). */
function fetcherSchemas(): Record<string, ReturnType<typeof fetcherSchema>> {
  return Object.fromEntries(
    adapters.flatMap((a) =>
      a.logFetcher ? [[a.id, fetcherSchema(a.logFetcher.defaultApiUrl, a.logFetcher.tokenEnv)]] : [],
    ),
  );
}

export const buildLogsConfigSchema = z
  .strictObject({
    /** POST /ingest/build-logs/<job>; on by default when its bearer token is set. */
    enabled: z.boolean().optional(),
    tokenEnv: secretRef('PIPEWARDEN_BUILD_LOGS_TOKEN'),
    /** Target size of a chunk on the build-logs topic (cut at a line end). */
    chunkBytes: z
      .number()
      .int()
      .min(1024)
      .max(256 * 1024)
      .default(DEFAULT_CHUNK_BYTES),
    /** Fetch job logs when a GitHub workflow_job or GitLab Job Hook says a job finished. */
    fetch: z
      .strictObject({
        group: z.string().min(1).default('pipewarden-logfetch'),
        /** Tries per log (404s included: a log can lag the event), with exponential backoff from backoffMs. */
        attempts: z.number().int().min(1).max(10).default(3),
        backoffMs: z.number().int().min(0).default(2_000),
        ...fetcherSchemas(),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.enabled === true && !c.tokenEnv) {
      ctx.addIssue({
        code: 'custom',
        path: ['tokenEnv'],
        message:
          'build-log uploads are enabled but their token is not set: export PIPEWARDEN_BUILD_LOGS_TOKEN (or _FILE)',
      });
    }
  })
  .transform((c) => ({ ...c, enabled: c.enabled ?? c.tokenEnv !== undefined, token: c.tokenEnv }))
  .prefault({});

export type BuildLogsConfig = z.output<typeof buildLogsConfigSchema>;
