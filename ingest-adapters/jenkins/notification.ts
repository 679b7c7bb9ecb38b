// Notification plugin build phases (QUEUED, STARTED, COMPLETED, FINALIZED), with the build's SCM.
import type { PipewardenEvent } from '../../src/event.ts';
import { idStr, type Json, obj, str } from '../../src/ingest/json.ts';
import { table } from '../../src/util/table.ts';
import { BUILD, buildOutcome, type Parsed, toEvent } from './record.ts';

function repoOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const m = /[/:]([^/:]+)\/([^/]+?)(?:\.git)?\/?$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

const PHASE_TYPE = table<string[]>({
  QUEUED: ['start'],
  STARTED: ['start'],
  COMPLETED: ['end'],
  FINALIZED: ['end'],
});

/** Notification plugin: one build phase (QUEUED, STARTED, COMPLETED, FINALIZED). */
export function notificationEvent(doc: Json, receivedAt: Date): PipewardenEvent {
  const build = obj(doc.build)!;
  const name = str(doc.name) ?? 'unknown';
  const num = idStr(build.number);
  const phase = str(build.phase) ?? 'UNKNOWN';
  const status = str(build.status);
  const scm = obj(build.scm);
  const { log: _tail, ...buildRest } = build;
  const parsed: Parsed = {
    ...BUILD(`build.${phase.toLowerCase()}`, PHASE_TYPE[phase] ?? ['info'], buildOutcome(status)),
    job: num ? `${name} #${num}` : name,
    ...(str(build.full_url) ? { buildUrl: str(build.full_url) } : {}),
    detail: { name, url: doc.url, build: buildRest },
  };
  const event = toEvent(parsed, {
    dataset: 'jenkins.notification',
    receivedAt,
    idParts: ['notification', name, num ?? '', phase, idStr(build.queue_id) ?? ''],
    transport: 'http',
  });
  const branch = str(scm?.branch);
  if (branch) event.pipewarden.branch = branch.replace(/^(origin|refs\/heads)\//, '');
  const commit = str(scm?.commit);
  if (commit) event.pipewarden.commit = commit;
  if (num) event.pipewarden.build_id = `${name}#${num}`; // trace: as Artifactory's build info names it
  const repo = repoOf(str(scm?.url));
  if (repo) event.pipewarden.repository = repo;
  return event;
}
