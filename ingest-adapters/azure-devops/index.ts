// Azure DevOps service hooks ("Web Hooks" consumer) with Basic auth; no signature exists.
import { z } from 'zod';
import {
  type EventKind,
  eventId,
  type Outcome,
  type PipewardenEvent,
  redactPayload,
} from '../../src/event.ts';
import { basicAuth, tokenEquals } from '../../src/ingest/crypto.ts';
import { NO_BODY } from '../../src/ingest/guard.ts';
import { idStr, type Json, obj, str } from '../../src/ingest/json.ts';
import { makeEvent } from '../../src/ingest/make-event.ts';
import { secretSourceSchema } from '../../src/ingest/source-config.ts';
import { AdapterInputError, header, type IngestAdapter } from '../../src/ingest/types.ts';

const SECRET_ENV = 'PIPEWARDEN_AZURE_DEVOPS_WEBHOOK_SECRET';

const configSchema = secretSourceSchema(SECRET_ENV, {
  /** The Basic-auth user name set on the subscription; checked too when given. The secret is the password. */
  username: z.string().min(1).optional(),
});
export type AzureDevopsConfig = z.output<typeof configSchema>;

// A pipeline stage counts as a deployment when its name says so (YAML pipelines put deployments in stages).
const DEPLOY_STAGE = /deploy|release|prod|staging/i;

function classify(eventType: string, resource: Json): { kind: EventKind; category: string; type: string } {
  if (eventType.startsWith('ms.vss-release.deployment-')) {
    return { kind: 'deploy', category: 'process', type: eventType.includes('started') ? 'start' : 'end' };
  }
  if (eventType.startsWith('ms.vss-pipelinechecks-events.approval-'))
    return { kind: 'deploy', category: 'process', type: 'info' };
  if (eventType === 'ms.vss-pipelines.stage-state-changed-event') {
    const stage = obj(resource.stage);
    const name = `${str(stage?.name) ?? ''} ${str(stage?.displayName) ?? ''}`;
    return { kind: DEPLOY_STAGE.test(name) ? 'deploy' : 'build', category: 'process', type: 'info' };
  }
  if (eventType === 'build.complete' || eventType.startsWith('ms.vss-pipelines.'))
    return { kind: 'build', category: 'process', type: 'info' };
  if (eventType === 'git.push') return { kind: 'code.push', category: 'configuration', type: 'change' };
  if (eventType.startsWith('ms.vss-release.release-'))
    return { kind: 'build', category: 'process', type: 'info' };
  return { kind: 'other', category: 'web', type: 'info' };
}

function outcomeOf(result: string | undefined): Outcome {
  if (!result) return 'unknown';
  const r = result.toLowerCase();
  if (r === 'succeeded' || r === 'approved') return 'success';
  if (['failed', 'canceled', 'cancelled', 'rejected', 'partiallysucceeded'].includes(r)) return 'failure';
  return 'unknown';
}

/** The person behind the change: each event type names them differently. */
function actorOf(resource: Json): Json | undefined {
  const deployment = obj(resource.deployment);
  const release = obj(resource.release);
  return (
    obj(resource.requestedFor) ??
    obj(deployment?.requestedFor) ??
    obj(resource.pushedBy) ??
    obj(resource.createdBy) ??
    obj(resource.lastChangedBy) ??
    obj(release?.createdBy) ??
    obj(obj(resource.environment)?.owner)
  );
}

