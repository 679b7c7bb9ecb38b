// The "not ours" corpus, part 2: hand-written CI-output cases, NOT generated from our rules or their
// samples. Each positive is a shape a secret takes in build output, with the token's format taken from its
// vendor's documentation (URL in `source`); the random characters are drawn from a fixed seed at bench
// time so no live-looking token is committed. Each negative is a line real CI output prints that looks
// like a secret and is not (the shapes issue 12 lists, plus the usual suspects). The real CI logs of the
// repository's fixtures (vendor samples, provenance in src/ingest/build-logs/fixtures/README.md) are
// added line by line as negatives.
import { readFileSync } from 'node:fs';

export interface CorpusItem {
  id: string;
  /** Where the shape or the format comes from. */
  source: string;
  text: string;
}

type Rng = () => number;
function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x9e3779b9) >>> 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return ((t ^ (t >>> 15)) >>> 0) / 4294967296;
  };
}

const SETS = {
  A62: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
  AURL: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
  A64: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
  HEX: '0123456789abcdef',
  UHEX: '0123456789ABCDEF',
  LOWNUM: 'abcdefghijklmnopqrstuvwxyz0123456789',
  UPNUM: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  B32: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567',
  DIG: '0123456789',
  PW: 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%+-_',
} as const;
type SetName = keyof typeof SETS;

/** A seeded token generator: `g('A62', 36)`. */
export interface Gen {
  (set: SetName, n: number): string;
  uuid(): string;
  pw(): string;
}

