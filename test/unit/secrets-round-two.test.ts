// Issue 12, round two: secrets the first round missed, one behaviour per case. Token formats come from
// the vendors' documentation (cited per case); random parts are drawn from a seed so no live-looking
// token is committed. Each case must yield a finding and must not leave the secret in the redacted text.
import { describe, expect, it } from 'vitest';
import { redactLine, StreamScanner, scanText } from '../../src/secrets/scanner.ts';
import { A62, AURL, B32, HEX, rng, str, UPPERNUM } from '../support/secret-samples.ts';

const KEY = 'round-two-test-key-0123456789';
const r = rng(1212);
const pw = (): string => `Qz${str(r, A62, 10)}!7`;
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const b64url = (s: string): string => Buffer.from(s).toString('base64url');

interface Case {
  name: string;
  text: string;
  secret: string;
  rule?: string;
}

function streamRedacted(text: string): string {
  const s = new StreamScanner({ fingerprintKey: KEY, job: 'r2', redact: true });
  s.push(text);
  s.end();
  return s.takeRedacted();
}

function check(c: Case): void {
  const f = scanText(c.text, { fingerprintKey: KEY, job: 'r2' });
  expect(f.length, `${c.name}: ${c.text}`).toBeGreaterThan(0);
  if (c.rule !== undefined)
    expect(
      f.map((x) => x.ruleId),
      c.name,
    ).toContain(c.rule);
  expect(JSON.stringify(f), c.name).not.toContain(c.secret);
  expect(streamRedacted(`${c.text}\n`), `${c.name} (redacted stream)`).not.toContain(c.secret);
}

describe('secrets round two: name and value joined by other separators', () => {
  const cases: Case[] = [];
  const add = (name: string, make: (s: string) => string, secret = pw()): void => {
    cases.push({ name, text: make(secret), secret });
  };
  // https://maven.apache.org/settings.html#servers
  add('Maven settings.xml element', (s) => `      <password>${s}</password>`);
  // https://learn.microsoft.com/nuget/reference/nuget-config-file#packagesourcecredentials
  add('NuGet key/value attribute pair', (s) => `  <add key="ClearTextPassword" value="${s}" />`);
  add('Go typed var', (s) => `var dbPassword string = "${s}"`);
  add('Kotlin typed var', (s) => `val apiToken: String = "${s}"`);
  add('PHP .=', (s) => `$dbPassword .= "${s}";`);
  add('Java System.setProperty', (s) => `System.setProperty("DB_PASSWORD", "${s}");`);
  add('function-call arguments', (s) => `os.Setenv("API_TOKEN", "${s}")`);
  add('a call with the value as its argument', (s) => `dataSource.setPassword("${s}");`);
  add('Makefile ?=', (s) => `REGISTRY_TOKEN ?= ${s}`);
  add('Makefile ::=', (s) => `API_SECRET ::= ${s}`);
  add('Makefile :::=', (s) => `DEPLOY_TOKEN :::= "${s}"`);
  add('creds=', (s) => `+ creds=deploy:${s}`);
  add('JSON with escaped quotes', (s) => `{"body":"{\\"db_password\\":\\"${s}\\"}"}`);
  for (const c of cases) it(c.name, () => check(c));

  it('a Kubernetes env entry whose name and value sit on separate lines', () => {
    const s = pw();
    // https://kubernetes.io/docs/tasks/inject-data-application/define-environment-variable-container/
    check({
      name: 'k8s env',
      text: `        env:\n        - name: DB_PASSWORD\n          value: "${s}"`,
      secret: s,
    });
    const t = str(r, A62, 32);
    // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/taskdef-envfiles.html (JSON form)
    check({ name: 'ECS env', text: `  {\n    "name": "API_TOKEN",\n    "value": "${t}"\n  }`, secret: t });
  });

  it('an XML element whose value sits on its own line', () => {
    const s = pw();
    check({ name: 'xml multi-line', text: `<password>\n    ${s}\n</password>`, secret: s });
  });

  it('the look-back does not pair a name with an unrelated later value', () => {
    const text = '- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef:\n      name: db\n      key: password';
    expect(scanText(text, { fingerprintKey: KEY, job: 'r2' })).toEqual([]);
  });
});

