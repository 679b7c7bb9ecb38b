// Changes that take a safeguard out of the pipeline: branch protection or rulesets removed, webhooks
// (our own telemetry) deleted, deploy keys added.
import { z } from 'zod';
import type { Severity } from '../../src/alerting/types.ts';
import type { Detector } from '../../src/detect/types.ts';

const configSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Actors whose changes are expected (e.g. an infrastructure-as-code bot). Matched exactly. */
    ignoreActors: z.array(z.string().min(1)).default([]),
    /** Repositories (owner/name) excluded, e.g. sandboxes. Matched exactly. */
    ignoreRepositories: z.array(z.string().min(1)).default([]),
  })
  .prefault({});

type Config = z.output<typeof configSchema>;

interface Weakening {
  what: string;
  severity: Severity;
}

// Normalised actions (vendor event.action) that weaken the pipeline, and how badly.
const WEAKENINGS: Record<string, Weakening> = {
  'branch_protection_rule.deleted': { what: 'deleted a branch protection rule', severity: 'high' },
  'branch_protection_configuration.disabled': { what: 'disabled branch protection', severity: 'high' },
  'repository_ruleset.deleted': { what: 'deleted a repository ruleset', severity: 'high' },
  'meta.deleted': { what: 'deleted a webhook (pipewarden may stop receiving events)', severity: 'high' },
  'deploy_key.created': { what: 'added a deploy key', severity: 'medium' },
};

export const pipelineWeakening: Detector<Config> = {
  id: 'pipeline-weakening',
  title: 'Pipeline safeguard weakened',
  severity: 'high',
  description:
    'A change removed or bypassed a safeguard of the delivery pipeline: branch protection or a ruleset deleted, a webhook removed, a deploy key added.',
  runbook: 'detectors/pipeline-weakening/README.md#runbook',
  reference:
    'https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches',
  configSchema,
  dedupMs: 0,

  appliesTo(event, config) {
    return (
      (event.pipewarden.kind === 'config.change' || event.pipewarden.kind === 'permission.change') &&
      event.event.action in WEAKENINGS &&
      !config.ignoreActors.includes(event.user?.name ?? '') &&
      !config.ignoreRepositories.includes(event.pipewarden.repository ?? '')
    );
  },

  key(event) {
    return event.pipewarden.repository ?? event.organization?.name ?? 'global';
  },

  match(event) {
    const w = WEAKENINGS[event.event.action];
    if (!w) return null;
    const where = event.pipewarden.repository ?? event.organization?.name ?? 'an unknown scope';
    return {
      summary: `${event.user?.name ?? 'An unknown actor'} ${w.what} on ${where}`,
      severity: w.severity,
      context: { action: event.event.action, provider: event.event.provider, scope: where },
    };
  },
};
