// Logstash plugin documents (its Elasticsearch indexer): build metadata plus console lines, which are not
// kept here (build text belongs on the build-logs topic).
import type { PipewardenEvent } from '../../src/event.ts';
import { idStr, type Json, obj, str } from '../../src/ingest/json.ts';
import { BUILD, buildOutcome, isoOf, type Parsed, startedBy, toEvent } from './record.ts';

/** Logstash plugin document: build metadata plus console lines (which are not kept here). */
export function logstashEvent(doc: Json, receivedAt: Date): PipewardenEvent {
  const data = obj(doc.data)!;
  const job = str(data.fullProjectName) ?? str(data.projectName) ?? 'unknown';
  const num = idStr(data.buildNum);
  const result = str(data.result);
  const lines = Array.isArray(doc.message)
    ? doc.message.filter((l): l is string => typeof l === 'string')
    : [];
  const by = startedBy(lines.find((l) => l.startsWith('Started by')) ?? '');
  const node = str(data.buildHost);
  const { message: _console, ...rest } = doc;
  const parsed: Parsed = {
    ...BUILD(result ? 'build.completed' : 'build.log', result ? ['end'] : ['info'], buildOutcome(result)),
    ...by,
    job: num ? `${job} #${num}` : job,
    ...(node ? { node } : {}),
    ...(str(data.buildLabel) ? { labels: str(data.buildLabel)!.split(/\s+/) } : {}),
    ...(str(data.url) ? { buildUrl: `${str(doc.source_host) ?? ''}${str(data.url)}` } : {}),
    detail: { ...rest, console_lines: lines.length },
  };
  const at = isoOf(doc['@timestamp']);
  return toEvent(parsed, {
    dataset: 'jenkins.logstash',
    receivedAt,
    ...(at ? { at } : {}),
    idParts: ['logstash', job, num ?? '', str(data.id) ?? '', at ?? '', String(lines.length)],
    transport: 'http',
  });
}
