// Trace a change from start to finish: the events that touched a commit, deployment, artefact or build,
// across sources, in time order, with what is missing named. Follows one hop of correlation: a commit's
// deployments and builds, a deployment's commit, so a trace by deployment also shows the push and build.
import { z } from 'zod';
import type { PipewardenEvent } from '../event.ts';
import type { Store, TraceField } from '../store/types.ts';

const value = z.string().trim().min(1).max(200);
export const traceQuerySchema = z
  .strictObject({
    commit: value.optional(),
    deployment: value.optional(),
    artifact: value.optional(),
    build: value.optional(),
  })
  .refine((q) => Object.values(q).filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of commit, deployment, artifact, build',
  });
export type TraceQuery = z.output<typeof traceQuerySchema>;

export const STAGES = [
  'push',
  'pull_request',
  'review',
  'build',
  'artifact',
  'approval',
  'deployment',
  'other',
] as const;
export type Stage = (typeof STAGES)[number];

export interface TraceStep {
  id: string;
  time: string;
  stage: Stage;
  source: string;
  action: string;
  outcome: string;
  message?: string;
  actor?: string;
  repository?: string;
  commit?: string;
  ref?: string;
  branch?: string;
  pull_request?: string;
  build_id?: string;
  build_url?: string;
  pipeline?: string;
  artifact?: string;
  artifact_version?: string;
  artifact_digest?: string;
  deployment_id?: string;
  environment?: string;
  approvers?: string[];
}

export interface Trace {
  query: TraceQuery;
  steps: TraceStep[];
  commits: string[];
  deployments: string[];
  gaps: string[];
  /** More events matched than a trace returns (`limit`). */
  truncated: boolean;
}

/** Which part of a change's life an event is. Pure. */
export function stageOf(e: PipewardenEvent): Stage {
  const p = e.pipewarden;
  const action = e.event.action.toLowerCase();
  if (p.kind === 'code.push') return 'push';
  if (/review|approv/.test(action))
    return p.kind === 'deploy' || action.startsWith('deployment') ? 'approval' : 'review';
  if (p.approvers?.length) return p.kind === 'deploy' ? 'approval' : 'review';
  if (/^(pull_request|merge_request)/.test(action)) return 'pull_request';
  if (p.kind === 'deploy') return 'deployment';
  if (p.kind === 'build') return 'build';
  if (p.kind === 'artifact.publish') return 'artifact';
  return 'other';
}

function step(e: PipewardenEvent): TraceStep {
  const p = e.pipewarden;
  const s: TraceStep = {
    id: e.event.id,
    time: e['@timestamp'],
    stage: stageOf(e),
    source: p.source,
    action: e.event.action,
    outcome: e.event.outcome,
  };
  const copy = {
    message: e.message,
    actor: e.user?.name,
    repository: p.repository,
    commit: p.commit,
    ref: p.ref,
    branch: p.branch,
    pull_request: p.pull_request,
    build_id: p.build_id,
    build_url: p.build_url,
    pipeline: p.pipeline,
    artifact: p.artifact,
    artifact_version: p.artifact_version,
    artifact_digest: p.artifact_digest,
    deployment_id: p.deployment_id,
    environment: p.environment,
  };
  for (const [k, v] of Object.entries(copy))
    if (v !== undefined && v !== '') (s as unknown as Record<string, string>)[k] = v;
  if (p.approvers?.length) s.approvers = p.approvers;
  return s;
}

const QUERY_FIELD: Record<keyof TraceQuery, TraceField> = {
  commit: 'commit',
  deployment: 'deployment_id',
  artifact: 'artifact',
  build: 'build_id',
};

/** The named gaps of a trace. Pure. */
export function traceGaps(steps: TraceStep[], query: TraceQuery): string[] {
  const [what, value] = Object.entries(query).find(([, v]) => v !== undefined)! as [keyof TraceQuery, string];
  if (steps.length === 0) return [`nothing seen for ${what} ${value}`];
  const has = (stage: Stage) => steps.some((s) => s.stage === stage);
  const gaps: string[] = [];
  const subject = what === 'commit' ? 'this commit' : `the commit of this ${what}`;
  if (!steps.some((s) => s.commit)) gaps.push(`no commit recorded for this ${what}`);
  else {
    if (!has('push')) gaps.push(`no push seen for ${subject}`);
    const builds = steps.filter((s) => s.stage === 'build');
    if (builds.length === 0) gaps.push(`no build seen for ${subject}`);
    else if (!builds.some((b) => b.outcome === 'success')) gaps.push(`no passing build seen for ${subject}`);
  }
  if (has('deployment')) {
    if (!has('artifact') && !steps.some((s) => s.artifact_digest))
      gaps.push('no artefact publish seen for this change');
    if (!has('approval')) gaps.push('no approval seen for the deployment');
  } else if (what !== 'deployment')
    gaps.push(`no deployment seen for ${what === 'commit' ? 'this commit' : `this ${what}`}`);
  return gaps;
}

const HOP_VALUES = 20;

export async function traceChange(store: Store, query: TraceQuery, limit = 500): Promise<Trace> {
  const [what, value] = Object.entries(query).find(([, v]) => v !== undefined)! as [keyof TraceQuery, string];
  const seed = await store.traceEvents(QUERY_FIELD[what], [value], limit + 1);
  const byId = new Map(seed.map((e) => [e.event.id, e]));
  // One hop: what the seed events name in the other correlation fields.
  const related = (pick: (e: PipewardenEvent) => string | undefined) =>
    [...new Set(seed.map(pick).filter((v): v is string => v !== undefined && v !== ''))].slice(0, HOP_VALUES);
  const hops: Array<[TraceField, string[]]> = [
    ['commit', what === 'commit' ? [] : related((e) => e.pipewarden.commit)],
    ['deployment_id', what === 'deployment' ? [] : related((e) => e.pipewarden.deployment_id)],
    ['build_id', what === 'build' ? [] : related((e) => e.pipewarden.build_id)],
    ['artifact_digest', related((e) => e.pipewarden.artifact_digest)],
  ];
  for (const [field, values] of hops) {
    if (values.length === 0) continue;
    for (const e of await store.traceEvents(field, values, limit + 1)) byId.set(e.event.id, e);
  }
  // Time order; at the same instant, the stage's place in a change's life, then the action (created before status).
  const rank = (s: TraceStep) => STAGES.indexOf(s.stage);
  const all = [...byId.values()].map(step);
  all.sort(
    (a, b) =>
      Date.parse(a.time) - Date.parse(b.time) ||
      rank(a) - rank(b) ||
      (a.action < b.action ? -1 : a.action > b.action ? 1 : 0) ||
      (a.id < b.id ? -1 : 1),
  );
  const steps = all.slice(0, limit);
  return {
    query,
    steps,
    commits: [...new Set(steps.flatMap((s) => (s.commit ? [s.commit] : [])))],
    deployments: [...new Set(steps.flatMap((s) => (s.deployment_id ? [s.deployment_id] : [])))],
    gaps: traceGaps(steps, query),
    truncated: all.length > limit,
  };
}
