import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secrets.ts';
import { EVENT_KINDS } from '../../src/event.ts';
import { AdapterInputError } from '../../src/ingest/types.ts';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../../test/support/samples.ts';
import { azureDevops } from './index.ts';

const SECRET = 'sample-webhook-secret';
const config = { enabled: true, secret: new Secret(SECRET, 'test'), username: 'sample' };
const at = new Date('2024-06-01T10:00:00Z');
const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
const samples = listSamples('azure-devops').map((f) => loadSample('azure-devops', f));
const expected: Record<string, [kind: string, outcome: string]> = {
  'build.complete.json': ['build', 'success'],
  'deployment_completed.json': ['deploy', 'success'],
  'git.pullrequest.created.json': ['other', 'unknown'],
  'git.pullrequest.updated.json': ['other', 'unknown'],
  'run_state_changed.json': ['build', 'success'],
  'stage_state_changed.json': ['build', 'success'],
};

describe('azure-devops', () => {
  it('has an expectation for every fixture', () => {
    expect(listSamples('azure-devops')).toEqual(Object.keys(expected).sort());
  });

  it('checks Basic credentials in constant time, the user name too when configured', () => {
    for (const s of samples) {
      expect(
        azureDevops.verify(Buffer.from(rawBody(s)), lowerHeaders(s.headers), config, at),
        s.file,
      ).toEqual({ ok: true });
    }
    const raw = Buffer.from('{}');
    for (const bad of [
      basic(`other:${SECRET}`),
      basic('sample:wrong'),
      basic(SECRET),
      `Bearer ${SECRET}`,
      'Basic !!!',
      '',
    ]) {
      expect(azureDevops.verify(raw, { authorization: bad }, config, at).ok, bad).toBe(false);
    }
    expect(
      azureDevops.verify(
        raw,
        { authorization: basic(`anyone:${SECRET}`) },
        { ...config, username: undefined },
        at,
      ).ok,
    ).toBe(true);
    expect(azureDevops.verify(raw, {}, config, at).ok).toBe(false);
    expect(
      azureDevops.verify(
        raw,
        { authorization: basic(`sample:${SECRET}`) },
        { ...config, secret: undefined },
        at,
      ).ok,
    ).toBe(false);
  });

  it('normalises every fixture; deployments carry environment, release actor and outcome', () => {
    for (const s of samples) {
      const e = azureDevops.toEvents(s.body, {}, at).events[0]!;
      expect([e.pipewarden.kind, e.event.outcome], s.file).toEqual(expected[s.file]);
      expect(e.event.action).toBe((s.body as { eventType: string }).eventType);
      expect(azureDevops.deliveryId({}, s.body)).toBe((s.body as { id: string }).id);
      expect(EVENT_KINDS).toContain(e.pipewarden.kind);
    }
    const dep = azureDevops.toEvents(
      samples.find((s) => s.file === 'deployment_completed.json')!.body,
      {},
      at,
    ).events[0]!;
    expect([dep.pipewarden.environment, dep.event.type[0]]).toEqual(['Dev', 'end']);
    const build = azureDevops.toEvents(samples.find((s) => s.file === 'build.complete.json')!.body, {}, at)
      .events[0]!;
    expect([build.pipewarden.branch, build['@timestamp']]).toEqual(['master', '2015-04-07T18:06:10.690Z']);
    expect(build.user?.name).toBeTruthy();
    const pr = azureDevops.toEvents(
      samples.find((s) => s.file === 'git.pullrequest.created.json')!.body,
      {},
      at,
    ).events[0]!;
    expect([pr.user?.name, pr.pipewarden.repository]).toEqual([
      'fabrikamfiber4@hotmail.com',
      'Fabrikam/Fabrikam',
    ]);
  });

  it('treats a deployment-named stage as a deploy and a failed release deployment as a failure', () => {
    const stage = structuredClone(samples.find((s) => s.file === 'stage_state_changed.json')!.body) as Record<
      string,
      any
    >;
    stage.resource.stage.name = 'DeployProduction';
    stage.resource.stage.result = 'failed';
    const e = azureDevops.toEvents(stage, {}, at).events[0]!;
    expect([e.pipewarden.kind, e.event.outcome]).toEqual(['deploy', 'failure']);
    const started = structuredClone(
      samples.find((s) => s.file === 'deployment_completed.json')!.body,
    ) as Record<string, any>;
    started.eventType = 'ms.vss-release.deployment-started-event';
    expect(azureDevops.toEvents(started, {}, at).events[0]!.event.type).toEqual(['start']);
  });

  it('refuses bodies that are not service hook envelopes', () => {
    expect(() => azureDevops.toEvents([], {}, at)).toThrow(AdapterInputError);
    expect(() => azureDevops.toEvents({ id: 'x' }, {}, at)).toThrow(/eventType/);
  });
});
