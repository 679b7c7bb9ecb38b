import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secrets.ts';
import { EVENT_KINDS } from '../../src/event.ts';
import { AdapterInputError, type Headers, readLine } from '../../src/ingest/types.ts';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../../test/support/samples.ts';
import {
  type ArtifactoryConfig,
  artifactory,
  artifactoryAccessLines,
  artifactoryRequestLines,
} from './index.ts';

const SECRET = 'sample-webhook-secret';
const config: ArtifactoryConfig = { enabled: true, secret: new Secret(SECRET, 'test'), authMode: 'token' };
const signed: ArtifactoryConfig = { ...config, authMode: 'hmac-sha256' };
const at = new Date('2026-01-10T10:00:00Z');

function headersFor(file: string): Record<string, string> {
  const s = loadSample('artifactory', file);
  const h = lowerHeaders(s.headers);
  h['content-type'] ??= typeof s.body === 'string' ? 'text/plain' : 'application/json';
  h['x-jfrog-event-auth'] ??= SECRET; // log lines come through a shipper configured with the token
  return h;
}
const normalise = (raw: Buffer, headers: Headers) =>
  artifactory.toEvents(artifactory.parse!(raw, headers), headers, at);

describe('artifactory', () => {
  describe('verify', () => {
    it('accepts every sample in plain token mode', () => {
      for (const file of listSamples('artifactory')) {
        const s = loadSample('artifactory', file);
        expect(artifactory.verify(Buffer.from(rawBody(s)), headersFor(file), config, at), file).toEqual({
          ok: true,
        });
      }
    });

    it('in signed mode takes the hex HMAC-SHA256 of the body and refuses the plain token', () => {
      const body = Buffer.from('{"domain":"artifact","event_type":"deployed","data":{}}');
      const sig = createHmac('sha256', SECRET).update(body).digest('hex');
      expect(artifactory.verify(body, { 'x-jfrog-event-auth': sig }, signed, at)).toEqual({ ok: true });
      expect(artifactory.verify(body, { 'x-jfrog-event-auth': `sha256=${sig}` }, signed, at)).toEqual({
        ok: true,
      });
      expect(artifactory.verify(body, { 'x-jfrog-event-auth': SECRET }, signed, at).ok).toBe(false);
      expect(artifactory.verify(Buffer.from(`${body} `), { 'x-jfrog-event-auth': sig }, signed, at).ok).toBe(
        false,
      );
      expect(artifactory.verify(body, { 'x-jfrog-event-auth': sig }, config, at).ok).toBe(false);
    });

    it('rejects a missing or wrong token, and any token when no secret is configured', () => {
      const body = Buffer.from('{}');
      for (const t of [undefined, '', 'x', SECRET.slice(1), `${SECRET} `, SECRET.toUpperCase()]) {
        const h = t === undefined ? {} : { 'x-jfrog-event-auth': t };
        expect(artifactory.verify(body, h, config, at).ok, String(t)).toBe(false);
      }
      expect(
        artifactory.verify(body, { 'x-jfrog-event-auth': SECRET }, { ...config, secret: undefined }, at).ok,
      ).toBe(false);
    });
  });

  describe('toEvents', () => {
    const expected: Record<string, [string, string | undefined, string | undefined]> = {
      'access.log__ACCEPTED_LOGIN_anonymous_.json': ['access.anonymous', undefined, '10.250.36.161'],
      'access.log__ACCEPTED_LOGIN_anonymous__2.json': ['access.anonymous', undefined, '10.250.36.161'],
      'access.log__ACCEPTED_LOGIN_anonymous__3.json': ['access.anonymous', undefined, '10.250.36.161'],
      'artifact.copied__artifactCopiedEvent.json': ['artifact.publish', undefined, undefined],
      'artifact.deleted__jfrog-docs.json': ['artifact.delete', undefined, undefined],
      'artifact.deployed__jfrog-docs.json': ['artifact.publish', undefined, undefined],
      'artifact.moved__jfrog-docs.json': ['artifact.publish', undefined, undefined],
      'artifact_property.deleted__artifactPropertiesDeletedEvent.json': [
        'config.change',
        undefined,
        undefined,
      ],
      'artifactory-access.log__ACCEPTED_DOWNLOAD_anonymous_.json': [
        'access.anonymous',
        undefined,
        '86.12.14.192',
      ],
      'artifactory-access.log__ACCEPTED_DOWNLOAD_anonymous__2.json': [
        'access.anonymous',
        undefined,
        '86.12.14.192',
      ],
      'artifactory-access.log__ACCEPTED_LOGIN_token_.json': ['login.success', undefined, undefined],
      'artifactory-access.log__ACCEPTED_LOGIN_token__2.json': ['login.success', undefined, undefined],
      'artifactory-access.log__ACCEPTED_LOGIN_token__3.json': ['login.success', undefined, undefined],
      'artifactory-access.log__ACCEPTED_LOGIN_token__4.json': [
        'login.success',
        'jffe@01jq3then4hspb10agqp6515d3',
        undefined,
      ],
      'artifactory-request-out.log__line.json': ['other', 'andreyt', undefined],
      'build.promoted__buildPromotedEvent.json': ['deploy', undefined, undefined],
      'destination.delete_completed__destinationDeleteCompletedEvent.json': ['deploy', undefined, undefined],
      'destination.delete_started__destinationDeleteStartedEvent.json': ['deploy', undefined, undefined],
      'distribution.distribute_aborted__distributionAbortedEvent.json': ['deploy', undefined, undefined],
      'distribution.distribute_failed__distributionFailedEvent.json': ['deploy', undefined, undefined],
      'docker.deleted__dockerDeletedEvent.json': ['artifact.delete', undefined, undefined],
      'docker.pushed__dockerPushedEvent.json': ['artifact.publish', undefined, undefined],
      'release_bundle.signed__releaseBundleDeletedEvent.json': ['artifact.publish', undefined, undefined],
      'request.log_Artifactory_6.x_anonymous___line.json': ['other', undefined, '172.17.0.1'],
      'request.log_Artifactory_6.x_anonymous___line_2.json': ['other', undefined, '172.17.0.1'],
    };

    it('normalises every sample to the expected kind, actor and IP, with stable ids', () => {
      expect(Object.keys(expected).sort()).toEqual(listSamples('artifactory'));
      const ids = new Set<string>();
      for (const file of listSamples('artifactory')) {
        const s = loadSample('artifactory', file);
        const raw = Buffer.from(rawBody(s));
        const { events } = normalise(raw, headersFor(file));
        expect(events, file).toHaveLength(1);
        const e = events[0]!;
        const [kind, user, ip] = expected[file]!;
        expect(e.pipewarden.kind, file).toBe(kind);
        expect(e.user?.name, file).toBe(user);
        expect(e.source?.ip, file).toBe(ip);
        expect(EVENT_KINDS).toContain(e.pipewarden.kind);
        expect(e.event.provider).toBe('artifactory');
        expect(normalise(raw, headersFor(file)).events[0]!.event.id).toBe(e.event.id);
        ids.add(e.event.id);
      }
      expect(ids.size).toBe(listSamples('artifactory').length);
    });

    it('reads the log times and the artefact path', () => {
      const e = normalise(
        Buffer.from(
          rawBody(loadSample('artifactory', 'artifactory-access.log__ACCEPTED_DOWNLOAD_anonymous_.json')),
        ),
        { 'content-type': 'text/plain' },
      ).events[0]!;
      expect(e['@timestamp']).toBe('2020-05-15T15:52:11.456Z');
      expect(e.pipewarden).toMatchObject({
        repository: 'jcenter-cache',
        artifact: 'jcenter-cache:org/iostreams/iostreams/0.2/iostreams-0.2.jar',
      });
      const w = normalise(
        Buffer.from(rawBody(loadSample('artifactory', 'artifact.deployed__jfrog-docs.json'))),
        headersFor('artifact.deployed__jfrog-docs.json'),
      ).events[0]!;
      expect(w.pipewarden).toMatchObject({
        repository: 'sample_repo',
        artifact: 'sample_repo/sample_dir/sample.txt',
      });
      const f = normalise(
        Buffer.from(
          rawBody(loadSample('artifactory', 'distribution.distribute_failed__distributionFailedEvent.json')),
        ),
        { 'content-type': 'application/json' },
      ).events[0]!;
      expect(f.event.outcome).toBe('failure');
    });

    it('maps access and request log lines, including the forms no public sample shows', () => {
      const cases: Array<[string, string, string | undefined, string | undefined, string | undefined]> = [
        [
          '2024-05-01T10:00:00.000Z [abc123] [DENIED LOGIN]   for client : bob / 10.0.0.5.',
          'login.failure',
          'bob',
          '10.0.0.5',
          undefined,
        ],
        [
          '2019-06-17 22:01:39,942 [DENIED LOGIN]  for mallory/1.2.3.4.',
          'login.failure',
          'mallory',
          '1.2.3.4',
          undefined,
        ],
        [
          '2024-05-01T10:00:00.000Z [abc123] [ACCEPTED LOGIN]   for client : alice / 10.0.0.6',
          'login.success',
          'alice',
          '10.0.0.6',
          undefined,
        ],
        [
          '2024-05-01T10:00:00.000Z [abc123] [ACCEPTED DEPLOY] libs-release:a/b/c.jar for client : ci / 10.0.0.7',
          'artifact.publish',
          'ci',
          '10.0.0.7',
          undefined,
        ],
        [
          '2024-05-01T10:00:00.000Z [abc123] [ACCEPTED DOWNLOAD] libs-release:a/b/c.jar for client : dev / 10.0.0.8 [APIKEY]',
          'artifact.download',
          'dev',
          '10.0.0.8',
          undefined,
        ],
        [
          '2024-05-01T10:00:00.000Z [abc123] [ACCEPTED DELETE] libs-release:a/b/c.jar for client : dev / 10.0.0.8',
          'artifact.delete',
          'dev',
          '10.0.0.8',
          undefined,
        ],
        [
          '2024-05-01T10:00:00.000Z [abc123] [DENIED DOWNLOAD] libs-release:a for client : anonymous / 10.0.0.9',
          'access.denied',
          undefined,
          '10.0.0.9',
          undefined,
        ],
        [
          '2024-05-01T10:00:00.000Z [abc123] [ACCEPTED DEPLOY] libs-release:x for client : anonymous / 10.0.0.9',
          'access.anonymous',
          undefined,
          '10.0.0.9',
          undefined,
        ],
        [
          '2024-05-01T10:00:00.000Z|t1|10.0.0.9|alice|GET|/artifactory/api/repositories|401|0|0|3|JFrog-CLI/2.0',
          'login.failure',
          'alice',
          '10.0.0.9',
          'JFrog-CLI/2.0',
        ],
        [
          '2024-05-01T10:00:00.000Z|t1|10.0.0.9|anonymous|GET|/artifactory/api/repositories|401|0|0|3|docker/24',
          'other',
          undefined,
          '10.0.0.9',
          'docker/24',
        ],
        [
          '2024-05-01T10:00:00.000Z|t1|10.0.0.9|bob|PUT|/artifactory/libs/x.jar|403|0|0|3|curl/8',
          'access.denied',
          'bob',
          '10.0.0.9',
          'curl/8',
        ],
        [
          '2024-05-01T10:00:00.000Z|t1|10.0.0.9|anonymous|GET|/artifactory/libs/x.jar|200|0|10|3|curl/8 (x|y)',
          'access.anonymous',
          undefined,
          '10.0.0.9',
          'curl/8 (x|y)',
        ],
      ];
      for (const [line, kind, user, ip, ua] of cases) {
        const e = readLine(artifactory.lines!, line, at, { transport: 'syslog' })!;
        expect(e, line).toBeTruthy();
        expect(e.pipewarden.kind, line).toBe(kind);
        expect(e.user?.name, line).toBe(user);
        expect(e.source?.ip, line).toBe(ip);
        expect(e.user_agent?.original, line).toBe(ua);
      }
    });

    it('does not claim lines of other formats', () => {
      for (const line of [
        '/job/a/configSubmit by u from 1.2.3.4',
        'a|b|c',
        'ACCEPTED',
        '[DENIED LOGIN]',
        '',
      ]) {
        expect(artifactoryAccessLines.read(line, at, { transport: 'syslog' }) !== undefined, line).toBe(
          false,
        );
        expect(artifactoryRequestLines.read(line, at, { transport: 'syslog' }) !== undefined, line).toBe(
          false,
        );
      }
    });

    it('refuses bodies that are not Artifactory payloads or logs', () => {
      expect(() => normalise(Buffer.from('[1]'), { 'content-type': 'application/json' })).toThrow(
        AdapterInputError,
      );
      expect(() =>
        normalise(Buffer.from('{"domain":"artifact"}'), { 'content-type': 'application/json' }),
      ).toThrow(/event_type/);
      expect(() => normalise(Buffer.from('nope\n'), { 'content-type': 'text/plain' })).toThrow(
        AdapterInputError,
      );
    });
  });

  describe('property', () => {
    // The generic properties (test/unit/adapter-properties.test.ts) run with the default token mode.
    it('in hmac-sha256 mode, random bodies and headers never verify without the secret', () => {
      fc.assert(
        fc.property(
          fc.oneof(fc.string(), fc.json()),
          fc.dictionary(fc.constantFrom('x-jfrog-event-auth', 'content-type', 'authorization'), fc.string()),
          (body, headers) => {
            expect(artifactory.verify(Buffer.from(body), headers, signed, at).ok).toBe(false);
            // The plain token is no signature in this mode.
            expect(
              artifactory.verify(Buffer.from(body), { ...headers, 'x-jfrog-event-auth': SECRET }, signed, at)
                .ok,
            ).toBe(false);
          },
        ),
        { numRuns: 300 },
      );
    });
  });
});
