// Build server hardening. Jenkins: builds on the built-in (controller) node, plugin installs, updates and removals,
// script console use, and changes to the security realm or authorization strategy. GitLab: jobs on
// instance-wide runners that have no tags (they pick up every project's untagged jobs).
import { z } from 'zod';
import type { Severity } from '../../src/alerting/types.ts';
import { MINUTE } from '../../src/detect/config.ts';
import type { Detector, Match } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { table } from '../../src/util/table.ts';
import type { CoverageRow } from '../owasp.ts';

const configSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Node names that mean the controller itself, compared case-insensitively. */
    builtInNodes: z.array(z.string().min(1)).default(['built-in', 'Built-In Node', 'master', '(built-in)']),
    checks: z
      .strictObject({
        builtInNode: z.boolean().default(true),
        plugins: z.boolean().default(true),
        scriptConsole: z.boolean().default(true),
        security: z.boolean().default(true),
        /** Script Security approvals: code approved to run outside the Groovy sandbox, on the controller. */
        scriptApproval: z.boolean().default(true),
        /** New build agents (nodes): where builds and their credentials will run. */
        agents: z.boolean().default(true),
        /** GitLab: jobs on an instance-wide (shared) runner that has no tags, so it takes any project's untagged jobs. */
        sharedUntaggedRunners: z.boolean().default(true),
      })
      .prefault({}),
    /** Actors whose changes are expected (e.g. a configuration-as-code service account). Matched exactly. */
    ignoreActors: z.array(z.string().min(1)).default([]),
    /** Jobs (name before " #<n>") allowed on the controller, e.g. a seed job. Matched exactly. */
    allowBuiltInJobs: z.array(z.string().min(1)).default([]),
  })
  .prefault({});

type Config = z.output<typeof configSchema>;

type Check = keyof Config['checks'];

interface Finding {
  check: Check;
  what: string;
  severity: Severity;
}

// Normalised Jenkins actions (ingest-adapters/jenkins) and what they mean for the controller's hardening.
const ACTIONS = table<Finding>({
  'plugin.install': { check: 'plugins', what: 'installed or updated a plugin', severity: 'medium' },
  'plugin.uninstall': { check: 'plugins', what: 'removed a plugin', severity: 'medium' },
  script_console: { check: 'scriptConsole', what: 'ran a script in the script console', severity: 'high' },
  'script_approval.approve': {
    check: 'scriptApproval',
    what: 'approved a script or method signature to run outside the Groovy sandbox',
    severity: 'high',
  },
  'user.signup': {
    check: 'security',
    what: 'created an account through self sign-up (the security realm lets anyone sign up)',
    severity: 'high',
  },
  'node.create': { check: 'agents', what: 'added a build agent (node)', severity: 'medium' },
  createNode: { check: 'agents', what: 'added a build agent (node)', severity: 'medium' }, // Audit Log plugin
  'security.configure': {
    check: 'security',
    what: 'changed the global security configuration (security realm or authorization strategy)',
    severity: 'high',
  },
});

/**
 * The node a Jenkins build ran on: `pipewarden.runner.name` (the Jenkins adapter sets it to the node),
 * else the "(node <name>)" the adapter writes into its one-sentence message (adapter versions before it).
 */
export function nodeOf(event: PipewardenEvent): string | undefined {
  const runner = event.pipewarden.runner?.name;
  if (runner) return runner;
  // "… on <job> #<n> (node <name>)[ from <ip>]": the node part of the adapter's sentence.
  const m = /\(node (.+?)\)(?: from \S+)?$/.exec(event.message ?? '');
  return m?.[1];
}

/** "Built-In Node;agent-1" (a pipeline that used several nodes) → its parts. */
function nodeNames(node: string): string[] {
  return node
    .split(/[;,]/)
    .map((n) => n.trim())
    .filter(Boolean);
}