function makeGen(r: Rng): Gen {
  const g = ((set: SetName, n: number): string => {
    const a = SETS[set];
    let s = '';
    for (let i = 0; i < n; i++) s += a[Math.floor(r() * a.length)];
    return s;
  }) as Gen;
  g.uuid = () => `${g('HEX', 8)}-${g('HEX', 4)}-4${g('HEX', 3)}-a${g('HEX', 3)}-${g('HEX', 12)}`;
  // A password as people choose them: two kinds of letters, digits, a symbol.
  g.pw = () => `${g('A62', 3)}${g('PW', 8)}${g('DIG', 2)}!`;
  return g;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const b64url = (s: string): string => Buffer.from(s).toString('base64url');
const TS = '2026-11-22T10:11:12.3456789Z ';
const ansi = (s: string): string => `\x1b[36;1m${s}\x1b[0m`;

interface Template {
  source: string;
  make: (g: Gen) => string;
}

const GH = 'https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/';

// ── Positives: one secret per item, in the shape CI output prints it.
const POSITIVES: Record<string, Template> = {
  'github-pat-remote-url': {
    source: GH,
    make: (g) =>
      `${TS}+ git remote set-url origin https://x-access-token:ghp_${g('A62', 36)}@github.com/acme/app.git`,
  },
  'github-fine-grained-env': {
    source: GH,
    make: (g) => `${TS}GH_TOKEN=github_pat_${g('A62', 22)}_${g('A62', 59)}`,
  },
  'gitlab-pat-header': {
    source: 'https://docs.gitlab.com/ee/security/tokens/#token-prefixes',
    make: (g) =>
      `$ curl --header "PRIVATE-TOKEN: glpat-${g('AURL', 20)}" "https://gitlab.acme.io/api/v4/projects"`,
  },
  'aws-key-id-ini': {
    source: 'https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html',
    make: (g) => `${TS}aws_access_key_id = AKIA${g('B32', 16)}`,
  },
  'aws-secret-ini': {
    source: 'https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html',
    make: (g) => `${TS}aws_secret_access_key = ${g('A64', 40)}`,
  },
  'slack-xoxe-refresh': {
    source: 'https://api.slack.com/authentication/rotation',
    make: (g) => `${TS}{"ok":true,"refresh_token":"xoxe-1-${g('AURL', 140)}","expires_in":43200}`,
  },
  'slack-xoxe-user': {
    source: 'https://api.slack.com/authentication/rotation',
    make: (g) =>
      `${TS}SLACK_TOKEN=xoxe.xoxp-1-${g('DIG', 12)}-${g('DIG', 13)}-${g('DIG', 13)}-${g('HEX', 64)}`,
  },
  'slack-workflow-webhook': {
    source:
      'https://slack.com/help/articles/360041352714-Build-a-workflow--Create-a-workflow-that-starts-outside-of-Slack',
    make: (g) =>
      `${TS}+ curl -X POST -d @payload.json https://hooks.slack.com/workflows/T${g('UPNUM', 8)}/A${g('UPNUM', 10)}/${g('DIG', 18)}/${g('A62', 24)}`,
  },
  'slack-trigger-webhook': {
    source: 'https://api.slack.com/automation/triggers/webhook',
    make: (g) =>
      `${TS}Posting to https://hooks.slack.com/triggers/T${g('UPNUM', 8)}/${g('DIG', 13)}/${g('HEX', 32)}`,
  },
  'sourcegraph-token': {
    source: 'https://sourcegraph.com/docs/cli/how-tos/creating_an_access_token',
    make: (g) => `${TS}  SRC_ACCESS_TOKEN: sgp_${g('HEX', 16)}_${g('HEX', 40)}`,
  },
  'onepassword-secret-key': {
    source: 'https://1passwordstatic.com/files/security/1password-white-paper.pdf (Secret Key format)',
    make: (g) =>
      `${TS}OP_SECRET_KEY=A3-${g('UPNUM', 6)}-${g('UPNUM', 6)}-${g('UPNUM', 5)}-${g('UPNUM', 5)}-${g('UPNUM', 5)}-${g('UPNUM', 5)}`,
  },
  'openshift-oc-login': {
    source:
      'https://docs.openshift.com/container-platform/4.14/cli_reference/openshift_cli/getting-started-cli.html',
    make: (g) => `${TS}+ oc login --token=sha256~${g('AURL', 43)} --server=https://api.ocp.acme.io:6443`,
  },
  'facebook-page-token': {
    source: 'https://developers.facebook.com/docs/facebook-login/guides/access-tokens',
    make: (g) => `${TS}FB_PAGE_ACCESS_TOKEN=EAA${g('A62', 3)}${g('A62', 170)}`,
  },
  'facebook-app-token-url': {
    source: 'https://developers.facebook.com/docs/facebook-login/guides/access-tokens#apptokens',
    make: (g) =>
      `${TS}GET https://graph.facebook.com/debug_token?input_token=x&access_token=${g('DIG', 15)}|${g('AURL', 27)}`,
  },
  'bundler-host-credentials': {
    source: 'https://bundler.io/v2.5/man/bundle-config.1.html#CREDENTIALS-FOR-GEM-SOURCES',
    make: (g) => `${TS}export BUNDLE_GEMS__CONTRIBSYS__COM=${g('HEX', 8)}:${g('HEX', 8)}`,
  },
  'cloudflare-api-token': {
    source: 'https://developers.cloudflare.com/fundamentals/api/get-started/create-token/',
    make: (g) => `${TS}  CLOUDFLARE_API_TOKEN: ${g('AURL', 40)}`,
  },
  'cloudflare-global-key': {
    source: 'https://developers.cloudflare.com/fundamentals/api/get-started/keys/',
    make: (g) => `${TS}cloudflare_api_key = "${g('HEX', 37)}"`,
  },
  'sumologic-access-id': {
    source: 'https://help.sumologic.com/docs/manage/security/access-keys/',
    make: (g) => `${TS}SUMO_ACCESS_ID=su${g('A62', 12)}`,
  },
  'sumologic-access-key': {
    source: 'https://help.sumologic.com/docs/manage/security/access-keys/',
    make: (g) => `${TS}SUMO_ACCESS_KEY=${g('A62', 64)}`,
  },
  'stripe-restricted-key': {
    source: 'https://docs.stripe.com/keys#limit-access',
    make: (g) => `${TS}STRIPE_API_KEY=rk_live_${g('A62', 99)}`,
  },
  'stripe-key-as-curl-user': {
    source: 'https://docs.stripe.com/api/authentication',
    make: (g) => `${TS}+ curl https://api.stripe.com/v1/charges -u sk_test_${g('A62', 24)}:`,
  },
  'jwt-base64-no-alg': {
    source: 'https://www.rfc-editor.org/rfc/rfc7519#section-3.1 (typ-only JOSE header)',
    make: (g) =>
      `${TS}session=${b64(`${b64url('{"typ":"JWT"}')}.${b64url(`{"sub":"${g('DIG', 8)}","iat":1732270000}`)}.${g('AURL', 43)}`)}`,
  },
  'maven-settings-password': {
    source: 'https://maven.apache.org/settings.html#servers',
    make: (g) => `${TS}      <password>${g.pw()}</password>`,
  },
  'maven-settings-password-multiline': {
    source: 'https://maven.apache.org/settings.html#servers',
    make: (g) => `${TS}      <password>\n${TS}        ${g.pw()}\n${TS}      </password>`,
  },
  'nuget-cleartext-password': {
    source: 'https://learn.microsoft.com/en-us/nuget/reference/nuget-config-file#packagesourcecredentials',
    make: (g) => `${TS}      <add key="ClearTextPassword" value="${g.pw()}" />`,
  },
  'go-typed-var': {
    source: 'https://go.dev/ref/spec#Variable_declarations',
    make: (g) => `${TS}var apiToken string = "${g('A62', 32)}"`,
  },
  'php-concat-assign': {
    source: 'https://www.php.net/manual/en/language.operators.assignment.php',
    make: (g) => `${TS}$dbPassword .= "${g.pw()}";`,
  },
  'java-set-property': {
    source:
      'https://docs.oracle.com/javase/8/docs/api/java/lang/System.html#setProperty-java.lang.String-java.lang.String-',
    make: (g) => `${TS}System.setProperty("DB_PASSWORD", "${g.pw()}");`,
  },
  'makefile-conditional': {
    source: 'https://www.gnu.org/software/make/manual/html_node/Setting.html',
    make: (g) => `${TS}REGISTRY_TOKEN ?= ${g('A62', 32)}`,
  },
  'makefile-posix-simple': {
    source: 'https://www.gnu.org/software/make/manual/html_node/Simple-Assignment.html',
    make: (g) => `${TS}API_SECRET ::= ${g('A62', 32)}`,
  },
  'makefile-immediate-escaped': {
    source: 'https://www.gnu.org/software/make/manual/html_node/Immediately-Expanded-Assignment.html',
    make: (g) => `${TS}DEPLOY_TOKEN :::= ${g('A62', 32)}`,
  },
  'k8s-env-name-value': {
    source: 'https://kubernetes.io/docs/tasks/inject-data-application/define-environment-variable-container/',
    make: (g) => `${TS}        env:\n${TS}        - name: DB_PASSWORD\n${TS}          value: "${g.pw()}"`,
  },
  'ecs-env-name-value-json': {
    source: 'https://docs.aws.amazon.com/AmazonECS/latest/developerguide/taskdef-envfiles.html',
    make: (g) =>
      `${TS}        {\n${TS}          "name": "API_TOKEN",\n${TS}          "value": "${g('A62', 32)}"\n${TS}        },`,
  },
  'creds-assignment': {
    source: 'CI debug output (set -x) of a deploy script',
    make: (g) => `${TS}+ creds=deploy:${g.pw()}`,
  },
  'digits-only-keystore-password': {
    source: 'https://developer.android.com/studio/publish/app-signing (keystore password)',
    make: (g) => `${TS}KEYSTORE_PASSWORD=${g('DIG', 3)}8${g('DIG', 2)}0${g('DIG', 3)}`,
  },
  'uuid-api-key': {
    source: 'https://legacydocs.hubspot.com/docs/methods/auth/oauth-overview (legacy hapikey is a UUID)',
    make: (g) => `${TS}HUBSPOT_API_KEY=${g.uuid()}`,
  },
  'hex40-api-key': {
    source: 'https://developer.cisco.com/meraki/api-v1/authorization/ (40-hex API key)',
    make: (g) => `${TS}  MERAKI_DASHBOARD_API_KEY: ${g('HEX', 40)}`,
  },
  'hex40-api-token': {
    source: 'https://sendbird.com/docs/chat/platform-api/v3/prepare-to-use-api#2-authentication',
    make: (g) => `${TS}SENDBIRD_API_TOKEN="${g('HEX', 40)}"`,
  },
  'vault-legacy-token': {
    source: 'https://developer.hashicorp.com/vault/docs/concepts/tokens#token-prefixes (pre-1.10 s.)',
    make: (g) => `${TS}VAULT_TOKEN=s.${g('A62', 24)}`,
  },
  'harness-pat': {
    source: 'https://developer.harness.io/docs/platform/automation/api/add-and-manage-api-keys/',
    make: (g) => `${TS}HARNESS_API_KEY=pat.${g('AURL', 22)}.${g('HEX', 24)}.${g('A62', 20)}`,
  },
  'mapbox-token': {
    source: 'https://docs.mapbox.com/help/getting-started/access-tokens/',
    make: (g) =>
      `${TS}MAPBOX_ACCESS_TOKEN=pk.${b64url(`{"u":"acme","a":"${g('LOWNUM', 25)}"}`)}.${g('AURL', 22)}`,
  },
  'short-password-repeated-chars': {
    source: 'CI debug output of a docker-compose service',
    make: (g) => `${TS}MYSQL_PASSWORD: "Zz${g('DIG', 1)}${g('DIG', 1)}aa!!"`,
  },
  'curl-user-continued-line': {
    source: 'https://curl.se/docs/manpage.html#-u',
    make: (g) =>
      `${TS}+ curl -sSf -X POST \\\n${TS}    -u deploy:${g.pw()} \\\n${TS}    https://nexus.acme.io/service/rest/v1/components`,
  },
  'curl-user-quoted': {
    source: 'https://curl.se/docs/manpage.html#-u',
    make: (g) => `${TS}+ curl -sf -u "ci-bot:${g.pw()}" https://jenkins.acme.io/api/json`,
  },
  'curl-user-empty-name': {
    source: 'https://curl.se/docs/manpage.html#-u',
    make: (g) => `${TS}+ curl -sf -u ":${g('A62', 32)}" https://api.acme.io/v1/deploy`,
  },
  'curl-apikey-header': {
    source: 'https://supabase.com/docs/guides/api/api-keys',
    make: (g) => `${TS}+ curl https://xyz.supabase.co/rest/v1/items -H "apikey: ${g('A62', 40)}"`,
  },
  'curl-token-header': {
    source: 'https://docs.getdbt.com/dbt-cloud/api-v2 (Authorization: Token …) and generic Token headers',
    make: (g) => `${TS}+ curl -H "Token: ${g('HEX', 40)}" https://ci.acme.io/api/builds`,
  },
  'curl-vendor-apikey-header': {
    source: 'https://octopus.com/docs/octopus-rest-api/how-to-create-an-api-key',
    make: (g) =>
      `${TS}+ curl -X POST https://octopus.acme.io/api/releases -H "X-Octopus-ApiKey: API-${g('UPNUM', 26)}"`,
  },
  'basic-auth-empty-password': {
    source: 'https://www.rfc-editor.org/rfc/rfc7617#section-2',
    make: (g) => `${TS}> Authorization: Basic ${b64(`${g('A62', 32)}:`)}`,
  },
  'base64-without-digits': {
    source: 'CI debug output decoding a base64 value (a run with no digit in it)',
    make: (g) => {
      for (let i = 0; i < 100_000; i++) {
        const blob = b64(`AKIA${g('B32', 16)}`);
        if (!/\d/.test(blob)) return `${TS}+ echo ${blob} | base64 -d > key_id`;
      }
      throw new Error('no digit-free base64 key id drawn');
    },
  },
  'wrapped-npm-token': {
    source: 'a terminal-width (80) wrap of a long line in captured output',
    make: (g) => {
      const line = `export NPM_TOKEN=npm_${g('A62', 36)} && npm publish --access public`;
      return `${line.slice(0, 40)}\n${line.slice(40)}`;
    },
  },
  'wrapped-github-pat': {
    source: 'a terminal-width (80) wrap of a long line in captured output',
    make: (g) => {
      const line = `remote: Using token ghp_${g('A62', 36)} for https://github.com/acme/infrastructure.git`;
      return `${line.slice(0, 80)}\n${line.slice(80)}`.replace(/^/, '');
    },
  },
  // Secrets as they really appear in CI output (where the first round was already good).
  'url-credentials': {
    source: 'https://www.rfc-editor.org/rfc/rfc3986#section-3.2.1',
    make: (g) => `${TS}Cloning into 'app'... https://deploy:${g.pw()}@git.acme.io/acme/app.git`,
  },
  'json-escaped-password': {
    source: 'docker inspect / JSON-in-JSON log output',
    make: (g) => `${TS}{"msg":"config","body":"{\\"db_password\\":\\"${g.pw()}\\"}"}`,
  },
  'ansi-coloured-token': {
    source: 'colourised CLI output',
    make: (g) => `${TS}${ansi(`NPM_TOKEN=npm_${g('A62', 36)}`)}`,
  },
  'debug-bearer-header': {
    source: 'curl -v / HTTP client debug traces',
    make: (g) => `${TS}> Authorization: Bearer ${g('AURL', 48)}`,
  },
  'docker-login-password': {
    source: 'https://docs.docker.com/reference/cli/docker/login/',
    make: (g) => `${TS}+ docker login -u ci -p ${g.pw()} registry.acme.io`,
  },
  'npmrc-auth-token': {
    source: 'https://docs.npmjs.com/cli/v10/configuring-npm/npmrc#auth-related-configuration',
    make: (g) => `${TS}//registry.npmjs.org/:_authToken=npm_${g('A62', 36)}`,
  },
  'database-url': {
    source: 'https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS',
    make: (g) => `${TS}DATABASE_URL=postgres://app:${g.pw()}@db.internal:5432/app`,
  },
  'twilio-api-key': {
    source: 'https://www.twilio.com/docs/iam/api-keys',
    make: (g) => `${TS}TWILIO_API_KEY=SK${g('HEX', 32)}`,
  },
  'sendgrid-key': {
    source: 'https://www.twilio.com/docs/sendgrid/ui/account-and-settings/api-keys',
    make: (g) => `${TS}SENDGRID_API_KEY=SG.${g('AURL', 22)}.${g('AURL', 43)}`,
  },
  'datadog-api-key': {
    source: 'https://docs.datadoghq.com/account_management/api-app-keys/',
    make: (g) => `${TS}  DD_API_KEY: ${g('HEX', 32)}`,
  },
  'azure-storage-connection-string': {
    source: 'https://learn.microsoft.com/en-us/azure/storage/common/storage-configure-connection-string',
    make: (g) =>
      `${TS}AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=acmeci;AccountKey=${g('A64', 86)}==;EndpointSuffix=core.windows.net`,
  },
  'k8s-secret-data': {
    source: 'https://kubernetes.io/docs/concepts/configuration/secret/#working-with-secrets',
    make: (g) => `${TS}  password: ${b64(g.pw())}`,
  },
  'helm-set-password': {
    source: 'https://helm.sh/docs/helm/helm_install/',
    make: (g) => `${TS}+ helm upgrade --install app ./chart --set postgresql.auth.password=${g.pw()}`,
  },
  'twine-password': {
    source: 'https://twine.readthedocs.io/en/stable/#twine-upload',
    make: (g) => `${TS}+ twine upload -u __token__ -p pypi-AgEIcHlwaS5vcmc${g('AURL', 120)} dist/*`,
  },
};

// ── Negatives: one line each, printed by real tools; none holds a secret.
const NEGATIVES: Record<string, Template> = {
  'pytest-pass-line': {
    source: 'pytest -v output',
    make: () => 'PASS tests/auth/test_token_refresh.py::test_expired_secret_is_rejected',
  },
  'pytest-node-id': {
    source: 'pytest -v output',
    make: () => 'tests/unit/test_password_reset.py::test_reset_token_expired PASSED       [ 42%]',
  },
  'go-test-ok': {
    source: 'go test output',
    make: () => 'ok  \tgithub.com/acme/app/internal/auth/token\t0.012s',
  },
  'jest-pass': {
    source: 'jest output',
    make: () => ' PASS  src/auth/__tests__/tokenStore.test.ts (5.123 s)',
  },
  'csrf-token-form': {
    source: 'Rails / Django HTML in a test failure dump',
    make: (g) => `csrf-token=${g('A64', 86)}==`,
  },
  'csrf-meta': {
    source: 'Rails layout in a Capybara failure dump',
    make: (g) => `<meta name="csrf-token" content="${g('A64', 86)}==" />`,
  },
  'csrf-header': {
    source: 'HTTP client debug trace',
    make: (g) => `> X-CSRF-Token: ${g('AURL', 43)}`,
  },
  'k8s-secret-name': {
    source: 'kubectl get deploy -o yaml',
    make: () => '        secretName: registry-credentials',
  },
  'k8s-secret-key-ref': {
    source: 'kubectl get deploy -o yaml',
    make: () => '              key: db-password',
  },
  'maven-coordinates': {
    source: 'mvn dependency:tree',
    make: () => '[INFO] +- com.google.auth:google-auth-library-oauth2-http:jar:1.19.0:compile',
  },
  'maven-coordinates-jwt': {
    source: 'mvn dependency:tree',
    make: () => '[INFO] |  +- io.jsonwebtoken:jjwt-jackson:jar:0.11.5:runtime',
  },
  'properties-url': {
    source: 'Spring Boot config dump',
    make: () => 'dev.credentials.url=dev-lb1.api.internal:5215',
  },
  'shell-required-expansion': {
    source: 'docker compose config',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal shell expansion, not a template
    make: () => '      DB_PASSWORD: ${DB_PASSWORD:?DB_PASSWORD must be set}',
  },
  'placeholder-angle': {
    source: 'README printed by a setup step',
    make: () => '  curl -u <user:password> https://nexus.acme.io/service/rest/v1/status',
  },
  'placeholder-square': {
    source: 'README printed by a setup step',
    make: () => '  mysql -h db.internal -u root --password [PASSWORD] app',
  },
  'truncated-ellipsis': {
    source: 'CLI that prints a token prefix',
    make: (g) => `Using API token ${g('A62', 6)}… (expires in 29 days)`,
  },
  'truncated-redacted': {
    source: 'Pulumi / 1Password CLI output',
    make: (g) => `  serviceAccountToken: ops_${g('A62', 10)}..[Redacted]`,
  },
  'sequential-sample-hex': {
    source: 'documentation sample printed by a setup step',
    make: () => 'API_KEY=1234567890abcdef1234567890abcdef',
  },
  'sequential-sample-alpha': {
    source: 'documentation sample printed by a setup step',
    make: () => 'export SECRET_KEY=abcdefghijklmnopqrstuvwxyz012345',
  },
  'sequential-sample-uuid': {
    source: 'documentation sample printed by a setup step',
    make: () => 'token: 12345678-abcd-abcd-abcd-1234567890ab',
  },
  'asset-fingerprint-name': {
    source: 'webpack / Rails asset pipeline output',
    make: (g) => `  public/assets/favicon.ico-${g('HEX', 32)}.png  4.2 KiB`,
  },
  'firebase-web-config': {
    source: 'https://firebase.google.com/docs/projects/api-keys (public by design)',
    make: (g) => `  firebaseConfig = { apiKey: "AIza${g('AURL', 35)}", authDomain: "acme.firebaseapp.com" }`,
  },
  'maps-js-loader': {
    source: 'https://developers.google.com/maps/documentation/javascript/get-api-key',
    make: (g) =>
      `<script src="https://maps.googleapis.com/maps/api/js?key=AIza${g('AURL', 35)}&callback=initMap"></script>`,
  },
  'next-public-key': {
    source: 'Next.js build output (NEXT_PUBLIC_ variables are inlined into the browser bundle)',
    make: (g) => `NEXT_PUBLIC_FIREBASE_API_KEY=AIza${g('AURL', 35)}`,
  },
  'docker-password-warning': {
    source: 'docker login output',
    make: () => 'WARNING! Using --password via the CLI is insecure. Use --password-stdin.',
  },
  'actions-masked-token': { source: 'GitHub Actions step header', make: () => '  token: ***' },
  'actions-secret-ref': {
    source: 'GitHub Actions step header',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal expression, not a template
    make: () => '  GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}',
  },
  'persist-credentials': { source: 'actions/checkout inputs', make: () => '  persist-credentials: true' },
  'pip-keyring': {
    source: 'pip install output',
    make: () => 'Successfully installed jeepney-0.8.0 keyring-24.3.0 secretstorage-3.3.3',
  },
  'docker-build-secret-mount': {
    source: 'docker buildx output',
    make: () => '#12 [build 3/7] RUN --mount=type=secret,id=npm_token npm ci',
  },
  'terraform-secret-arn': {
    source: 'terraform plan output',
    make: (g) =>
      `aws_secretsmanager_secret.db_password: Refreshing state... [id=arn:aws:secretsmanager:eu-west-1:${g('DIG', 12)}:secret:prod/db/password-${g('A62', 6)}]`,
  },
  'kubectl-create-secret': {
    source: 'kubectl output',
    make: () =>
      '+ kubectl create secret generic db-credentials --from-literal=username=app --dry-run=client -o yaml',
  },
  'token-expiry': { source: 'CLI output', make: () => 'Token expires at 2026-11-22T10:15:00Z' },
  'password-policy': { source: 'config dump', make: () => 'password_min_length: 12' },
  'token-ttl': { source: 'config dump', make: () => 'token_ttl: 3600' },
  'secret-rotation': { source: 'config dump', make: () => 'secret_rotation_days=90' },
  'image-digest': {
    source: 'docker pull output',
    make: (g) => `Digest: sha256:${g('HEX', 64)}`,
  },
  'npm-integrity': {
    source: 'npm ci --loglevel verbose',
    make: (g) =>
      `npm http fetch GET 200 https://registry.npmjs.org/token-types 12ms integrity sha512-${g('A64', 86)}==`,
  },
  'commit-sha': { source: 'git log', make: (g) => `commit ${g('HEX', 40)}` },
  'request-id': {
    source: 'HTTP client debug trace',
    make: (g) => `< x-request-id: ${g.uuid()}`,
  },
  'auth-masked-bearer': { source: 'HTTP client debug trace', make: () => '> Authorization: Bearer ***' },
  'auth-masked-basic': { source: 'HTTP client debug trace', make: () => '> Authorization: Basic [MASKED]' },
  'auth-method': { source: 'vault CLI output', make: () => 'auth_method: token' },
  'gpg-plugin': {
    source: 'maven output',
    make: () => '[INFO] --- maven-gpg-plugin:3.1.0:sign (sign-artifacts) @ app ---',
  },
  'java-stack-frame': {
    source: 'JVM stack trace',
    make: () => '\tat com.acme.auth.TokenService.refresh(TokenService.java:42)',
  },
  'keyvault-name': { source: 'az CLI output', make: () => '  keyVaultToStoreSecrets: cmp2-qat-1208358310' },
  'secret-name-var': { source: 'config dump', make: () => 'LLM_SECRET_NAME = "NEXUS-GPT4-API-KEY"' },
  'credential-id': { source: 'Jenkins pipeline log', make: (g) => `  "credentialId": "${g.uuid()}",` },
  'public-token-word': {
    source: 'config dump',
    make: (g) => `publishable_key: pk_live_${g('A62', 24)}`,
  },
  'openssl-genrsa': { source: 'openssl output', make: () => "writing new private key to 'key.pem'" },
  'cert-begin': { source: 'openssl output', make: () => '-----BEGIN CERTIFICATE-----' },
  'aws-sts-call': {
    source: 'aws CLI debug',
    make: () => '+ aws sts get-session-token --duration-seconds 3600 --output json',
  },
  'sonar-login-param': {
    source: 'sonar-scanner output',
    make: () => 'INFO: Analysis report uploaded in 212ms, sonar.login=*****',
  },
  'terraform-sensitive': {
    source: 'terraform plan output',
    make: () => '      + password = (sensitive value)',
  },
  'env-reference': {
    source: 'shell trace',
    make: () => '+ export VAULT_TOKEN=$(cat /run/secrets/vault_token)',
  },
  'helm-secret-ref': {
    source: 'helm template output',
    make: () => '          secretKeyRef: { name: app-secrets, key: api-token }',
  },
  'npm-auth-type': { source: 'npm config list', make: () => 'auth-type = "web"' },
  'python-keyring-path': {
    source: 'pip debug',
    make: () => 'Looking up credentials in /home/runner/.local/share/python_keyring/keyring_pass.cfg',
  },
};

/** Real CI logs without secrets (vendor samples; provenance in their fixtures' README). */
const REAL_LOGS = [
  ['gitlab_sample_trace', 'src/ingest/build-logs/fixtures/gitlab_sample_trace.txt', false],
  ['trace-with-sections', 'src/ingest/build-logs/fixtures/trace-with-sections.json', true],
  ['checkout-masked-secrets', 'src/ingest/build-logs/fixtures/job-log__checkout-masked-secrets.json', true],
  ['github-actions-masked', 'test/fixtures/build-logs/github-actions-masked.log', false],
] as const;

export function devCorpus(seed = 12): { positives: CorpusItem[]; negatives: CorpusItem[] } {
  const g = makeGen(rng(seed));
  const positives: CorpusItem[] = [];
  for (const [id, t] of Object.entries(POSITIVES)) {
    // Three draws of each shape.
    for (let i = 0; i < 3; i++) positives.push({ id: `${id}#${i}`, source: t.source, text: t.make(g) });
  }
  const negatives: CorpusItem[] = [];
  for (const [id, t] of Object.entries(NEGATIVES)) {
    for (let i = 0; i < 3; i++) negatives.push({ id: `${id}#${i}`, source: t.source, text: t.make(g) });
  }
  for (const [name, path, json] of REAL_LOGS) {
    const raw = readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
    const text = json ? (JSON.parse(raw) as { body: string }).body : raw;
    text.split('\n').forEach((line, i) => {
      if (line.trim().length > 0) negatives.push({ id: `${name}:${i + 1}`, source: path, text: line });
    });
  }
  return { positives, negatives };
}