export const azureDevops: IngestAdapter<AzureDevopsConfig> = {
  id: 'azure-devops',
  title: 'Azure DevOps service hooks',
  configSchema,
  secretEnv: SECRET_ENV,
  docs: [
    {
      group: 'scm',
      source: 'Azure DevOps service hooks',
      route: '`POST /ingest/azure-devops`',
      auth: 'Basic auth, constant-time',
    },
  ],
  testing: {
    sign: (_raw, secret) => ({ authorization: basicAuth('sample', secret) }),
  },
  contentTypes: ['application/json'],

  // The credential is a header: checked before the body is read (src/ingest/guard.ts).
  verifyHeaders: (headers, config, now) => azureDevops.verify(NO_BODY, headers, config, now),

  verify(_raw, headers, config) {
    const sent = header(headers, 'authorization');
    if (!sent)
      return {
        ok: false,
        reason: 'missing Authorization header (set basic authentication on the subscription)',
      };
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(sent.trim());
    if (!m) return { ok: false, reason: 'Authorization must be "Basic <base64 user:password>"' };
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const password = config.secret?.reveal();
    if (!password || colon < 0) return { ok: false, reason: 'basic credentials do not match' };
    // Both parts are compared, always, so timing says nothing about which one was wrong.
    const userOk = tokenEquals(config.username ?? '', config.username ? decoded.slice(0, colon) : '');
    const passOk = tokenEquals(password, decoded.slice(colon + 1));
    return userOk && passOk ? { ok: true } : { ok: false, reason: 'basic credentials do not match' };
  },

  deliveryId(_headers, body) {
    return str(obj(body)?.id);
  },

  toEvents(body, _headers, receivedAt) {
    const p = obj(body);
    if (!p) throw new AdapterInputError('an Azure DevOps service hook body must be a JSON object');
    const eventType = str(p.eventType);
    if (!eventType) throw new AdapterInputError('an Azure DevOps service hook body must have an eventType');
    const resource = obj(p.resource) ?? {};
    const cls = classify(eventType, resource);
    const delivery = str(p.id);
    const actor = actorOf(resource);
    const who = str(actor?.uniqueName) ?? str(actor?.displayName);
    const environment = obj(resource.environment);
    const run = obj(resource.run);
    const stage = obj(resource.stage);
    const repo = obj(resource.repository);
    const project = str(obj(repo?.project)?.name) ?? str(obj(obj(p.resourceContainers)?.project)?.id);
    const result =
      str(environment?.status) ??
      str(stage?.result) ??
      str(run?.result) ??
      str(resource.result) ??
      str(resource.status) ??
      str(obj(resource.approval)?.status);

    const pw: PipewardenEvent['pipewarden'] = {
      kind: cls.kind,
      source: 'azure-devops',
      raw: redactPayload(p),
    };
    if (delivery) pw.delivery_id = delivery;
    const repository = str(repo?.name) && project ? `${project}/${str(repo?.name)}` : str(repo?.name);
    if (repository) pw.repository = repository;
    const ref =
      str(resource.targetRefName) ??
      str(resource.sourceBranch) ??
      str(obj(obj(resource.refUpdates)?.[0 as never])?.name);
    const sourceGet = /^LG:(refs\/[^:]+):([0-9a-f]{40})$/.exec(str(resource.sourceGetVersion) ?? '');
    const branch = ref ?? sourceGet?.[1];
    if (branch) pw.branch = branch.replace(/^refs\/(heads|tags)\//, '');
    if (sourceGet) pw.commit = sourceGet[2]!;
    const envName = str(environment?.name) ?? str(obj(obj(resource.deployment)?.releaseEnvironment)?.name);
    if (envName) pw.environment = envName;
    const pipeline =
      str(obj(resource.pipeline)?.name) ??
      str(obj(resource.definition)?.name) ??
      str(obj(obj(resource.release)?.releaseDefinition)?.name);
    if (pipeline) pw.pipeline = pipeline;
    if (stage) pw.job = str(stage.name) ?? '';
    const web =
      str(obj(obj(run?._links)?.web)?.href) ??
      str(obj(obj(stage?._links)?.web)?.href) ??
      str(obj(obj(resource._links)?.web)?.href) ??
      str(resource.url);
    if (web) pw.build_url = web;

    const times = [
      run?.finishedDate,
      resource.finishTime,
      environment?.modifiedOn,
      resource.closedDate,
      p.createdDate,
    ];
    const time = times.map(str).find((t) => t && !Number.isNaN(Date.parse(t)));
    const text = str(obj(p.message)?.text);
    const event = makeEvent({
      at: time ? new Date(time).toISOString() : receivedAt.toISOString(),
      message: text ?? `${who ?? 'someone'} ${eventType}`,
      id: eventId('azure-devops', delivery ?? JSON.stringify(p)),
      category: [cls.category],
      type: [cls.type],
      action: eventType,
      outcome: outcomeOf(result),
      dataset: 'azure_devops.service_hook',
      provider: 'azure-devops',
      receivedAt,
      pipewarden: pw,
    });
    if (who) event.user = { name: who, ...(idStr(actor?.id) ? { id: idStr(actor?.id) } : {}) };
    const account =
      str(obj(obj(p.resourceContainers)?.account)?.baseUrl) ??
      str(obj(obj(p.resourceContainers)?.collection)?.baseUrl);
    if (account) event.url = { original: account };
    return { events: [event] };
  },
};
