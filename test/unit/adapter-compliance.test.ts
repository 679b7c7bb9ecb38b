// One compliance test every registered adapter passes (Vector's habit): registered, documented, with
// provenance-bearing fixtures; and through the real HTTP plugin, random and mutated bodies and headers,
// correctly authenticated, are answered 2xx or 4xx, never 5xx, never a crash; unauthenticated, 401.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSamples, rawBody } from '../../ingest-adapters/fixtures.ts';
import { adapters } from '../../ingest-adapters/index.ts';
import type { RunningApp } from '../../src/app.ts';
import { startEmbedded } from '../support/app.ts';
import { renderSourcesTables } from '../support/readme.ts';
import { signers, sourceSecretsEnv } from '../support/signers.ts';

const ROOT = new URL('../../', import.meta.url);
const SECRET = 'compliance-secret-0123456789';
const folders = readdirSync(new URL('ingest-adapters/', ROOT)).filter((f) =>
  statSync(new URL(`ingest-adapters/${f}`, ROOT)).isDirectory(),
);

function fixtureBodies(id: string): string[] {
  return loadSamples(id).map(rawBody);
}

describe('ingest adapter registry', () => {
  it('lists every adapter folder once, with the folder name as id', () => {
    const withCode = folders.filter((f) => existsSync(new URL(`ingest-adapters/${f}/index.ts`, ROOT)));
    expect(adapters.map((a) => a.id).sort()).toEqual(withCode.sort());
    expect(new Set(adapters.map((a) => a.id)).size).toBe(adapters.length);
  });

  const readme = readFileSync(new URL('README.md', ROOT), 'utf8');
  for (const a of adapters) {
    it(`${a.id}: is documented in the README, has real fixtures with provenance, and a test signer`, () => {
      const routes = [`/ingest/${a.id}`, ...(a.paths ?? [])];
      expect(
        routes.some((r) => readme.includes(r)),
        `${a.id} route in README`,
      ).toBe(true);
      expect(a.secretEnv, `${a.id} secretEnv`).toMatch(/^PIPEWARDEN_[A-Z0-9_]+$/);
      expect(readme, `${a.id} secret variable in README`).toContain(a.secretEnv);
      expect(existsSync(new URL(`ingest-adapters/${a.id}/fixtures/README.md`, ROOT))).toBe(true);
      const bodies = fixtureBodies(a.id);
      expect(bodies.length).toBeGreaterThan(0);
      for (const s of loadSamples(a.id)) {
        expect(s.provenance, `${a.id}/${s.file} provenance`).toBeTruthy();
      }
      expect(signers[a.id], `${a.id} signer`).toBeTypeOf('function');
      expect(a.docs.length, `${a.id} rows in the README's sources table`).toBeGreaterThan(0);
    });
  }

  it("README's sources tables are the registry's (UPDATE_README=1 rewrites them)", () => {
    const generated = renderSourcesTables(readme, adapters);
    if (process.env.UPDATE_README) writeFileSync(new URL('README.md', ROOT), generated);
    else
      expect(
        readme,
        'README sources tables: run UPDATE_README=1 npx vitest run test/unit/adapter-compliance.test.ts',
      ).toBe(generated);
  });
});

describe('every adapter, through the HTTP plugin, under random and mutated input', () => {
  let app: RunningApp;
  beforeAll(async () => {
    const env = sourceSecretsEnv(SECRET);
    ({ app } = await startEmbedded({ log: { level: 'silent' } }, env, ['ingest']));
  });
  afterAll(async () => {
    await app?.stop();
  });

  for (const a of adapters) {
    it(`${a.id}: 2xx or 4xx, never 5xx; 401 without credentials`, async () => {
      const route = a.paths?.[0] ?? `/ingest/${a.id}`;
      const bodies = fixtureBodies(a.id);
      const mutated = fc
        .tuple(fc.constantFrom(...bodies), fc.nat(), fc.nat(), fc.string({ maxLength: 20 }))
        .map(([b, i, n, ins]) => {
          const at = i % (b.length + 1);
          return b.slice(0, at) + ins + b.slice(at + (n % 20));
        });
      const body = fc.oneof(mutated, fc.json(), fc.string({ minLength: 1 }), fc.constantFrom(...bodies));
      const headerName = fc.constantFrom(
        'content-type',
        'x-github-event',
        'x-gitlab-event',
        'x-event-key',
        'x-nexus-webhook-id',
        'circleci-event-type',
        'ce-type',
      );
      const headers = fc.dictionary(
        headerName,
        fc.oneof(
          fc.string(),
          fc.constantFrom('application/json', 'text/plain', 'push', 'Push Hook', 'repo:push'),
        ),
        { maxKeys: 3 },
      );
      await fc.assert(
        fc.asyncProperty(body, headers, async (raw, extra) => {
          const signed = {
            'content-type': 'application/json',
            ...extra,
            ...signers[a.id]!(raw, SECRET, new Date()),
          };
          const ok = await app.server.inject({ method: 'POST', url: route, payload: raw, headers: signed });
          expect(ok.statusCode, ok.body).toBeGreaterThanOrEqual(200);
          expect(ok.statusCode, ok.body).toBeLessThan(500);
          if (ok.statusCode >= 400) expect(ok.json().message ?? ok.json().text, ok.body).toBeTruthy();
          const unsigned = await app.server.inject({
            method: 'POST',
            url: route,
            payload: raw,
            headers: { 'content-type': 'application/json', ...extra },
          });
          expect([401, 415], unsigned.body).toContain(unsigned.statusCode);
        }),
        { numRuns: 60 },
      );
    });
  }
});
