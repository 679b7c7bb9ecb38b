// Fake secrets in the right formats, generated from a seed (never stored: static look-alike tokens in
// a repository trip push protection and other scanners). For every rule: a log line holding a secret the
// rule must find, and a near miss it must not. Used by the unit tests and the benchmark generator.

export type Rng = () => number;

/** mulberry32: small, fast, deterministic. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const A62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const A64 = `${A62}+/`;
export const AURL = `${A62}-_`;
export const HEX = '0123456789abcdef';
export const LOWER = 'abcdefghijklmnopqrstuvwxyz';
export const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const UPPERNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function str(r: Rng, alphabet: string, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}
const digits = (r: Rng, n: number): string => str(r, '0123456789', n);
const uuid = (r: Rng): string =>
  `${str(r, HEX, 8)}-${str(r, HEX, 4)}-4${str(r, HEX, 3)}-a${str(r, HEX, 3)}-${str(r, HEX, 12)}`;
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const b64url = (s: string): string => Buffer.from(s).toString('base64url');

export interface Sample {
  /** A log line containing the secret. */
  line: string;
  /** Exactly what the rule reports as the secret (before fingerprint normalisation). */
  secret: string;
}

export interface RuleSamples {
  positive: (r: Rng) => Sample;
  /** A near miss: same neighbourhood, wrong length, charset or context. Must yield no finding of this rule. */
  negative: (r: Rng) => string;
}

const tok = (secret: string, line: (s: string) => string): Sample => ({ secret, line: line(secret) });

export function pemBody(r: Rng, lines: number): string[] {
  return Array.from({ length: lines }, () => str(r, A64, 64));
}