describe('secrets round two: values the generic filters used to drop although the name says secret', () => {
  const uuid = `${str(r, HEX, 8)}-${str(r, HEX, 4)}-4${str(r, HEX, 3)}-a${str(r, HEX, 3)}-${str(r, HEX, 12)}`;
  const cases: Case[] = [
    // https://legacydocs.hubspot.com (legacy hapikey is a UUID)
    { name: 'UUID-shaped key', text: `HUBSPOT_API_KEY=${uuid}`, secret: uuid },
    // https://developer.cisco.com/meraki/api-v1/authorization/
    { name: '40-hex key', text: `MERAKI_DASHBOARD_API_KEY: ${'a'}${str(r, HEX, 39)}`, secret: '' },
    { name: 'digits-only password', text: 'KEYSTORE_PASSWORD=48120937', secret: '48120937' },
    // https://developer.hashicorp.com/vault/docs/concepts/tokens#token-prefixes
    { name: 'legacy Vault s. token', text: `VAULT_TOKEN=s.${str(r, A62, 24)}`, secret: '' },
    // https://developer.harness.io/docs/platform/automation/api/add-and-manage-api-keys/
    {
      name: 'Harness pat. token',
      text: `HARNESS_API_KEY=pat.${str(r, AURL, 22)}.${str(r, HEX, 24)}.${str(r, A62, 20)}`,
      secret: '',
    },
    {
      name: 'Mapbox pk. token',
      text: `MAPBOX_ACCESS_TOKEN=pk.${b64url(`{"u":"acme","a":"${str(r, HEX, 25)}"}`)}.${str(r, AURL, 22)}`,
      secret: '',
    },
    {
      name: 'short password with repeated characters',
      text: 'MYSQL_PASSWORD: "Zz44aa!!"',
      secret: 'Zz44aa!!',
    },
  ];
  for (const c of cases) {
    if (c.secret === '') c.secret = c.text.slice(c.text.search(/[=:] ?/) + 1).trim();
    it(c.name, () => check(c));
  }
});

