// The artefact and token keys (issue 11): what `keyValue` gives the engine for them, and that the rules
// keyed by them get their own re-keyed topics in distributed mode, so one consumer sees every push of a
// tag and every use of a token.
import { describe, expect, it } from 'vitest';
import { auditEventToPipewarden } from '../ingest-adapters/github-audit/normalise.ts';
import { DetectionEngine, rekeyedTopic } from '../src/detect/engine.ts';
import { keyValue } from '../src/detect/types.ts';
import { bodyEvents, fixtureBody, RECEIVED } from './fixtures.ts';
import { detectors } from './index.ts';

type Body = Record<string, any>;

function registryPush(tag: string | undefined): ReturnType<typeof bodyEvents>[number] {
  const b = structuredClone(fixtureBody('docker-distribution', 'manifest-pull.json')) as Body;
  const e = b.events[0];
  e.action = 'push';
  e.actor = { name: 'ci-builder' };
  if (tag) e.target.tag = tag;
  else delete e.target.tag;
  const [event] = bodyEvents('docker-distribution', b);
  if (!event) throw new Error('no event');
  return event;
}

const auditClone = (extra: Body) =>
  auditEventToPipewarden(
    {
      action: 'git.clone',
      actor: 'mallory',
      org: 'octo-org',
      repo: 'octo-org/a',
      _document_id: 'd',
      ...extra,
    },
    RECEIVED,
    { source: 'github-audit', dataset: 'github.audit' },
  );

describe('artefact and token key fields', () => {
  it('keys a tagged registry push by repository:tag, and a push by digest not at all', () => {
    expect(keyValue(registryPush('v1.2.0'), 'pipewarden.artifact_ref')).toBe('hello-world:v1.2.0');
    expect(keyValue(registryPush(undefined), 'pipewarden.artifact_ref')).toBeUndefined();
  });

  it('keys a token by provider and id, else by its hash; no token, no key', () => {
    expect(keyValue(auditClone({ hashed_token: 'abc=', token_id: 77 }), 'pipewarden.token')).toBe(
      'github:77',
    );
    expect(keyValue(auditClone({ hashed_token: 'abc=' }), 'pipewarden.token')).toBe('github:abc=');
    expect(keyValue(auditClone({}), 'pipewarden.token')).toBeUndefined();
  });

  it('gives the default rules keyed by them re-keyed topics, and re-publishes a tagged push under its ref', () => {
    const engine = new DetectionEngine(
      detectors.map((d) => ({ detector: d, config: d.configSchema.parse({}) })),
    );
    expect(engine.rekeyedFields()).toEqual(
      expect.arrayContaining(['pipewarden.artifact_ref', 'pipewarden.token']),
    );
    expect(rekeyedTopic('pipewarden.events', 'pipewarden.artifact_ref')).toBe(
      'pipewarden.events.by-pipewarden-artifact-ref',
    );
    expect(engine.rekeyTargets(registryPush('v1.2.0'))).toContainEqual({
      keyBy: 'pipewarden.artifact_ref',
      key: 'hello-world:v1.2.0',
    });
    expect(
      engine.rekeyTargets(auditClone({ hashed_token: 'abc=', actor_ip: '198.51.100.4' })),
    ).toContainEqual({
      keyBy: 'pipewarden.token',
      key: 'github:abc=',
    });
  });
});
