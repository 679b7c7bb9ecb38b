// Vendor deep links: real fixtures through the real adapters (and pipeline-weakening for the protection
// change) give the vendor's settings / job / repository page on the configured host; fields that do not fit
// their shape give no link, and no link ever points at a host other than the configured one.
import { describe, expect, it } from 'vitest';
import { fixtureEvent } from '../../detectors/fixtures.ts';
import { pipelineWeakening } from '../../detectors/pipeline-weakening/index.ts';
import { linksConfigSchema, vendorLink } from '../../src/alerting/deep-links.ts';
import type { Hit } from '../../src/alerting/types.ts';
import { makeHit } from '../../src/detect/engine.ts';
import type { PipewardenEvent } from '../../src/event.ts';

const NOW = new Date('2026-05-01T10:00:00Z');
const config = linksConfigSchema.parse({
  jenkins: 'https://ci.example.com/jenkins/',
  artifactory: 'https://acme.jfrog.io',
  nexus: 'https://nexus.example.com',
  gitlab: 'https://gitlab.example.com',
  'bitbucket-server': 'https://git.example.com',
});

function hitOf(event: PipewardenEvent): Hit {
  const match = pipelineWeakening.match!(event, {
    config: pipelineWeakening.configSchema.parse({}),
    now: NOW,
  } as never) as { summary: string; context?: Hit['context'] } | null;
  return makeHit(pipelineWeakening as never, event, 'k', match ?? { summary: 's', context: {} }, 0, NOW);
}

const base: Hit = {
  id: 'h',
  '@timestamp': NOW.toISOString(),
  detected_at: NOW.toISOString(),
  detector: 'pipeline-weakening',
  title: 't',
  severity: 'high',
  summary: 's',
  description: 'd',
  runbook: 'r',
  key: 'k',
  event_ids: [],
  source: 'github',
  context: {},
};

