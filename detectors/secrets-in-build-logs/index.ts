// Secrets printed in build logs. The scanning happens where logs enter (src/secrets/edge.ts), so the
// secret never reaches the bus; this detector turns each finding event into an alert, deduplicated by
// fingerprint, with suppression by fingerprint or rule.
import { z } from 'zod';
import { secretRef } from '../../src/config/secrets.ts';
import type { Detector } from '../../src/detect/types.ts';
import type { CoverageRow } from '../owasp.ts';

const configSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /**
     * HMAC key for fingerprints (at least 16 bytes), from the environment. Embedded mode without it
     * generates one and keeps it in the data directory; distributed mode requires it (all ingest nodes
     * must share it for fingerprints to correlate).
     */
    fingerprintKeyEnv: secretRef('PIPEWARDEN_FINGERPRINT_KEY'),
    /** Fingerprints of known, accepted values (e.g. a public test key): never reported. */
    suppressFingerprints: z
      .array(z.string().regex(/^[0-9a-f]{64}$/, 'must be a 64-hex fingerprint'))
      .default([]),
    /** Rule ids never reported (e.g. generic-secret-assignment on a noisy project). */
    suppressRules: z.array(z.string().min(1)).default([]),
    /** Report the lower-confidence generic tier (password = ... assignments). */
    includeGeneric: z.boolean().default(true),
  })
  .superRefine((c, ctx) => {
    const key = c.fingerprintKeyEnv?.reveal();
    if (key !== undefined && Buffer.byteLength(key) < 16) {
      ctx.addIssue({
        code: 'custom',
        path: ['fingerprintKeyEnv'],
        message: 'the fingerprint key must be at least 16 bytes',
      });
    }
  })
  .prefault({});

type Config = z.output<typeof configSchema>;

/** The OWASP coverage rows of this detector (the README table is generated from them). */
export const coverage: CoverageRow[] = [
  {
    row: 'secret-in-log',
    what: 'a credential printed in a CI log (uploads to /ingest/build-logs, Jenkins console via Logstash)',
    owasp: ['CICD-SEC-6'],
    sources: ['build-logs', 'jenkins'],
  },
];

export const secretsInBuildLogs: Detector<Config> = {
  id: 'secrets-in-build-logs',
  title: 'Secret exposed in a build log',
  severity: 'high',
  description:
    'A credential was printed in clear in a CI job log (CI masking only hides values registered with it). Only the rule, a masked preview and a keyed fingerprint are kept.',
  runbook: 'detectors/secrets-in-build-logs/README.md#runbook',
  reference: 'https://owasp.org/Top10/A02_2021-Cryptographic_Failures/',
  configSchema,
  coverage,
  buildLogScanning: (c) => ({
    fingerprintKey: c.fingerprintKeyEnv?.reveal(),
    keyPath: 'fingerprintKeyEnv',
    suppressFingerprints: c.suppressFingerprints,
    suppressRules: c.suppressRules,
  }),
  // The same secret printed again in the same job within a day is one alert (key + summary).
  dedupMs: 24 * 3_600_000,

  appliesTo(event, config) {
    const s = event.pipewarden.secret;
    if (event.event.action !== 'secret.detected' || !s) return false;
    if (!config.includeGeneric && s.tier === 'generic') return false;
    return !config.suppressRules.includes(s.rule) && !config.suppressFingerprints.includes(s.fingerprint);
  },

  // Dedup on the secret itself: the same leaked token in ten jobs is one incident, not ten.
  key(event) {
    return event.pipewarden.secret?.fingerprint ?? event.event.id;
  },

  match(event) {
    const s = event.pipewarden.secret;
    if (!s) return null;
    return {
      summary: `${s.title} (${s.preview}) printed in the build log of ${event.pipewarden.job ?? 'an unknown job'}`,
      severity: s.tier === 'generic' && s.severity !== 'low' ? 'medium' : s.severity,
      context: {
        rule: s.rule,
        tier: s.tier,
        job: event.pipewarden.job ?? null,
        line: s.line,
        preview: s.preview,
        fingerprint: s.fingerprint,
        encoding: s.encoding ?? null,
      },
    };
  },
};
