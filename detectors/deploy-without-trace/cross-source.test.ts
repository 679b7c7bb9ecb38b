// deploy-without-trace across sources: a deploy is judged by its trace in the store (every source's
// events sharing its commit, build or artefact) once the grace period has passed. Real samples through
// the real adapters (fixtures with provenance beside each adapter), the real embedded store and bus.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Hit } from '../../src/alerting/types.ts';
import type { Bus } from '../../src/bus/types.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { createBus, createStore } from '../../src/factories.ts';
import { createLogger } from '../../src/log.ts';
import type { Store } from '../../src/store/types.ts';
import { type DeployCheck, startDeployCheck } from '../../src/trail/deploy-check.ts';
import { fixtureEvent } from '../fixtures.ts';

const log = createLogger({ level: 'silent' });
// GitHub deployment 145988746 of f95f852b…, made by workflow run 289782451 (2022-01-03T01:28:40Z).
const deployment = () => fixtureEvent('github', 'deployment__gh-pages.json');
const deploymentStatus = () => fixtureEvent('github', 'deployment_status__gh-pages.json');
// Workflow run 289782451, conclusion success (its head_sha is another commit: the deployment names the run).
const passingRun = () => fixtureEvent('github', 'workflow_run__completed.json');
// Artifactory promotion of build sample_build_name#1 (kind deploy), which no build server reported.
const promotion = () => fixtureEvent('artifactory', 'build.promoted__buildPromotedEvent.json');
// Jenkins build asgard#18 of c6d86dc6…, success; GitLab pipeline 31 of bcbb5ec3…, success.
const jenkinsBuild = () => fixtureEvent('jenkins', 'completed.json');
const gitlabPipeline = () => fixtureEvent('gitlab', 'pipeline.json');

let running:
  | { store: Store; check: DeployCheck; bus: Bus; hitsTopic: string; close: () => Promise<void> }
  | undefined;

async function start(raw: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pw-deploy-trace-'));
  const config = parseConfig({ embedded: { dataDir: dir }, log: { level: 'silent' }, ...raw }, {});
  const store = createStore(config);
  const bus = createBus(config);
  await store.init();
  await bus.ensureTopics([config.topics.hits]);
  const check = startDeployCheck({ config, store, bus, log });
  if (!check) throw new Error('deploy check not started');
  running = {
    store,
    check,
    bus,
    hitsTopic: config.topics.hits,
    close: async () => {
      await check.stop();
      await bus.close();
      await store.close();
    },
  };
  return running;
}

afterEach(async () => {
  await running?.close();
  running = undefined;
});

const at = (iso: string, minutes: number) => new Date(Date.parse(iso) + minutes * 60_000);
const ids = (events: PipewardenEvent[]) => events.map((e) => e.event.id);

describe('deploy-without-trace across sources', () => {
  it('a GitHub deployment whose workflow run passed raises nothing', async () => {
    const { store, check } = await start();
    await store.indexEvents([passingRun(), deployment(), deploymentStatus()]);
    expect(await check.runNow(at(deployment()['@timestamp'], 20))).toEqual([]);
  });

  it('a GitHub deployment of a commit never built raises one hit per deploy event, naming the commit', async () => {
    const { store, check, bus, hitsTopic } = await start();
    const events = [deployment(), deploymentStatus()];
    await store.indexEvents(events);
    const hits = await check.runNow(at(deployment()['@timestamp'], 20));
    // Published on the hits topic, the way detectors' hits reach the alert role.
    const published: Hit[] = [];
    const sub = await bus.subscribe({
      topic: hitsTopic,
      group: 'test-reader',
      handler: async (batch) => {
        for (const m of batch) published.push(JSON.parse(m.value) as Hit);
      },
    });
    for (let i = 0; i < 100 && published.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    await sub.stop();
    expect(published.map((h) => h.id).sort()).toEqual(hits.map((h) => h.id).sort());
    expect(hits.map((h) => [h.detector, h.context.rule, h.event_ids[0]])).toEqual(
      expect.arrayContaining(ids(events).map((id) => ['deploy-without-trace', 'no-build', id])),
    );
    expect(hits).toHaveLength(2);
    expect(hits[0]!.summary).toContain(
      'no passing build of commit f95f852bd8fc and no artefact published by CI',
    );
    expect(hits[0]).toMatchObject({ severity: 'high', environment: 'github-pages', source: 'github' });
    // The cursor moved on: the same deploys are not judged again.
    expect(await check.runNow(at(deployment()['@timestamp'], 30))).toEqual([]);
  });

  it('waits the grace period: a build that arrives after the deploy, within it, still counts', async () => {
    const { store, check } = await start({
      detectors: { 'deploy-without-trace': { crossSource: { graceMinutes: 15 } } },
    });
    await store.indexEvents([deployment()]);
    expect(await check.runNow(at(deployment()['@timestamp'], 5))).toEqual([]); // not judged yet
    await store.indexEvents([passingRun()]);
    expect(await check.runNow(at(deployment()['@timestamp'], 16))).toEqual([]);
  });

  it('an Artifactory build promotion of a build no build server reported is a hit; other builds do not count', async () => {
    const { store, check } = await start();
    await store.indexEvents([promotion(), jenkinsBuild(), gitlabPipeline()]);
    const hits = await check.runNow(at(promotion()['@timestamp'], 20));
    expect(hits.map((h) => [h.source, h.event_ids[0]])).toEqual([['artifactory', promotion().event.id]]);
    expect(hits[0]!.summary).toContain('no passing build of build sample_build_name#1');
  });

  it('is off when the detector or its cross-source check is disabled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-deploy-trace-'));
    const config = parseConfig(
      {
        embedded: { dataDir: dir },
        detectors: { 'deploy-without-trace': { crossSource: { enabled: false } } },
      },
      {},
    );
    const store = createStore(config);
    const bus = createBus(config);
    expect(startDeployCheck({ config, store, bus, log })).toBeUndefined();
    await bus.close();
    await store.close();
  });
});