describe('secrets round two: vendor formats', () => {
  const cases: Case[] = [
    // https://api.slack.com/authentication/rotation
    {
      name: 'Slack xoxe- refresh token',
      text: `{"refresh_token":"xoxe-1-${str(r, A62, 140)}"}`,
      secret: '',
      rule: 'slack-refresh-token',
    },
    {
      name: 'Slack xoxe.xoxp- rotating token',
      text: `SLACK_TOKEN=xoxe.xoxp-1-${str(r, '0123456789', 12)}-${str(r, '0123456789', 13)}-${str(r, '0123456789', 13)}-${str(r, HEX, 64)}`,
      secret: '',
    },
    {
      name: 'Slack workflow webhook (four segments)',
      text: `https://hooks.slack.com/workflows/T${str(r, UPPERNUM, 8)}/A${str(r, UPPERNUM, 10)}/${str(r, '0123456789', 18)}/${str(r, A62, 24)}`,
      secret: '',
      rule: 'slack-webhook-url',
    },
    // https://sourcegraph.com/docs/cli/how-tos/creating_an_access_token
    {
      name: 'Sourcegraph sgp_',
      text: `SRC_ACCESS_TOKEN=sgp_${str(r, HEX, 16)}_${str(r, HEX, 40)}`,
      secret: '',
      rule: 'sourcegraph-token',
    },
    // 1Password security white paper, Secret Key format
    {
      name: '1Password secret key',
      text: `A3-${str(r, UPPERNUM, 6)}-${str(r, UPPERNUM, 6)}-${str(r, UPPERNUM, 5)}-${str(r, UPPERNUM, 5)}-${str(r, UPPERNUM, 5)}-${str(r, UPPERNUM, 5)}`,
      secret: '',
      rule: 'onepassword-secret-key',
    },
    // https://docs.openshift.com (oc login --token=sha256~…)
    {
      name: 'OpenShift sha256~',
      text: `oc login --token=sha256~${str(r, AURL, 43)}`,
      secret: '',
      rule: 'openshift-token',
    },
    // https://developers.facebook.com/docs/facebook-login/guides/access-tokens
    { name: 'Facebook EAA token', text: `EAA${str(r, A62, 170)}`, secret: '', rule: 'facebook-access-token' },
    {
      name: 'Facebook app token id|secret',
      text: `access_token=${str(r, '123456789', 15)}|${str(r, AURL, 27)}`,
      secret: '',
      rule: 'facebook-access-token',
    },
    // https://bundler.io/v2.5/man/bundle-config.1.html#CREDENTIALS-FOR-GEM-SOURCES
    {
      name: 'Bundler BUNDLE_<HOST>=user:pass',
      text: `export BUNDLE_GEMS__CONTRIBSYS__COM=${str(r, HEX, 8)}:${str(r, HEX, 8)}`,
      secret: '',
      rule: 'bundler-credentials',
    },
    // https://developers.cloudflare.com/fundamentals/api/get-started/create-token/
    {
      name: 'Cloudflare API token by product name',
      text: `CLOUDFLARE_API_TOKEN: ${str(r, AURL, 40)}`,
      secret: '',
    },
    // https://help.sumologic.com/docs/manage/security/access-keys/
    {
      name: 'Sumo Logic access id',
      text: `SUMO_ACCESS_ID=su${str(r, A62, 12)}`,
      secret: '',
      rule: 'sumologic-key',
    },
    // https://docs.stripe.com/keys#limit-access
    {
      name: 'Stripe restricted rk_ key',
      text: `STRIPE_KEY=rk_live_${str(r, A62, 99)}`,
      secret: '',
      rule: 'stripe-secret-key',
    },
    // RFC 7519: a JOSE header needs only `typ`; base64-wrapped as a cookie dump prints it
    {
      name: 'JWT without alg, base64-wrapped',
      text: `session=${b64(`${b64url('{"typ":"JWT"}')}.${b64url(`{"sub":"${str(r, '0123456789', 8)}"}`)}.${str(r, AURL, 43)}`)}`,
      secret: '',
    },
  ];
  for (const c of cases) {
    if (c.secret === '') {
      const m = /(?:[=:] ?|--token=)([^\s"]+)"?\}?$/.exec(c.text);
      c.secret = (m?.[1] ?? c.text).replace(/^"|"$/g, '');
    }
    it(c.name, () => check(c));
  }
});

describe('secrets round two: curl and HTTP variants', () => {
  const cases: Case[] = [];
  const add = (name: string, make: (s: string) => string, secret: string): void => {
    cases.push({ name, text: make(secret), secret });
  };
  // https://curl.se/docs/manpage.html#-u
  add('curl -u quoted', (s) => `curl -sf -u "ci-bot:${s}" https://jenkins.acme.io/api/json`, pw());
  add(
    'curl --user with a quoted password',
    (s) => `curl --user kevin:'${s}' -X PATCH https://api.acme.io`,
    pw(),
  );
  add('curl -u with an empty user', (s) => `curl -u ":${s}" https://api.acme.io/v1/deploy`, str(r, A62, 32));
  // https://docs.stripe.com/api/authentication: the key is the user, the password is empty
  add(
    'curl -u token-as-user',
    (s) => `curl https://api.stripe.com/v1/charges -u ${s}:`,
    `sk_test_${str(r, A62, 24)}`,
  );
  // https://supabase.com/docs/guides/api/api-keys
  add('apikey header', (s) => `curl https://x.supabase.co/rest/v1/items -H "apikey: ${s}"`, str(r, A62, 40));
  add('Token header', (s) => `curl -H "Token: ${s}" https://ci.acme.io/api/builds`, str(r, HEX, 40));
  // https://octopus.com/docs/octopus-rest-api/how-to-create-an-api-key
  add(
    'X-Vendor-ApiKey header',
    (s) => `curl -H "X-Octopus-ApiKey: ${s}" https://octopus.acme.io/api`,
    `API-${str(r, UPPERNUM, 26)}`,
  );
  // RFC 7617: user-id and password; an API key as user with an empty password
  add('Basic auth with an empty password', (s) => `> Authorization: Basic ${s}`, b64(`${str(r, A62, 32)}:`));
  for (const c of cases) it(c.name, () => check(c));

  it('curl -u on a backslash-continued line', () => {
    const s = pw();
    check({
      name: 'continued',
      text: `+ curl -sSf -X POST \\\n    -u deploy:${s} \\\n    https://nexus.acme.io/service/rest/v1/components`,
      secret: s,
    });
  });
});

describe('secrets round two: encoded and wrapped', () => {
  it('decodes a base64 run with no digit in it (it hides an AWS key id)', () => {
    let blob = '';
    for (let i = 0; i < 100_000 && blob === ''; i++) {
      const b = b64(`AKIA${str(r, B32, 16)}`);
      if (!/\d/.test(b)) blob = b;
    }
    expect(blob).not.toBe('');
    const f = scanText(`+ echo ${blob} | base64 -d > key_id`, { fingerprintKey: KEY, job: 'r2' });
    expect(f.map((x) => x.ruleId)).toContain('aws-access-key-id');
    expect(f[0]!.encoding).toBe('base64');
    expect(redactLine(`+ echo ${blob} | base64 -d`)).not.toContain(blob);
  });

  it('finds a token a terminal wrapped over two lines, reports it once at its first line, redacts both parts', () => {
    const token = `ghp_${str(r, A62, 36)}`;
    const line = `remote: Resolving deltas: 100% (2048/2048), done. Using token ${token} for acme/infra`;
    const at = 80; // the terminal's width
    expect(at).toBeGreaterThan(line.indexOf(token));
    expect(at).toBeLessThan(line.indexOf(token) + token.length);
    const text = `first line\n${line.slice(0, at)}\n${line.slice(at)}\nlast line\n`;
    const f = scanText(text, { fingerprintKey: KEY, job: 'r2' }).filter((x) => x.ruleId === 'github-pat');
    expect(f).toHaveLength(1);
    expect(f[0]!.line).toBe(2);
    const red = streamRedacted(text);
    const cut = at - line.indexOf(token);
    expect(red).not.toContain(token.slice(4, cut));
    expect(red).not.toContain(token.slice(cut));
    expect(red.split('\n')).toHaveLength(text.split('\n').length);
    expect(red).toContain('first line\n');
    expect(red).toContain('\nlast line\n');
  });

  it('a held (possibly wrapped) line is released at the next line, whatever the chunking', () => {
    const s = new StreamScanner({ fingerprintKey: KEY, job: 'r2', redact: true });
    const long = `Downloading https://cdn.acme.io/artifacts/${str(r, A62, 40)}`;
    s.push(`${long}\n`);
    const first = s.takeRedacted();
    s.push('next\n');
    const second = s.takeRedacted();
    s.end();
    expect(first + second + s.takeRedacted()).toBe(`${long}\nnext\n`);
  });
});
