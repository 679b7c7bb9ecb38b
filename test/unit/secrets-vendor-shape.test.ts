// Issue 12, closing the gap to gitleaks on its own corpus: the placeholder filters are for the generic
// tier, a vendor-shaped match keeps hand-written-looking values; a vendor's documented structure (a fixed
// tail, an exact length, an unsigned JWT's empty signature) decides, not the look of the value; generic
// matches whose name says "not real" or names a product with a fixed format that the value lacks are not
// reported. Token formats are the vendors' documented ones (cited per case); random parts come from a seed.
import { describe, expect, it } from 'vitest';
import { type Finding, scanText } from '../../src/secrets/scanner.ts';
import { A62, A64, AURL, HEX, rng, str } from '../support/secret-samples.ts';

const KEY = 'vendor-shape-test-key-0123456789';
const r = rng(4242);
const scan = (text: string): Finding[] => scanText(text, { fingerprintKey: KEY, job: 'vs' });
const ids = (text: string): string[] => scan(text).map((f) => f.ruleId);
const b64url = (s: string): string => Buffer.from(s).toString('base64url');

function expectFound(text: string, rule: string, secret: string): void {
  const f = scan(text);
  expect(
    f.map((x) => x.ruleId),
    text,
  ).toContain(rule);
  expect(JSON.stringify(f), text).not.toContain(secret);
}

describe('vendor rules keep values that look hand-written', () => {
  it('a Snyk token (a UUID under the product name) with a sequential run is still a Snyk token', () => {
    // docs.snyk.io "Authentication for API": the token is a UUID.
    const t = `01234567-89ab-4cde-8f01-${str(r, HEX, 12)}`;
    expectFound(`export SNYK_TOKEN=${t}`, 'snyk-token', t);
  });

  it('a Heroku API key with an ascending block is still reported', () => {
    // devcenter.heroku.com "Authentication": legacy API keys are UUIDs.
    const t = `abcdef01-${str(r, HEX, 4)}-${str(r, HEX, 4)}-${str(r, HEX, 4)}-${str(r, HEX, 12)}`;
    expectFound(`heroku_api_key: "${t}"`, 'heroku-api-key', t);
  });

  it('a Slack bot token whose team id is 1234567890 is still a Slack bot token', () => {
    // api.slack.com/authentication/token-types: xoxb-<team id>-<bot id>-<secret>.
    const tail = str(r, A62, 24);
    const t = `xoxb-1234567890-${str(r, '0123456789', 12)}-${tail}`;
    expectFound(`SLACK_BOT_TOKEN=${t}`, 'slack-bot-token', tail);
  });

  it('the generic tier still drops sequential sample values', () => {
    expect(ids('DB_PASSWORD=abcdefgh12')).toEqual([]);
    expect(ids('api_token: "12345678-abcd-abcd-abcd-1234567890ab"')).toEqual([]);
  });

  it('values made only of ascending runs, in any case, are samples in the generic tier', () => {
    expect(ids('API_KEY=AbCdEf123')).toEqual([]);
    expect(ids('ACCESS_KEY: XyZ789abc')).toEqual([]);
    // A random value of the same length and mix is reported.
    expect(ids('ACCESS_KEY: Xq7Zr9Lm2Tw')).toContain('generic-secret-assignment');
  });
});

describe('entropy is measured where the vendor puts the randomness', () => {
  it('a Slack workspace token with repetitive numeric ids is found', () => {
    // Legacy workspace tokens: xoxa-2-<team id>-<user id>-<app id>-<hex>; ids are plain numbers.
    const tail = str(r, HEX, 18);
    const t = `xoxa-2-511111111-31111111111-3111111111111-${tail}`;
    expectFound(`"slack_token": "${t}"`, 'slack-user-token', tail);
  });

  it('a Slack token whose random segment is a repeated letter is not', () => {
    expect(ids('xoxp-2-511111111-3111111111-3111111111111-aaaaaaaaaaaaaaaaaaaaaaaa')).toEqual([]);
  });
});

describe('legacy (unprefixed) SonarQube tokens', () => {
  // docs.sonarsource.com "Generating and using tokens": before 9.5 tokens were 40 hex characters, passed as
  // sonar.login; now squ_/sqp_/sqa_ + 40 hex.
  it('is found under the product name, and the preview shows none of its characters', () => {
    const t = str(r, HEX, 40);
    expectFound(`mvn -B verify sonar:sonar -Dsonar.login=${t}`, 'sonarqube-token', t);
    const f = scan(`SONAR_TOKEN: ${t}`).find((x) => x.ruleId === 'sonarqube-token');
    expect(f?.preview.startsWith(t.slice(0, 1))).toBe(false);
  });

  it('is found in a Maven settings.xml property element', () => {
    const t = str(r, A62, 40);
    expectFound(`      <sonar.login>${t}</sonar.login>`, 'sonarqube-token', t);
  });

  it('the prefixed form keeps its prefix in the preview; 39 characters are not a token', () => {
    const t = `squ_${str(r, HEX, 40)}`;
    const f = scan(`SONAR_TOKEN=${t}`).find((x) => x.ruleId === 'sonarqube-token');
    expect(f?.preview.startsWith('squ_')).toBe(true);
    expect(ids(`sonar.login=${str(r, HEX, 39)}`)).not.toContain('sonarqube-token');
  });
});