function jobName(job: string | undefined): string | undefined {
  return job?.replace(/ #\d+$/, '');
}

function builtInNode(event: PipewardenEvent, config: Config): string | undefined {
  if (event.pipewarden.kind !== 'build') return undefined;
  const node = nodeOf(event);
  if (!node) return undefined;
  const builtIn = new Set(config.builtInNodes.map((n) => n.toLowerCase()));
  return nodeNames(node).find((n) => builtIn.has(n.toLowerCase()));
}

/**
 * A GitLab job on an instance-wide runner (runner_type instance_type / is_shared, which the adapter maps to
 * `self_hosted: false` with type instance_type) with no tags: the runner's name or id, else undefined.
 */
function sharedUntagged(event: PipewardenEvent): string | undefined {
  const r = event.pipewarden.runner;
  if (event.event.provider !== 'gitlab' || event.pipewarden.kind !== 'build' || !r) return undefined;
  if (r.type !== 'instance_type' || r.labels.length > 0) return undefined;
  return r.name ?? r.id ?? 'unknown';
}

/** The OWASP coverage rows of this detector (the README table is generated from them). */
export const coverage: CoverageRow[] = [
  {
    row: 'built-in-node',
    what: 'Jenkins builds on the built-in (controller) node',
    owasp: ['CICD-SEC-7', 'CICD-SEC-5'],
    sources: ['jenkins'],
  },
  {
    row: 'plugins',
    what: 'Jenkins plugins installed, updated or removed',
    owasp: ['CICD-SEC-7', 'CICD-SEC-8'],
    sources: ['jenkins'],
  },
  { row: 'script-console', what: 'Jenkins script console used', owasp: ['CICD-SEC-7'], sources: ['jenkins'] },
  {
    row: 'script-approval',
    what: 'Jenkins script or signature approved outside the Groovy sandbox',
    owasp: ['CICD-SEC-7', 'CICD-SEC-4'],
    sources: ['jenkins'],
  },
  {
    row: 'agents',
    what: 'Jenkins build agent (node) added',
    owasp: ['CICD-SEC-7', 'CICD-SEC-5'],
    sources: ['jenkins'],
  },
  {
    row: 'security',
    what: 'Jenkins security realm or authorization strategy changed; an account created by self sign-up',
    owasp: ['CICD-SEC-7', 'CICD-SEC-2'],
    sources: ['jenkins'],
  },
  {
    row: 'shared-untagged-runners',
    what: 'GitLab instance-wide runners without tags running any project’s jobs',
    owasp: ['CICD-SEC-7', 'CICD-SEC-5'],
    sources: ['gitlab'],
  },
];

export const buildServerHardening: Detector<Config> = {
  id: 'build-server-hardening',
  title: 'Build server hardening',
  severity: 'high',
  description:
    'Something weakened or bypassed the hardening of a build server: a Jenkins build ran on the built-in node, a plugin was installed, updated or removed, the script console was used, a script was approved to run outside the Groovy sandbox, an agent was added, the security realm or authorization strategy was changed, or an account was created by self sign-up; a GitLab instance-wide runner without tags runs any project’s untagged jobs.',
  runbook: 'detectors/build-server-hardening/README.md#runbook',
  reference: 'https://www.jenkins.io/doc/book/security/controller-isolation/',
  configSchema,
  coverage,
  // The same finding (same job; or same actor and action) at most once an hour: a plugin batch is one hit.
  dedupMs: 60 * MINUTE,

  appliesTo(event, config) {
    if (config.ignoreActors.includes(event.user?.name ?? '')) return false;
    return event.event.provider === 'jenkins' || sharedUntagged(event) !== undefined;
  },

  // Built-in node: one finding per job; the rest per actor (or source IP when anonymous).
  key(event) {
    const shared = sharedUntagged(event);
    if (shared) return `gitlab-runner:${shared}`;
    if (event.pipewarden.kind === 'build') return `job:${jobName(event.pipewarden.job) ?? 'unknown'}`;
    return event.user?.name ?? event.source?.ip ?? 'anonymous';
  },

  match(event, { config }) {
    const shared = sharedUntagged(event);
    if (shared) {
      if (!config.checks.sharedUntaggedRunners) return null;
      // One finding per runner per dedup period: the summary names the runner, not the job.
      return {
        summary: `GitLab instance runner ${shared} has no tags: it runs untagged jobs from every project`,
        severity: 'medium',
        context: {
          action: event.event.action,
          runner: shared,
          check: 'sharedUntaggedRunners',
          repository: event.pipewarden.repository ?? null,
          job: event.pipewarden.job ?? null,
        },
      };
    }
    const found: Match[] = [];
    const who =
      event.user?.name ?? (event.pipewarden.kind === 'access.anonymous' ? 'An anonymous user' : 'Someone');
    const from = event.source?.ip ? ` from ${event.source.ip}` : '';
    const context = {
      action: event.event.action,
      dataset: event.event.dataset,
      ...(event.source?.ip ? { source_ip: event.source.ip } : {}),
    };

    const node = config.checks.builtInNode ? builtInNode(event, config) : undefined;
    const job = jobName(event.pipewarden.job);
    if (node && !(job && config.allowBuiltInJobs.includes(job))) {
      found.push({
        summary: `Jenkins job ${job ?? 'unknown'} ran on the built-in controller node (${node})`,
        severity: 'medium',
        context: { ...context, node, job: job ?? null },
      });
    }

    const f = ACTIONS[event.event.action];
    if (f && config.checks[f.check]) {
      // Anything done anonymously to the controller's plugins, scripts or security is an open controller.
      // (A self sign-up is anonymous by nature: its own finding, not an open controller.)
      const anonymous = event.pipewarden.kind === 'access.anonymous' && event.event.action !== 'user.signup';
      found.push({
        summary: `${who} ${f.what} on Jenkins${from}`,
        severity: anonymous ? 'critical' : f.severity,
        context: { ...context, check: f.check, anonymous },
      });
    }
    return found.length ? found : null;
  },
};
