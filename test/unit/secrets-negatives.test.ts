// Issue 12: CI output that looks like a secret and is not. Each line is a shape real tools print (the
// tool in the comment); random parts are drawn from a seed. No finding may come out of any of them.
import { describe, expect, it } from 'vitest';
import { scanText } from '../../src/secrets/scanner.ts';
import { A62, A64, AURL, HEX, rng, str } from '../support/secret-samples.ts';

const KEY = 'negatives-test-key-0123456789';

function lookAlikes(seed: number): Array<[string, string]> {
  const r = rng(seed);
  const uuid = `${str(r, HEX, 8)}-${str(r, HEX, 4)}-4${str(r, HEX, 3)}-a${str(r, HEX, 3)}-${str(r, HEX, 12)}`;
  return [
    ['pytest result line', 'PASS tests/auth/test_token_refresh.py::test_expired_secret_is_rejected'],
    ['pytest node id', 'tests/unit/test_password_reset.py::test_reset_token_expired PASSED       [ 42%]'],
    ['go test', 'ok  \tgithub.com/acme/app/internal/auth/token\t0.012s'],
    ['csrf form field', `csrf-token=${str(r, A64, 86)}==`],
    ['csrf meta tag', `<meta name="csrf-token" content="${str(r, A64, 86)}==" />`],
    ['csrf header', `> X-CSRF-Token: ${str(r, AURL, 43)}`],
    ['k8s secretName', '        secretName: registry-credentials'],
    ['Maven coordinates', '[INFO] +- com.google.auth:google-auth-library-oauth2-http:jar:1.19.0:compile'],
    ['Maven coordinates (jjwt)', '[INFO] |  +- io.jsonwebtoken:jjwt-jackson:jar:0.11.5:runtime'],
    ['properties host:port', 'dev.credentials.url=dev-lb1.api.internal:5215'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal shell expansion, not a template
    ['required expansion', '      DB_PASSWORD: ${DB_PASSWORD:?DB_PASSWORD must be set}'],
    ['angle placeholder', '  curl -u <user:password> https://nexus.acme.io/service/rest/v1/status'],
    ['square placeholder', '  mysql -h db.internal -u root --password [PASSWORD] app'],
    ['ellipsis truncation', `Using API token ${str(r, A62, 6)}… (expires in 29 days)`],
    ['[Redacted] truncation', `  serviceAccountToken: ops_${str(r, A62, 10)}..[Redacted]`],
    ['sequential hex sample', 'API_KEY=1234567890abcdef1234567890abcdef'],
    ['sequential alphabet sample', 'export SECRET_KEY=abcdefghijklmnopqrstuvwxyz012345'],
    ['sequential uuid sample', 'token: 12345678-abcd-abcd-abcd-1234567890ab'],
    ['asset fingerprint', `  public/assets/favicon.ico-${str(r, HEX, 32)}.png  4.2 KiB`],
    [
      'Firebase web config',
      `  firebaseConfig = { apiKey: "AIza${str(r, AURL, 35)}", authDomain: "acme.firebaseapp.com" }`,
    ],
    [
      'Maps JavaScript loader',
      `<script src="https://maps.googleapis.com/maps/api/js?key=AIza${str(r, AURL, 35)}&callback=initMap">`,
    ],
    ['NEXT_PUBLIC_ key', `NEXT_PUBLIC_FIREBASE_API_KEY=AIza${str(r, AURL, 35)}`],
    ['credential id', `  "credentialId": "${uuid}",`],
    ['secret name', 'LLM_SECRET_NAME = "NEXUS-GPT4-API-KEY"'],
    ['key vault name', '  keyVaultToStoreSecrets: cmp2-qat-1208358310'],
    ['curl placeholder user', '   curl -X GET --insecure --user "username:password" \\'],
    ['token ttl', 'token_ttl: 3600'],
    ['a count named pass', 'tests passed: 1048576'],
    ['a numeric setting', 'auth_retries: 100000'],
    ['a duration in ms', 'AUTH_TIMEOUT_MS=300000'],
    ['a token count', 'total_tokens=8812345'],
    ['password policy', 'password_min_length: 12'],
    ['request id', `< x-request-id: ${uuid}`],
    ['terraform sensitive', '      + password = (sensitive value)'],
    ['java stack frame', '\tat com.acme.auth.TokenService.refresh(TokenService.java:42)'],
    ['docker buildx secret mount', '#12 [build 3/7] RUN --mount=type=secret,id=npm_token npm ci'],
    ['secretKeyRef', '          secretKeyRef: { name: app-secrets, key: api-token }'],
    [
      'k8s env from a secret',
      '- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef:\n      name: db\n      key: password',
    ],
    ['wrapped hash then text', `  sha256:${str(r, HEX, 64)}\nDownloading layer 3/7`],
    [
      'slack token with masked tail',
      '"token4": "xoxp-572370529330-573807301142-572331691188-####################"',
    ],
  ];
}

describe('secrets scanner on look-alike CI lines', () => {
  for (const [name, line] of lookAlikes(5)) {
    it(`${name}: no finding`, () => {
      for (const seed of [1, 2, 3]) {
        const text = lookAlikes(seed).find(([n]) => n === name)![1];
        expect(scanText(text, { fingerprintKey: KEY, job: 'neg' }), text).toEqual([]);
      }
      expect(line.length).toBeGreaterThan(0);
    });
  }
});
