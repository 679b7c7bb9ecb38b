// Poisoned pipeline execution (OWASP CICD-SEC-4): untrusted code or text reaching a pipeline that runs
// with the repository's secrets. From GitHub webhooks: `pull_request_target` / `workflow_run` runs started
// from a fork, expression- or shell-injection payloads in text a workflow may interpolate (pull request
// titles, branch names, issue and comment bodies, commit messages), self-hosted runners taking jobs of
// public repositories or forks, `[skip ci]`-style pushes to public repositories, and pushes that change
// the pipeline definition itself (GitHub workflows, .gitlab-ci.yml, Jenkinsfile, CircleCI, Azure Pipelines).
import { z } from 'zod';
import type { Severity } from '../../src/alerting/types.ts';
import type { Detector, Match } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import type { CoverageRow } from '../owasp.ts';

const check = z.strictObject({ enabled: z.boolean().default(true) }).prefault({});

const configSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    forkTriggers: check,
    injection: check,
    selfHostedRunners: check,
    skipCi: check,
    pipelineDefinition: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** Branches whose pipeline changes are reviewed anyway (protected), e.g. "main". Matched exactly. */
        ignoreBranches: z.array(z.string().min(1)).default([]),
      })
      .prefault({}),
    /** Actors whose events are trusted (e.g. a release bot). Matched exactly. */
    ignoreActors: z.array(z.string().min(1)).default([]),
    /** Repositories (owner/name) excluded. Matched exactly. */
    ignoreRepositories: z.array(z.string().min(1)).default([]),
  })
  .prefault({});

type Config = z.output<typeof configSchema>;

/**
 * Runs that execute with the base repository's secrets and write token even when started from a fork:
 * GitHub `pull_request_target`, `workflow_run`, `issue_comment`; GitLab `merge_request_event` pipelines
 * run in the parent project for a fork's merge request (the adapter says `fork` only then).
 */
const PRIVILEGED_TRIGGERS = new Set([
  'pull_request_target',
  'workflow_run',
  'issue_comment',
  'merge_request_event',
]);

/** `author_association` values of people outside the repository's own team. */
const OUTSIDERS = new Set(['first_time_contributor', 'first_timer', 'contributor', 'none', 'mannequin']);