describe('JWTs: RFC 7519 structure decides', () => {
  const header = b64url('{"alg":"none","typ":"JWT"}');
  const claims = b64url(`{"sub":"ci-deployer-${str(r, A62, 8)}","scope":"deploy:prod","iat":1733300000}`);

  it('an unsecured JWT (alg none, empty signature, RFC 7519 §6.1) is reported', () => {
    const t = `${header}.${claims}.`;
    expectFound(`Authorization: Bearer ${t}`, 'jwt', claims);
    expectFound(`export ID_TOKEN="${t}"`, 'jwt', claims);
  });

  it('alg none followed by a signature is a hand-built look-alike; a signed alg needs a signature', () => {
    expect(ids(`token ${header}.${claims}.${str(r, AURL, 43)}`)).not.toContain('jwt');
    expect(ids(`token ${b64url('{"alg":"HS256","typ":"JWT"}')}.${claims}.`)).not.toContain('jwt');
  });
});

describe('vendor structure beyond the prefix', () => {
  it('Anthropic API and admin keys end in AA', () => {
    // docs.anthropic.com: sk-ant-api03-… keys; the tail is the base64 of a fixed-length key.
    const body = str(r, AURL, 93);
    expectFound(`ANTHROPIC_API_KEY=sk-ant-api03-${body}AA`, 'anthropic-api-key', body);
    expect(ids(`x sk-ant-api03-${body}BB`)).not.toContain('anthropic-api-key');
  });

  it('a Sentry org token has a 43-character secret after its claims', () => {
    // docs.sentry.io "Auth Tokens": sntrys_<base64 claims>_<secret>.
    const claims = Buffer.from(
      `{"iat":1733300000.5,"url":"https://sentry.example.com","region_url":"https://us.sentry.example.com","org":"acme-${str(r, A62, 6)}"}`,
    ).toString('base64');
    const secret = str(r, A64, 43);
    expectFound(`SENTRY_AUTH_TOKEN=sntrys_${claims}_${secret}`, 'sentry-token', secret);
    expect(ids(`SENTRY_AUTH_TOKEN=sntrys_${claims}_${str(r, A62, 42)}`)).not.toContain('sentry-token');
    expect(ids(`SENTRY_AUTH_TOKEN=sntrys_${claims}_${str(r, A62, 44)}`)).not.toContain('sentry-token');
  });

  it('a Telegram bot token with a short (early-bot) id is found', () => {
    // core.telegram.org/bots/api#authorizing-your-bot: the example token has a 6-digit bot id.
    const t = `${str(r, '123456789', 6)}:A${str(r, AURL, 34)}`;
    expectFound(`TELEGRAM_BOT_TOKEN=${t}`, 'telegram-bot-token', t);
  });
});

describe('generic matches the name disowns', () => {
  it('names that say the value is not real are not secrets', () => {
    const v = str(r, A62, 18);
    for (const name of [
      'invalid_token',
      'fakeSecret',
      'dummy_api_key',
      'wrongPassword',
      'nonMatchingToken',
      'MOCK_SECRET',
    ])
      expect(ids(`${name} = "${v}"`), name).toEqual([]);
    expect(ids(`deploy_token = "${v}"`)).toContain('generic-secret-assignment');
  });

  it('a value under a product name with a fixed format that the value lacks defers to the vendor rule', () => {
    // Telegram `<id>:A<34>`, Sumo Logic access id `su`+12 / key 64 alphanumerics, Meraki 40 hex.
    expect(ids(`telegram_bot_token = "4321:${str(r, AURL, 30)}"`)).toEqual([]);
    expect(ids(`SUMO_ACCESS_KEY: ${str(r, A62, 20)}`)).toEqual([]);
    expect(ids(`meraki_api_token = ${str(r, HEX, 56)}`)).toEqual([]);
    // With the format, they are reported.
    const sumo = str(r, A62, 64);
    expectFound(`SUMO_ACCESS_KEY: ${sumo}`, 'sumologic-key', sumo);
    const meraki = str(r, HEX, 40);
    expectFound(`meraki_api_token = ${meraki}`, 'generic-secret-assignment', meraki);
  });
});