describe('deep links', () => {
  it('links a deleted GitHub branch protection rule (real webhook) to the branch protection settings', () => {
    const event = fixtureEvent('github', 'branch_protection_rule__deleted.json');
    const hit = hitOf(event);
    expect(hit.repository).toBeDefined();
    expect(vendorLink(hit, config)).toEqual({
      url: `https://github.com/${hit.repository}/settings/branches`,
      label: 'Branch protection at GitHub',
    });
  });

  it('links a Jenkins configSubmit (real audit-trail line) to the job configuration page', () => {
    const event = fixtureEvent('jenkins', 'audit-trail__configSubmit.json');
    const hit = { ...base, source: 'jenkins' };
    expect(vendorLink(hit, config, { job: event.pipewarden.job })).toEqual({
      url: 'https://ci.example.com/jenkins/job/monitor-jenkins-grafana-prometheus/configure',
      label: 'Job configuration at Jenkins',
    });
  });

  it('links an Artifactory deploy (real webhook) to the repository page', () => {
    const event = fixtureEvent('artifactory', 'artifact.deployed__jfrog-docs.json');
    const hit = { ...base, source: 'artifactory', repository: event.pipewarden.repository! };
    expect(vendorLink(hit, config)?.url).toBe(
      `https://acme.jfrog.io/ui/repos/tree/General/${event.pipewarden.repository}`,
    );
  });

  // [source, repository, facts, expected url (undefined: no link)]
  const CASES: Array<[string, string | undefined, Record<string, string>, string | undefined]> = [
    [
      'github',
      'octo-org/tools',
      { action: 'ruleset.destroy' },
      'https://github.com/octo-org/tools/settings/rules',
    ],
    [
      'github-audit',
      'octo-org/tools',
      { action: 'protected_branch.destroy' },
      'https://github.com/octo-org/tools/settings/branches',
    ],
    ['github', 'octo-org/tools', { action: 'repo.access' }, 'https://github.com/octo-org/tools'],
    [
      'gitlab-audit',
      'grp/sub/proj',
      { action: 'protected_branch_updated' },
      'https://gitlab.example.com/grp/sub/proj/-/settings/repository',
    ],
    [
      'bitbucket',
      'ws/repo',
      { action: 'branch_restriction.deleted' },
      'https://bitbucket.org/ws/repo/admin/branch-restrictions',
    ],
    [
      'bitbucket-server',
      'PROJ/repo',
      { action: 'repo.branch-permission.deleted' },
      'https://git.example.com/projects/PROJ/repos/repo/permissions',
    ],
    [
      'jenkins',
      undefined,
      { job: 'folder/deploy prod #12' },
      'https://ci.example.com/jenkins/job/folder/job/deploy%20prod/configure',
    ],
    ['nexus', 'maven-releases', {}, 'https://nexus.example.com/#browse/browse:maven-releases'],
    // fields that do not fit their shape: no link
    ['github', '//evil.example/x', { action: 'protected_branch.destroy' }, undefined],
    ['github', 'a/../../evil', { action: 'protected_branch.destroy' }, undefined],
    ['github', 'a/b?x=https://evil.example', { action: 'protected_branch.destroy' }, undefined],
    ['github', 'javascript:alert(1)', {}, undefined],
    ['artifactory', 'libs/../../admin', {}, undefined],
    ['jenkins', undefined, { job: '../../script' }, undefined],
    ['jenkins', undefined, {}, undefined],
    // no configured base for the source: no link
    ['gitea', 'o/r', { action: 'protected_branch' }, undefined],
    ['harbor', 'proj/img', {}, undefined],
  ];

  it.each(CASES)('%s %s %j → %s', (source, repository, facts, expected) => {
    const hit = { ...base, source, ...(repository ? { repository } : {}) };
    const link = vendorLink(hit, config, facts);
    expect(link?.url).toBe(expected);
    if (link)
      expect([
        'github.com',
        'gitlab.example.com',
        'bitbucket.org',
        'git.example.com',
        'ci.example.com',
        'acme.jfrog.io',
        'nexus.example.com',
      ]).toContain(new URL(link.url).host);
  });

  it('takes the host only from the configuration: a hostile event URL changes nothing; off when disabled', () => {
    const hit = {
      ...base,
      repository: 'octo-org/tools',
      link: 'https://evil.example/octo-org/tools',
      context: { action: 'protected_branch.destroy' },
    };
    expect(new URL(vendorLink(hit, config)!.url).host).toBe('github.com');
    const ghes = linksConfigSchema.parse({ github: 'https://github.example.com' });
    expect(vendorLink(hit, ghes)?.url).toBe('https://github.example.com/octo-org/tools/settings/branches');
    expect(vendorLink(hit, linksConfigSchema.parse({ enabled: false }))).toBeUndefined();
    expect(() => linksConfigSchema.parse({ jenkins: 'ftp://ci' })).toThrow(/http\(s\)/);
    expect(() => linksConfigSchema.parse({ harbor: 'https://h' })).toThrow();
  });
});

describe('deep links in alerts', () => {
  it('the alerter adds the link (from the stored triggering event) and Slack, PagerDuty and email show it', async () => {
    const { Alerter } = await import('../../src/alerting/alerter.ts');
    const { SqliteStore } = await import('../../src/store/sqlite.ts');
    const { renderSlackMessage } = await import('../../src/alerting/sinks/slack.ts');
    const { renderPagerduty } = await import('../../src/alerting/sinks/pagerduty/index.ts');
    const store = new SqliteStore({ path: ':memory:' });
    await store.init();
    const event = fixtureEvent('jenkins', 'audit-trail__configSubmit.json');
    await store.indexEvents([event]);
    const seen: Hit[] = [];
    const alerter = new Alerter(
      [{ name: 'rec', minSeverity: 'info', render: (h: Hit) => seen.push(h), send: async () => undefined }],
      store,
      { attempts: 1, backoffMs: 0, links: config },
    );
    const hit = { ...base, source: 'jenkins', event_ids: [event.event.id] };
    const record = await alerter.handle(hit);
    const want = {
      url: 'https://ci.example.com/jenkins/job/monitor-jenkins-grafana-prometheus/configure',
      label: 'Job configuration at Jenkins',
    };
    expect(record.vendor_link).toEqual(want);
    expect(seen[0]?.vendor_link).toEqual(want);
    const slack = JSON.stringify(renderSlackMessage(seen[0]!, { channel: 'C1' }).blocks);
    expect(slack).toContain(`<${want.url}|Job configuration at Jenkins>`);
    expect(renderPagerduty(seen[0]!, { routingKey: 'k' }).links).toContainEqual({
      href: want.url,
      text: want.label,
    });
    await store.close();
  });
});
