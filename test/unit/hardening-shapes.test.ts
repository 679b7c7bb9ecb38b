// Issue 10 item 8: unsigned event-type headers must agree with the signed body. Every real GitHub fixture
// passes as its own event and is refused under every other event the adapter maps (the forged
// "deploy key added" from a signed `team` body, a branch-protection body passed off as a repository
// deletion); the same for Bitbucket's X-Event-Key and Nexus's X-Nexus-Webhook-Id.
import { describe, expect, it } from 'vitest';
import { bitbucket } from '../../ingest-adapters/bitbucket/index.ts';
import { bitbucketServer } from '../../ingest-adapters/bitbucket-server/index.ts';
import { github } from '../../ingest-adapters/github/index.ts';
import { GITHUB_SHAPES } from '../../ingest-adapters/github/shapes.ts';
import { nexus } from '../../ingest-adapters/nexus/index.ts';
import { AdapterInputError } from '../../src/ingest/types.ts';
import { listSamples, loadSample, lowerHeaders } from '../support/samples.ts';

const check = (adapter: { checkHeaders?: (b: unknown, h: Record<string, string>) => void }) => {
  expect(adapter.checkHeaders).toBeTypeOf('function');
  return adapter.checkHeaders!.bind(adapter);
};

describe('github', () => {
  const samples = listSamples('github').map((f) => loadSample('github', f));

  it('every fixture agrees with its own X-GitHub-Event', () => {
    const checkHeaders = check(github);
    for (const s of samples)
      expect(() => checkHeaders(s.body, lowerHeaders(s.headers)), s.file).not.toThrow();
  });

  it('no fixture passes as another mapped event', () => {
    const checkHeaders = check(github);
    const accepted: string[] = [];
    for (const s of samples) {
      const own = lowerHeaders(s.headers)['x-github-event'];
      for (const name of Object.keys(GITHUB_SHAPES)) {
        if (name === own) continue;
        try {
          checkHeaders(s.body, { ...lowerHeaders(s.headers), 'x-github-event': name });
          accepted.push(`${s.file} as ${name}`);
        } catch (err) {
          expect(err).toBeInstanceOf(AdapterInputError);
        }
      }
    }
    expect(accepted).toEqual([]);
  });

  it('names the mismatch: a team body sent as deploy_key', () => {
    const team = loadSample('github', 'team__created.json');
    expect(() => check(github)(team.body, { 'x-github-event': 'deploy_key' })).toThrow(
      /'deploy_key' .*carries team, which only a team or membership or team_add payload has|lacks key/,
    );
  });
});

describe('bitbucket and nexus', () => {
  it('bitbucket: a push body sent as a pull request is refused; its own key passes', () => {
    const s = loadSample('bitbucket', 'repo-push.json');
    const h = lowerHeaders(s.headers);
    expect(() => check(bitbucket)(s.body, h)).not.toThrow();
    expect(() => check(bitbucket)(s.body, { ...h, 'x-event-key': 'pullrequest:fulfilled' })).toThrow(
      /X-Event-Key says 'pullrequest:fulfilled'.*lacks pullrequest \(object\)/,
    );
  });

  it('bitbucket-server: the header must agree with the signed eventKey', () => {
    const body = { eventKey: 'repo:refs_changed', date: '2024-01-01T00:00:00+0000' };
    expect(() => check(bitbucketServer)(body, { 'x-event-key': 'repo:refs_changed' })).not.toThrow();
    expect(() => check(bitbucketServer)(body, { 'x-event-key': 'repo:deleted' })).toThrow(
      /X-Event-Key says 'repo:deleted' but the signed body's eventKey is 'repo:refs_changed'/,
    );
  });

  it('nexus: a component body sent as an audit event is refused', () => {
    const s = loadSample('nexus', 'component.json');
    const h = lowerHeaders(s.headers);
    expect(() => check(nexus)(s.body, h)).not.toThrow();
    expect(() => check(nexus)(s.body, { ...h, 'x-nexus-webhook-id': 'rm:global:audit' })).toThrow(
      /lacks audit \(object\)/,
    );
  });
});