// Injection payloads, each on text already bounded by the adapter (2 KiB):
// an Actions expression `${{ … }}` (interpolated before the shell runs), `$( … )` command substitution,
// a backtick pair, process substitution `<( … )`, a `curl|wget … | sh` pipe, `bash -c '…'`.
const EXPRESSION = /\$\{\{[^}]{0,200}\}\}/;
const SHELL: readonly RegExp[] = [
  /\$\([^()\n]{1,200}\)/,
  /[<>]\([^()\n]{1,200}\)/,
  /\b(?:curl|wget)\s[^|\n]{1,300}\|\s*(?:ba|z|da)?sh\b/i,
  /\b(?:ba)?sh\s+-c\s+['"]/,
];
// Backticks: only in one-line fields (titles, branch names), where Markdown code spans are unusual.
const BACKTICKS = /`[^`\n]{1,200}`/;
const ONE_LINE = /(?:\.title|\.ref|\.label|head_branch|display_title)$/;

/** The first untrusted field carrying an injection payload, and which kind. */
export function injection(e: PipewardenEvent): { field: string; pattern: string } | undefined {
  for (const { field, value } of e.pipewarden.untrusted ?? []) {
    const oneLine = ONE_LINE.test(field);
    if (oneLine && EXPRESSION.test(value)) return { field, pattern: 'expression ${{ }}' };
    if (SHELL.some((re) => re.test(value))) return { field, pattern: 'shell command' };
    if (oneLine && BACKTICKS.test(value)) return { field, pattern: 'backticks' };
  }
  return undefined;
}

// Commit-message directives that make CI skip the push (GitHub Actions, GitLab, CircleCI, Azure Pipelines).
const SKIP_CI =
  /\[(?:skip ci|ci skip|no ci|skip actions|actions skip|skip azurepipelines|skip pipeline)\]|skip-checks:\s*true/i;

// Files that define what a pipeline runs.
const PIPELINE_FILE =
  /^(?:\.github\/workflows\/[^/]+\.ya?ml|\.github\/actions\/.+|\.gitlab-ci\.yml|\.gitlab\/ci\/.+|(?:.*\/)?Jenkinsfile[^/]*|\.circleci\/config\.ya?ml|azure-pipelines\.ya?ml|\.buildkite\/.+|bitbucket-pipelines\.yml)$/;

const untrustedAuthor = (e: PipewardenEvent) =>
  e.pipewarden.fork === true || OUTSIDERS.has(e.pipewarden.association ?? '');

function findings(e: PipewardenEvent, config: Config): Match[] {
  const out: Match[] = [];
  const pw = e.pipewarden;
  const who = e.user?.name ?? 'someone';
  const where = pw.repository ?? 'an unknown repository';
  const base = { action: e.event.action, repository: where };
  const add = (check: string, summary: string, severity: Severity, extra: Record<string, string> = {}) =>
    out.push({ summary, severity, context: { ...base, check, ...extra } });

  // A privileged run started from a fork: the fork's code may run with the base repository's secrets.
  if (config.forkTriggers.enabled && pw.kind === 'build' && pw.fork === true && pw.trigger) {
    if (PRIVILEGED_TRIGGERS.has(pw.trigger))
      add(
        'fork-trigger',
        pw.trigger === 'merge_request_event'
          ? `Pipeline ${pw.pipeline ?? ''} of a merge request from a fork ran in ${where} itself (the fork's CI definition with this project's CI/CD variables), started by ${who}`
          : `A ${pw.trigger} run of ${pw.pipeline ?? 'a workflow'} on ${where} was started from a fork by ${who}`,
        'high',
        { trigger: pw.trigger },
      );
    else if (pw.trigger === 'pull_request' && e.event.action === 'workflow_run.requested')
      add(
        'fork-trigger',
        `A workflow run of ${pw.pipeline ?? 'a workflow'} on ${where} was requested by a pull request from a fork (${who})`,
        'low',
        { trigger: pw.trigger },
      );
  }

  if (config.injection.enabled) {
    const found = injection(e);
    if (found)
      add(
        'injection',
        `${who} put a ${found.pattern} payload into ${found.field} on ${where}: a workflow that interpolates it runs it`,
        untrustedAuthor(e) ? 'high' : 'medium',
        { field: found.field, pattern: found.pattern },
      );
  }

  // A self-hosted runner took a job of a public repository or a fork: anyone's code runs on our machine.
  const runner = pw.runner;
  if (config.selfHostedRunners.enabled && runner?.self_hosted && (pw.visibility === 'public' || pw.fork)) {
    add(
      'self-hosted-runner',
      `Self-hosted runner ${runner.name ?? runner.group ?? ''} ran job ${pw.job ?? ''} of ${pw.visibility === 'public' ? 'public repository' : 'a fork of'} ${where}`.replace(
        /\s+/g,
        ' ',
      ),
      'high',
      { runner: runner.name ?? runner.group ?? 'unknown' },
    );
  }

  if (pw.kind === 'code.push') {
    const messages = (pw.untrusted ?? []).filter((x) => x.field === 'commit.message');
    if (config.skipCi.enabled && pw.visibility === 'public' && messages.some((m) => SKIP_CI.test(m.value)))
      add(
        'skip-ci',
        `${who} pushed a commit that skips CI ([skip ci]) to ${pw.branch ?? 'a branch'} of public repository ${where}`,
        'medium',
      );
    const changed = (pw.files ?? []).filter((f) => PIPELINE_FILE.test(f));
    if (
      config.pipelineDefinition.enabled &&
      changed.length > 0 &&
      !config.pipelineDefinition.ignoreBranches.includes(pw.branch ?? '')
    )
      add(
        'pipeline-definition',
        `${who} changed the pipeline definition (${changed.slice(0, 3).join(', ')}${changed.length > 3 ? ', …' : ''}) on ${pw.branch ?? 'a branch'} of ${where}`,
        pw.visibility === 'public' ? 'medium' : 'low',
        { files: changed.slice(0, 10).join(', ') },
      );
  }
  return out;
}

/** The OWASP coverage rows of this detector (the README table is generated from them). */
export const coverage: CoverageRow[] = [
  {
    row: 'fork-trigger',
    what: 'pull_request_target / workflow_run runs started from a fork; a fork’s merge request pipeline run in the parent project',
    owasp: ['CICD-SEC-4'],
    sources: ['github', 'gitlab'],
  },
  {
    row: 'injection',
    what: 'expression / shell injection payloads in PR titles, branch names, issues, comments, commit messages',
    owasp: ['CICD-SEC-4'],
    sources: ['github', 'gitlab'],
  },
  {
    row: 'self-hosted-runner',
    what: 'self-hosted runner running a job of a public repository or a fork',
    owasp: ['CICD-SEC-4', 'CICD-SEC-7'],
    sources: ['github'],
  },
  {
    row: 'skip-ci',
    what: '[skip ci]-style pushes to public repositories',
    owasp: ['CICD-SEC-1', 'CICD-SEC-4'],
    sources: ['github', 'gitlab'],
  },
  {
    row: 'pipeline-definition',
    what: 'pushes that change workflows, .gitlab-ci.yml, Jenkinsfile and other pipeline definitions',
    owasp: ['CICD-SEC-4'],
    sources: ['github', 'gitlab'],
  },
];

export const poisonedPipelineExecution: Detector<Config> = {
  id: 'poisoned-pipeline-execution',
  title: 'Poisoned pipeline execution',
  severity: 'high',
  description:
    'Untrusted code or text reached a pipeline: a pull_request_target or workflow_run run started from a fork, an expression or shell injection payload in a pull request title, branch name, issue, comment or commit message, a self-hosted runner running a job of a public repository or a fork, a [skip ci] push to a public repository, or a push that changes the pipeline definition.',
  runbook: 'detectors/poisoned-pipeline-execution/README.md#runbook',
  reference:
    'https://owasp.org/www-project-top-10-ci-cd-security-risks/CICD-SEC-04-Poisoned-Pipeline-Execution',
  configSchema,
  coverage,
  dedupMs: 0,

  appliesTo(event, config) {
    const pw = event.pipewarden;
    return (
      (pw.untrusted !== undefined ||
        pw.fork !== undefined ||
        pw.runner !== undefined ||
        pw.files !== undefined) &&
      !config.ignoreActors.includes(event.user?.name ?? '') &&
      !config.ignoreRepositories.includes(pw.repository ?? '')
    );
  },

  key(event) {
    return event.pipewarden.repository ?? event.user?.name ?? 'global';
  },

  match(event, { config }) {
    const found = findings(event, config);
    return found.length ? found : null;
  },
};