export const SAMPLES: Record<string, RuleSamples> = {
  'private-key': {
    positive: (r) => {
      const body = pemBody(r, 6).join('\\n');
      return tok(
        body,
        (s) => `  "private_key": "-----BEGIN PRIVATE KEY-----\\n${s}\\n-----END PRIVATE KEY-----\\n",`,
      );
    },
    negative: () => 'grep -r "BEGIN RSA PRIVATE KEY" . || echo "no private key committed"',
  },
  'age-secret-key': {
    positive: (r) =>
      tok(`AGE-SECRET-KEY-1${str(r, 'QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L', 58)}`, (s) => `# key: ${s}`),
    negative: (r) => `age-keygen: public key: age1${str(r, 'qpzry9x8gf2tvdw0s3jn54khce6mua7l', 58)}`,
  },
  'aws-access-key-id': {
    positive: (r) => tok(`AKIA${str(r, B32, 16)}`, (s) => `export AWS_ACCESS_KEY_ID=${s}`),
    negative: (r) => `image: AKIA${str(r, B32, 12)} tag`,
  },
  'aws-secret-access-key': {
    positive: (r) => tok(str(r, A64, 40), (s) => `aws_secret_access_key = ${s}`),
    negative: (r) => `aws_secret_access_key = ${str(r, A64, 30)}`,
  },
  'aws-session-token': {
    positive: (r) => tok(`IQoJb3JpZ2luX2Vj${str(r, A64, 300)}`, (s) => `    "SessionToken": "${s}",`),
    negative: (r) => `    "SessionToken": "${str(r, A64, 40)}",`,
  },
  'gcp-api-key': {
    positive: (r) => tok(`AIza${str(r, AURL, 35)}`, (s) => `GOOGLE_MAPS_KEY=${s}`),
    negative: (r) => `AIza${str(r, AURL, 20)} truncated`,
  },
  'gcp-service-account-key-id': {
    positive: (r) => tok(str(r, HEX, 40), (s) => `  "private_key_id": "${s}",`),
    negative: (r) => `  "client_id": "${digits(r, 21)}",`,
  },
  'gcp-oauth-client-secret': {
    positive: (r) => tok(`GOCSPX-${str(r, AURL, 28)}`, (s) => `client_secret: ${s}`),
    negative: (r) => `GOCSPX-${str(r, AURL, 12)}`,
  },
  'gcp-oauth-access-token': {
    positive: (r) => tok(`ya29.${str(r, AURL, 150)}`, (s) => `curl -H "x-goog-token: ${s}"`),
    negative: (r) => `ya29.${str(r, AURL, 10)}`,
  },
  'gcp-oauth-refresh-token': {
    positive: (r) => tok(`1//0${str(r, AURL, 100)}`, (s) => `refresh=${s}`),
    negative: () => 'see https://example.org//0abc for docs',
  },
  'azure-storage-key': {
    positive: (r) =>
      tok(
        `${str(r, A64, 86)}==`,
        (s) =>
          `AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=acme${digits(r, 3)};AccountKey=${s};EndpointSuffix=core.windows.net`,
      ),
    negative: () => 'AccountKey=<set in pipeline>;EndpointSuffix=core.windows.net',
  },
  'azure-shared-access-key': {
    positive: (r) =>
      tok(
        `${str(r, A64, 43)}=`,
        (s) =>
          `Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${s}`,
      ),
    negative: () => 'SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=',
  },
  'azure-sas-token': {
    positive: (r) =>
      tok(
        `${str(r, A62, 40)}%3D`,
        (s) =>
          `Uploading to https://acme.blob.core.windows.net/artifacts/app.zip?sv=2022-11-02&ss=b&srt=co&sp=rwl&se=2025-01-01T00:00:00Z&spr=https&sig=${s}`,
      ),
    negative: () => 'https://acme.blob.core.windows.net/artifacts/app.zip?sv=2022-11-02&sig=',
  },
  'azure-ad-client-secret': {
    positive: (r) =>
      tok(`${str(r, A62, 3)}${digits(r, 1)}Q~${str(r, `${A62}_~.-`, 34)}`, (s) => `ARM_CLIENT_SECRET=${s}`),
    negative: (r) => `${str(r, A62, 3)}${digits(r, 1)}Q~${str(r, A62, 10)}`,
  },
  'azure-annotated-key': {
    positive: (r) => tok(`${str(r, A62, 52)}JQQJ99${str(r, A62, 30)}`, (s) => `AZURE_DEVOPS_PAT=${s}`),
    negative: (r) => `${str(r, A62, 20)}JQQJ99${str(r, A62, 30)}`,
  },
  'github-pat': {
    positive: (r) => tok(`ghp_${str(r, A62, 36)}`, (s) => `export GITHUB_TOKEN=${s}`),
    negative: (r) => `ghp_${str(r, A62, 30)}`,
  },
  'github-fine-grained-pat': {
    positive: (r) => tok(`github_pat_${str(r, A62, 22)}_${str(r, A62, 59)}`, (s) => `GH_PAT: ${s}`),
    negative: (r) => `github_pat_${str(r, A62, 22)}`,
  },
  'github-oauth-token': {
    positive: (r) => tok(`gho_${str(r, A62, 36)}`, (s) => `oauth_token: ${s}`),
    negative: (r) => `gho_${str(r, A62, 35)}`,
  },
  'github-user-to-server-token': {
    positive: (r) => tok(`ghu_${str(r, A62, 36)}`, (s) => `Using token ${s}`),
    negative: (r) => `ghu_${str(r, A62, 20)}`,
  },
  'github-app-token': {
    positive: (r) =>
      tok(
        `ghs_${str(r, A62, 36)}`,
        (s) => `git remote set-url origin https://x-access-token:${s}@github.com/acme/api.git`,
      ),
    negative: (r) => `ghs_${str(r, '-', 36)}`,
  },
  'github-refresh-token': {
    positive: (r) => tok(`ghr_${str(r, A62, 76)}`, (s) => `refresh_token=${s}`),
    negative: (r) => `ghr_${str(r, A62, 20)}`,
  },
  'gitlab-pat': {
    positive: (r) =>
      tok(
        `glpat-${str(r, AURL, 20)}`,
        (s) => `curl --header "PRIVATE-TOKEN: ${s}" https://gitlab.com/api/v4/projects`,
      ),
    negative: (r) => `glpat-${str(r, AURL, 10)}`,
  },
  'gitlab-pipeline-trigger-token': {
    positive: (r) =>
      tok(
        `glptt-${str(r, HEX, 40)}`,
        (s) => `curl -X POST -F token=${s} -F ref=main https://gitlab.com/api/v4/projects/1/trigger/pipeline`,
      ),
    negative: (r) => `glptt-${str(r, HEX, 30)}`,
  },
  'gitlab-deploy-token': {
    positive: (r) =>
      tok(
        `gldt-${str(r, AURL, 20)}`,
        (s) => `docker login -u gitlab+deploy-token-1 --password-stdin <<< ${s}`,
      ),
    negative: (r) => `gldt-${str(r, AURL, 8)}`,
  },
  'gitlab-runner-auth-token': {
    positive: (r) => tok(`glrt-${str(r, AURL, 20)}`, (s) => `gitlab-runner register --token ${s}`),
    negative: (r) => `glrt-${str(r, AURL, 12)}`,
  },
  'gitlab-runner-registration-token': {
    positive: (r) => tok(`GR1348941${str(r, AURL, 20)}`, (s) => `--registration-token ${s}`),
    negative: (r) => `GR1348941${str(r, AURL, 10)}`,
  },
  'gitlab-other-token': {
    positive: (r) => tok(`glcbt-64_${str(r, AURL, 20)}`, (s) => `CI_JOB_TOKEN=${s}`),
    negative: (r) => `glcbt-${str(r, AURL, 5)}`,
  },
  'slack-bot-token': {
    positive: (r) =>
      tok(`xoxb-${digits(r, 12)}-${digits(r, 13)}-${str(r, A62, 24)}`, (s) => `SLACK_BOT_TOKEN=${s}`),
    negative: (r) => `xoxb-${digits(r, 12)}-abc`,
  },
  'slack-user-token': {
    positive: (r) =>
      tok(`xoxp-${digits(r, 12)}-${digits(r, 12)}-${digits(r, 13)}-${str(r, HEX, 32)}`, (s) => `token=${s}`),
    negative: (r) => `xoxp-${digits(r, 12)}-x`,
  },
  'slack-refresh-token': {
    positive: (r) => tok(`xoxe-1-${str(r, A62, 140)}`, (s) => `"refresh_token": "${s}"`),
    negative: (r) => `xoxe-1-${str(r, A62, 10)}`,
  },
  'slack-app-token': {
    positive: (r) =>
      tok(
        `xapp-1-${str(r, UPPERNUM, 11)}-${digits(r, 13)}-${str(r, HEX, 64)}`,
        (s) => `SLACK_APP_TOKEN=${s}`,
      ),
    negative: (r) => `xapp-1-${str(r, UPPERNUM, 11)}`,
  },
  'slack-webhook-url': {
    positive: (r) =>
      tok(
        `T${str(r, UPPERNUM, 8)}/B${str(r, UPPERNUM, 10)}/${str(r, A62, 24)}`,
        (s) => `curl -X POST https://hooks.slack.com/services/${s} -d @payload.json`,
      ),
    negative: () => 'Posting to https://hooks.slack.com/services/ (url from secret)',
  },
  'discord-webhook-url': {
    positive: (r) => tok(str(r, AURL, 68), (s) => `https://discord.com/api/webhooks/${digits(r, 18)}/${s}`),
    negative: (r) => `https://discord.com/api/webhooks/${digits(r, 18)}/`,
  },
  'teams-webhook-url': {
    positive: (r) =>
      tok(
        `${str(r, HEX, 32)}/${uuid(r)}`,
        (s) => `https://acme.webhook.office.com/webhookb2/${uuid(r)}@${uuid(r)}/IncomingWebhook/${s}`,
      ),
    negative: () => 'https://acme.webhook.office.com/webhookb2/',
  },
  'telegram-bot-token': {
    positive: (r) => tok(`${digits(r, 10)}:AA${str(r, AURL, 33)}`, (s) => `TELEGRAM_BOT_TOKEN=${s}`),
    negative: (r) => `elapsed ${digits(r, 10)}:AA${str(r, AURL, 10)}`,
  },
  'npm-access-token': {
    positive: (r) => tok(`npm_${str(r, A62, 36)}`, (s) => `//registry.npmjs.org/:_authToken=${s}`),
    negative: (r) => `npm_${str(r, A62, 20)} npm_config_cache=/tmp`,
  },
  'npmrc-auth-token': {
    positive: (r) => tok(str(r, HEX, 8) + str(r, A62, 28), (s) => `//npm.pkg.acme.io/:_authToken=${s}`),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal CI variable reference, not a template
    negative: () => '//registry.npmjs.org/:_authToken=${NPM_TOKEN}',
  },
  'pypi-token': {
    positive: (r) =>
      tok(`pypi-AgEIcHlwaS5vcmc${str(r, AURL, 150)}`, (s) => `twine upload -u __token__ -p ${s} dist/*`),
    negative: (r) => `pypi-AgEIcHlwaS5vcmc${str(r, AURL, 20)}`,
  },
  'rubygems-api-key': {
    positive: (r) => tok(`rubygems_${str(r, HEX, 48)}`, (s) => `GEM_HOST_API_KEY=${s}`),
    negative: (r) => `rubygems_${str(r, HEX, 20)}`,
  },
  'clojars-token': {
    positive: (r) => tok(`CLOJARS_${str(r, `${LOWER}0123456789`, 60)}`, (s) => `CLOJARS_PASSWORD=${s}`),
    negative: (r) => `CLOJARS_${str(r, LOWER, 20)}`,
  },
  'dockerhub-pat': {
    positive: (r) =>
      tok(`dckr_pat_${str(r, AURL, 27)}`, (s) => `echo ${s} | docker login -u acme --password-stdin`),
    negative: (r) => `dckr_pat_${str(r, AURL, 12)}`,
  },
  'docker-config-auth': {
    positive: (r) =>
      tok(b64(`acme:${str(r, A62, 20)}`), (s) => `{"auths":{"registry.acme.io":{"auth":"${s}"}}}`),
    negative: (r) => `{"auths":{"registry.acme.io":{"auth":"${b64(str(r, A62, 21))}"}}}`,
  },
  'jfrog-api-key': {
    positive: (r) => tok(`AKCp${str(r, A62, 69)}`, (s) => `curl -H "X-JFrog-Art-Api: ${s}"`),
    negative: (r) => `AKCp${str(r, A62, 30)}`,
  },
  'jfrog-identity-token': {
    positive: (r) => tok(`cmVmdGtuOjAxOj${str(r, A62, 50)}`, (s) => `JF_ACCESS_TOKEN=${s}`),
    negative: (r) => `cmVmdGtuOjAxOj${str(r, A62, 10)}`,
  },
  'sonarqube-token': {
    positive: (r) => tok(`squ_${str(r, HEX, 40)}`, (s) => `mvn sonar:sonar -Dsonar.token=${s}`),
    negative: (r) => `squ_${str(r, HEX, 20)}`,
  },
  'buildkite-token': {
    positive: (r) => tok(`bkua_${str(r, HEX, 40)}`, (s) => `BUILDKITE_API_TOKEN=${s}`),
    negative: (r) => `bkua_${str(r, HEX, 39)}`,
  },
  'octopus-deploy-api-key': {
    positive: (r) =>
      tok(`API-${str(r, 'ABCDEFGHJKLMNPQRSTUVWXYZ', 13)}${digits(r, 13)}`, (s) => `octo push --apiKey ${s}`),
    negative: () => 'API-DOCUMENTATION-GENERATORS is up to date',
  },
  'harness-pat': {
    positive: (r) =>
      tok(`pat.${str(r, AURL, 22)}.${str(r, HEX, 24)}.${str(r, A62, 20)}`, (s) => `HARNESS_API_KEY=${s}`),
    negative: (r) => `pat.${str(r, AURL, 22)}.${str(r, HEX, 10)}`,
  },
  'pulumi-token': {
    positive: (r) => tok(`pul-${str(r, HEX, 40)}`, (s) => `PULUMI_ACCESS_TOKEN=${s}`),
    negative: (r) => `pul-${str(r, HEX, 30)}`,
  },
  'infracost-api-key': {
    positive: (r) => tok(`ico-${str(r, A62, 32)}`, (s) => `INFRACOST_API_KEY=${s}`),
    negative: (r) => `ico-${str(r, A62, 20)}`,
  },
  'vault-token': {
    positive: (r) => tok(`hvs.CAESI${str(r, AURL, 90)}`, (s) => `VAULT_TOKEN=${s}`),
    negative: (r) => `hvs.${str(r, A62, 10)}`,
  },
  'terraform-cloud-token': {
    positive: (r) =>
      tok(`${str(r, A62, 14)}.atlasv1.${str(r, A62, 67)}`, (s) => `TF_TOKEN_app_terraform_io=${s}`),
    negative: (r) => `${str(r, A62, 14)}.atlasv1.${str(r, A62, 20)}`,
  },
  'doppler-token': {
    positive: (r) => tok(`dp.st.prd.${str(r, A62, 43)}`, (s) => `DOPPLER_TOKEN=${s}`),
    negative: (r) => `dp.st.${str(r, A62, 20)}`,
  },
  'onepassword-service-account-token': {
    positive: (r) => tok(`ops_eyJ${str(r, AURL, 400)}`, (s) => `OP_SERVICE_ACCOUNT_TOKEN=${s}`),
    negative: (r) => `ops_eyJ${str(r, AURL, 50)}`,
  },
  'databricks-token': {
    positive: (r) => tok(`dapi${str(r, HEX, 32)}`, (s) => `DATABRICKS_TOKEN=${s}`),
    negative: (r) => `dapi${str(r, HEX, 20)}`,
  },
  'digitalocean-token': {
    positive: (r) => tok(`dop_v1_${str(r, HEX, 64)}`, (s) => `doctl auth init -t ${s}`),
    negative: (r) => `dop_v1_${str(r, HEX, 40)}`,
  },
  'heroku-api-key': {
    positive: (r) => tok(uuid(r), (s) => `HEROKU_API_KEY=${s}`),
    negative: (r) => `HEROKU_APP_ID=app-${str(r, LOWER, 8)}`,
  },
  'snyk-token': {
    positive: (r) => tok(uuid(r), (s) => `SNYK_TOKEN: ${s}`),
    negative: (r) => `snyk test --org=${str(r, LOWER, 8)}`,
  },
  'cloudflare-origin-ca-key': {
    positive: (r) => tok(`v1.0-${str(r, HEX, 24)}-${str(r, HEX, 146)}`, (s) => `CF_ORIGIN_CA_KEY=${s}`),
    negative: (r) => `v1.0-${str(r, HEX, 24)}`,
  },
  'fly-io-token': {
    positive: (r) => tok(`fo1_${str(r, AURL, 43)}`, (s) => `FLY_API_TOKEN=${s}`),
    negative: (r) => `fo1_${str(r, AURL, 20)}`,
  },
  'planetscale-token': {
    positive: (r) => tok(`pscale_tkn_${str(r, AURL, 43)}`, (s) => `PLANETSCALE_SERVICE_TOKEN=${s}`),
    negative: (r) => `pscale_tkn_${str(r, AURL, 10)}`,
  },
  'supabase-token': {
    positive: (r) => tok(`sbp_${str(r, HEX, 40)}`, (s) => `SUPABASE_ACCESS_TOKEN=${s}`),
    negative: (r) => `sbp_${str(r, HEX, 20)}`,
  },
  'grafana-token': {
    positive: (r) => tok(`glsa_${str(r, A62, 32)}_${str(r, HEX, 8)}`, (s) => `GRAFANA_TOKEN=${s}`),
    negative: (r) => `glsa_${str(r, A62, 32)}`,
  },
  'new-relic-key': {
    positive: (r) => tok(`NRAK-${str(r, UPPERNUM, 27)}`, (s) => `NEW_RELIC_API_KEY=${s}`),
    negative: (r) => `NRAK-${str(r, UPPERNUM, 10)}`,
  },
  'dynatrace-token': {
    positive: (r) =>
      tok(`dt0c01.${str(r, UPPERNUM, 24)}.${str(r, UPPERNUM, 64)}`, (s) => `DT_API_TOKEN=${s}`),
    negative: (r) => `dt0c01.${str(r, UPPERNUM, 24)}`,
  },
  'sentry-token': {
    positive: (r) => tok(`sntryu_${str(r, HEX, 64)}`, (s) => `SENTRY_AUTH_TOKEN=${s}`),
    negative: (r) => `sntryu_${str(r, HEX, 30)}`,
  },
  'stripe-secret-key': {
    positive: (r) => tok(`sk_live_${str(r, A62, 99)}`, (s) => `STRIPE_SECRET_KEY=${s}`),
    negative: (r) => `pk_live_${str(r, A62, 99)}`,
  },
  'stripe-webhook-secret': {
    positive: (r) => tok(`whsec_${str(r, A62, 32)}`, (s) => `STRIPE_WEBHOOK_SECRET=${s}`),
    negative: (r) => `whsec_${str(r, A62, 10)}`,
  },
  'square-token': {
    positive: (r) => tok(`EAAA${str(r, AURL, 60)}`, (s) => `SQUARE_ACCESS_TOKEN=${s}`),
    negative: (r) => `EAAA${str(r, AURL, 20)}`,
  },
  'shopify-token': {
    positive: (r) => tok(`shpat_${str(r, HEX, 32)}`, (s) => `SHOPIFY_TOKEN=${s}`),
    negative: (r) => `shpat_${str(r, HEX, 20)}`,
  },
  'flutterwave-key': {
    positive: (r) => tok(`FLWSECK_TEST-${str(r, HEX, 32)}-X`, (s) => `FLW_SECRET_KEY=${s}`),
    negative: (r) => `FLWSECK_TEST-${str(r, HEX, 20)}-X`,
  },
  'easypost-api-key': {
    positive: (r) => tok(`EZAK${str(r, A62, 54)}`, (s) => `EASYPOST_API_KEY=${s}`),
    negative: (r) => `EZAK${str(r, A62, 20)}`,
  },
  'shippo-token': {
    positive: (r) => tok(`shippo_live_${str(r, HEX, 40)}`, (s) => `SHIPPO_TOKEN=${s}`),
    negative: (r) => `shippo_live_${str(r, HEX, 20)}`,
  },
  'duffel-token': {
    positive: (r) => tok(`duffel_live_${str(r, AURL, 43)}`, (s) => `DUFFEL_TOKEN=${s}`),
    negative: (r) => `duffel_live_${str(r, AURL, 20)}`,
  },
  'twilio-api-key': {
    positive: (r) => tok(`SK${str(r, HEX, 32)}`, (s) => `TWILIO_API_KEY=${s}`),
    negative: (r) => `TASK${str(r, HEX, 32)}`,
  },
  'sendgrid-api-key': {
    positive: (r) => tok(`SG.${str(r, AURL, 22)}.${str(r, AURL, 43)}`, (s) => `SENDGRID_API_KEY=${s}`),
    negative: (r) => `SG.${str(r, AURL, 22)}.short`,
  },
  'mailgun-api-key': {
    positive: (r) => tok(`key-${str(r, HEX, 32)}`, (s) => `MAILGUN_API_KEY=${s}`),
    negative: (r) => `cache-key-${str(r, 'ghijklmnopqrstuvwxyz', 32)}`,
  },
  'mailchimp-api-key': {
    positive: (r) => tok(`${str(r, HEX, 32)}-us${digits(r, 2)}`, (s) => `MAILCHIMP_KEY=${s}`),
    negative: (r) => `region ${str(r, HEX, 20)}-us1`,
  },
  'brevo-api-key': {
    positive: (r) => tok(`xkeysib-${str(r, HEX, 64)}-${str(r, A62, 16)}`, (s) => `BREVO_API_KEY=${s}`),
    negative: (r) => `xkeysib-${str(r, HEX, 30)}`,
  },
  'postman-api-key': {
    positive: (r) => tok(`PMAK-${str(r, HEX, 24)}-${str(r, HEX, 34)}`, (s) => `POSTMAN_API_KEY=${s}`),
    negative: (r) => `PMAK-${str(r, HEX, 24)}`,
  },
  'atlassian-api-token': {
    positive: (r) =>
      tok(`ATATT3xFfGF0${str(r, AURL, 180)}=${str(r, HEX, 8).toUpperCase()}`, (s) => `JIRA_API_TOKEN=${s}`),
    negative: (r) => `ATATT3${str(r, AURL, 40)}`,
  },
  'bitbucket-app-password': {
    positive: (r) => tok(`ATBB${str(r, A62, 32)}`, (s) => `BITBUCKET_APP_PASSWORD=${s}`),
    negative: (r) => `ATBB${str(r, A62, 20)}`,
  },
  'linear-api-key': {
    positive: (r) => tok(`lin_api_${str(r, A62, 40)}`, (s) => `LINEAR_API_KEY=${s}`),
    negative: (r) => `lin_api_${str(r, A62, 20)}`,
  },
  'notion-token': {
    positive: (r) => tok(`ntn_${digits(r, 11)}${str(r, A62, 35)}`, (s) => `NOTION_TOKEN=${s}`),
    negative: (r) => `ntn_${digits(r, 11)}`,
  },
  'airtable-pat': {
    positive: (r) => tok(`pat${str(r, A62, 14)}.${str(r, HEX, 64)}`, (s) => `AIRTABLE_TOKEN=${s}`),
    negative: (r) => `pattern${str(r, A62, 10)}.${str(r, HEX, 20)}`,
  },
  'typeform-token': {
    positive: (r) => tok(`tfp_${str(r, A62, 59)}`, (s) => `TYPEFORM_TOKEN=${s}`),
    negative: (r) => `tfp_${str(r, A62, 20)}`,
  },
  'prefect-api-key': {
    positive: (r) => tok(`pnu_${str(r, A62, 36)}`, (s) => `PREFECT_API_KEY=${s}`),
    negative: (r) => `pnu_${str(r, A62, 20)}`,
  },
  'readme-api-key': {
    positive: (r) => tok(`rdme_${str(r, `${LOWER}0123456789`, 70)}`, (s) => `README_API_KEY=${s}`),
    negative: (r) => `rdme_${str(r, LOWER, 20)}`,
  },
  'adobe-client-secret': {
    positive: (r) => tok(`p8e-${str(r, A62, 32)}`, (s) => `ADOBE_CLIENT_SECRET=${s}`),
    negative: (r) => `p8e-${str(r, A62, 20)}`,
  },
  'frameio-token': {
    positive: (r) => tok(`fio-u-${str(r, AURL, 64)}`, (s) => `FRAMEIO_TOKEN=${s}`),
    negative: (r) => `fio-u-${str(r, AURL, 20)}`,
  },
  'mapbox-secret-token': {
    positive: (r) =>
      tok(`sk.eyJ1Ijoi${str(r, AURL, 60)}.${str(r, AURL, 22)}`, (s) => `MAPBOX_DOWNLOADS_TOKEN=${s}`),
    negative: (r) => `pk.eyJ1Ijoi${str(r, AURL, 60)}.${str(r, AURL, 22)}`,
  },
  'alibaba-access-key-id': {
    positive: (r) => tok(`LTAI${str(r, A62, 20)}`, (s) => `ALIBABA_CLOUD_ACCESS_KEY_ID=${s}`),
    negative: (r) => `LTAI${str(r, A62, 10)}`,
  },
  'scalingo-token': {
    positive: (r) => tok(`tk-us-${str(r, AURL, 48)}`, (s) => `SCALINGO_API_TOKEN=${s}`),
    negative: (r) => `tk-us-${str(r, AURL, 20)}`,
  },
  'anthropic-api-key': {
    positive: (r) => tok(`sk-ant-api03-${str(r, AURL, 93)}AA`, (s) => `ANTHROPIC_API_KEY=${s}`),
    negative: (r) => `sk-ant-api03-${str(r, AURL, 20)}`,
  },
  'openai-api-key': {
    positive: (r) =>
      tok(`sk-proj-${str(r, AURL, 74)}T3BlbkFJ${str(r, AURL, 74)}`, (s) => `OPENAI_API_KEY=${s}`),
    negative: (r) => `sk-proj-${str(r, AURL, 20)}`,
  },
  'huggingface-token': {
    positive: (r) => tok(`hf_${str(r, LETTERS, 34)}`, (s) => `HF_TOKEN=${s}`),
    negative: (r) => `hf_${str(r, LETTERS, 20)}`,
  },
  'groq-api-key': {
    positive: (r) => tok(`gsk_${str(r, A62, 52)}`, (s) => `GROQ_API_KEY=${s}`),
    negative: (r) => `gsk_${str(r, A62, 20)}`,
  },
  'perplexity-api-key': {
    positive: (r) => tok(`pplx-${str(r, A62, 48)}`, (s) => `PPLX_API_KEY=${s}`),
    negative: (r) => `pplx-${str(r, A62, 20)}`,
  },
  'replicate-api-token': {
    positive: (r) => tok(`r8_${str(r, A62, 37)}`, (s) => `REPLICATE_API_TOKEN=${s}`),
    negative: (r) => `r8_${str(r, A62, 20)}`,
  },
  'xai-api-key': {
    positive: (r) => tok(`xai-${str(r, A62, 80)}`, (s) => `XAI_API_KEY=${s}`),
    negative: (r) => `xai-${str(r, A62, 20)}`,
  },
  jwt: {
    positive: (r) => {
      const h = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: str(r, A62, 8) }));
      const p = b64url(
        JSON.stringify({ sub: `user-${digits(r, 6)}`, aud: 'api', iat: 1700000000, nonce: str(r, A62, 12) }),
      );
      return tok(`${h}.${p}.${str(r, AURL, 86)}`, (s) => `id_token: ${s}`);
    },
    negative: (r) => {
      const h = b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }));
      return `${h}.${b64url('{"sub":"x"}')}.${str(r, AURL, 20)}`;
    },
  },
  'database-url-password': {
    positive: (r) =>
      tok(str(r, A62, 20), (s) => `DATABASE_URL=postgresql://app_user:${s}@db.acme.internal:5432/app`),
    negative: () => 'DATABASE_URL=postgres://postgres:postgres@localhost:5432/test',
  },
  'url-basic-auth': {
    positive: (r) =>
      tok(str(r, A62, 16), (s) => `Downloading https://deploy:${s}@nexus.acme.io/repository/maven/app.jar`),
    negative: () => 'Downloading https://nexus.acme.io:8443/repository/maven/app.jar',
  },
  'auth-header-basic': {
    positive: (r) => tok(b64(`ci-bot:${str(r, A62, 18)}`), (s) => `> Authorization: Basic ${s}`),
    negative: (r) => `> Authorization: Basic ${b64(str(r, A62, 18))}`,
  },
  'auth-header-bearer': {
    positive: (r) => tok(str(r, A62, 40), (s) => `> Authorization: Bearer ${s}`),
    negative: () => '> Authorization: Bearer [MASKED]',
  },
  'auth-header-api-key': {
    positive: (r) => tok(str(r, A62, 32), (s) => `-H 'X-API-Key: ${s}'`),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal CI variable reference, not a template
    negative: () => "-H 'X-API-Key: ${API_KEY}'",
  },
  // Round two: formats from the vendors' documentation.
  'sourcegraph-token': {
    // docs.sourcegraph.com/cli/how-tos/creating_an_access_token: sgp_<instance id>_<40 hex>
    positive: (r) => tok(`sgp_${str(r, HEX, 16)}_${str(r, HEX, 40)}`, (s) => `  SRC_ACCESS_TOKEN: ${s}`),
    negative: (r) => `sgp_${str(r, HEX, 20)} (truncated)`,
  },
  'onepassword-secret-key': {
    // 1Password security design: A3-XXXXXX-XXXXXX-XXXXX-XXXXX-XXXXX-XXXXX
    positive: (r) =>
      tok(
        `A3-${str(r, UPPERNUM, 6)}-${str(r, UPPERNUM, 6)}-${str(r, UPPERNUM, 5)}-${str(r, UPPERNUM, 5)}-${str(r, UPPERNUM, 5)}-${str(r, UPPERNUM, 5)}`,
        (s) => `+ op account add --secret-key ${s}`,
      ),
    negative: (r) => `A3-${str(r, UPPERNUM, 6)}-${str(r, UPPERNUM, 6)}`,
  },
  'openshift-token': {
    // docs.openshift.com: `oc login --token=sha256~<43 base64url>`
    positive: (r) =>
      tok(
        `sha256~${str(r, AURL, 43)}`,
        (s) => `+ oc login --token=${s} --server=https://api.ocp.acme.io:6443`,
      ),
    negative: (r) => `sha256:${str(r, HEX, 64)}`,
  },
  'facebook-access-token': {
    // developers.facebook.com/docs/facebook-login/guides/access-tokens: EAA… user / page tokens
    positive: (r) => tok(`EAA${str(r, A62, 180)}`, (s) => `FB_PAGE_TOKEN=${s}`),
    negative: (r) => `EAA${str(r, A62, 20)}`,
  },
  'bundler-credentials': {
    // bundler.io/v2.5/man/bundle-config.1.html: BUNDLE_<HOST>=user:password
    positive: (r) => tok(`deploy:${str(r, A62, 20)}`, (s) => `export BUNDLE_GEMS__CONTRIBSYS__COM=${s}`),
    negative: () => 'export BUNDLE_PATH__SYSTEM=true',
  },
  'cloudflare-api-key': {
    // developers.cloudflare.com/fundamentals/api/get-started/create-token: 40-character token
    positive: (r) => tok(str(r, AURL, 40), (s) => `CLOUDFLARE_API_TOKEN=${s}`),
    negative: (r) => `CLOUDFLARE_ZONE_ID=${str(r, HEX, 32)}`,
  },
  'sumologic-key': {
    // help.sumologic.com access keys: access id `su` + 12, access key 64 characters
    positive: (r) => tok(str(r, A62, 64), (s) => `SUMO_ACCESS_KEY=${s}`),
    negative: () => 'SUMO_COLLECTOR_NAME=build-agents',
  },
  'generic-xml-attribute-secret': {
    // learn.microsoft.com/nuget/reference/nuget-config-file#packagesourcecredentials
    positive: (r) =>
      tok(`${str(r, A62, 14)}#${digits(r, 2)}`, (s) => `      <add key="ClearTextPassword" value="${s}" />`),
    negative: () => '      <add key="Username" value="build-agent" />',
  },
  'generic-cli-password': {
    positive: (r) =>
      tok(`${str(r, A62, 14)}!${digits(r, 2)}`, (s) => `+ docker login -u deploy -p ${s} registry.acme.io`),
    negative: () => '+ docker login -u deploy -p $REGISTRY_PASSWORD registry.acme.io',
  },
  'generic-curl-user': {
    positive: (r) =>
      tok(
        `${str(r, A62, 12)}#${digits(r, 2)}`,
        (s) => `+ curl -sf -u admin:${s} https://jenkins.acme.io/api/json`,
      ),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal CI variable reference, not a template
    negative: () => '+ curl -sf -u "admin:${JENKINS_PASSWORD}" https://jenkins.acme.io/api/json',
  },
  'generic-secret-assignment': {
    positive: (r) => tok(`${str(r, A62, 14)}${digits(r, 2)}`, (s) => `DB_PASSWORD=${s}`),
    negative: (r) => `DB_PASSWORD_SHA=${str(r, HEX, 40)}`,
  },
};
