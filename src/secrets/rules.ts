// The secret rules. Two tiers: `high` for self-identifying tokens (a fixed vendor prefix or an
// unmistakable structure) and `generic` for `password = …` style assignments, which are weaker evidence.
//
// Regex discipline (checked by test/unit/secrets-regex-safety.test.ts): every regex is global, has no
// nested unbounded quantifiers, bounds every repetition, and puts the secret in a named group `secret`
// (the whole match when absent). Rules are ordered most specific first: when two matches overlap the
// earlier rule wins, and any `high` match beats any `generic` one.
import type { Severity } from '../alerting/types.ts';

export type Tier = 'high' | 'generic';

export interface SecretRule {
  readonly id: string;
  readonly title: string;
  readonly severity: Severity;
  readonly tier: Tier;
  /** Lowercase ASCII; the rule's regex runs only on lines where one occurs. Empty: always runs. */
  readonly keywords: readonly string[];
  readonly regex: RegExp;
  /** Minimum Shannon entropy (bits per character) of the secret. */
  readonly entropy?: number;
  /** How many leading characters of the secret the masked preview shows (the vendor prefix). */
  readonly prefix?: number;
  /** Extra check on the secret (checksum-free structure, decodability, ...). */
  readonly validate?: (secret: string) => boolean;
  /** Custom preview (private keys show their BEGIN line only). Never more than the usual prefix + 4. */
  readonly preview?: (match: string) => string;
  /** Extra check that sees the whole text around the match (names, context words, what follows). */
  readonly check?: (m: MatchContext) => boolean;
  /**
   * The value's delimiters are not known (`password=…`): redact, fingerprint and preview the value to its
   * longest plausible extent — to the closing quote, to the closing XML tag, else to the end of the
   * unquoted token — not only the part the regex accepted.
   */
  readonly extend?: boolean;
}

/** What a rule's `check` sees: the scanned text and the match's spans in it. */
export interface MatchContext {
  text: string;
  /** Start and end of the whole match. */
  start: number;
  end: number;
  /** Start and end of the secret (already extended for `extend` rules). */
  secretStart: number;
  secretEnd: number;
  secret: string;
  /** End of the part of the secret the regex itself accepted (before any extension). */
  matchedEnd: number;
  /** The `name` group's span, when the regex has one. */
  nameStart: number;
  nameEnd: number;
}

const g = (source: string, flags = ''): RegExp => new RegExp(source, `g${flags}`);
// Left and right token boundaries: the token is not glued to more token characters.
const L = String.raw`(?<![A-Za-z0-9_\-])`;
const R = String.raw`(?![A-Za-z0-9_\-])`;
const L62 = String.raw`(?<![A-Za-z0-9])`;
const R62 = String.raw`(?![A-Za-z0-9])`;
// `name = value`, `name: value`, `"name": "value"`, `name => value`, `name := value` (and Makefile's
// `::=`, `:::=`, `?=`, PHP's `.=`), with optional quotes.
const ASSIGN = String.raw`["']?\s{0,4}(?:=>|:{1,3}=|[?.+]=|[:=])\s{0,4}["'\x60]?`;
const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

function base64Text(s: string): string | undefined {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]{4,}={0,2}$/.test(b64)) return undefined;
  const text = Buffer.from(b64, 'base64').toString('utf8');
  return /^[\x20-\x7e]+$/.test(text) ? text : undefined;
}

/**
 * A JWT's header decodes to a JSON object (any header: `{"version":"3"}` and `{"kid":…}` tokens exist)
 * that does not declare `alg: none`.
 */
function isJwt(token: string): boolean {
  const header = base64Text(token.slice(0, token.indexOf('.')));
  if (header === undefined) return false;
  try {
    const h = JSON.parse(header) as { alg?: unknown } | null;
    if (h === null || typeof h !== 'object' || Array.isArray(h)) return false;
    return typeof h.alg !== 'string' || h.alg.toLowerCase() !== 'none';
  } catch {
    return false;
  }
}

/** `user:password` once base64-decoded (HTTP Basic, docker config auth). */
function isBasicPair(b64: string): boolean {
  const text = base64Text(b64);
  if (text === undefined) return false;
  const i = text.indexOf(':');
  // `user:` with an empty password is a credential too (an API key sent as the user name).
  return i > 0 && (i < text.length - 1 || (text.length >= 5 && notDevDefault(text.slice(0, i))));
}

// Throwaway credentials of CI service containers and docs (`postgres://postgres:postgres@localhost`).
const DEV_DEFAULT_PASSWORD =
  /^(?:pass(?:word)?|passwd|secret|postgres|root|admin|test|testing|guest|user|mysql|redis|rabbitmq|mongo|sa|pw|pwd)$/i;
const notDevDefault = (password: string): boolean => !DEV_DEFAULT_PASSWORD.test(password);

const PEM_PREVIEW = (m: string): string => /-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----/.exec(m)![0];

const GOOGLE_PUBLIC_KEY_CONTEXT =
  /firebase|maps\.googleapis\.com\/maps\/api\/js|browser[ _-]?key|public[ _-]?(?:api[ _-]?)?key|NEXT_PUBLIC_|REACT_APP_|VITE_|EXPO_PUBLIC_|GATSBY_|NUXT_PUBLIC_/i;

/** A Google browser key in a context that says it is public (see GOOGLE_PUBLIC_KEY_CONTEXT). */
function notPublicGoogleKey(m: MatchContext): boolean {
  return !(m.secret.startsWith('AIza') && GOOGLE_PUBLIC_KEY_CONTEXT.test(m.text));
}

// Database and broker schemes whose URLs carry credentials.
const DB_SCHEMES =
  'postgres(?:ql)?|mysql|mariadb|mongodb(?:\\+srv)?|rediss?|amqps?|mssql|sqlserver|jdbc:[a-z]{2,12}|clickhouse|cockroachdb|couchdbs?|neo4j(?:\\+s)?|bolt|nats|cassandra|influxdb|elasticsearch|memcached|ldaps?|ftps?|sftp|smtps?|imaps?';
const DB_KEYWORDS = [
  'postgres',
  'mysql',
  'mariadb',
  'mongodb',
  'redis',
  'amqp',
  'mssql',
  'sqlserver',
  'jdbc:',
  'clickhouse',
  'cockroach',
  'couchdb',
  'neo4j',
  'bolt://',
  'nats://',
  'cassandra',
  'influxdb',
  'elasticsearch://',
  'memcached',
  'ldap',
  'ftp://',
  'ftps://',
  'sftp://',
  'smtp',
  'imap',
];

type R = SecretRule;
const high = (r: Omit<R, 'tier'>): R => ({ ...r, tier: 'high' });

export const RULES: readonly SecretRule[] = [
  // ── Private keys (PEM / OpenSSH / PGP armour). Multi-line blocks are assembled by the scanner; this
  // regex catches a block written on one line (JSON `\n` escapes, `echo "$KEY"` without quotes).
  high({
    id: 'private-key',
    title: 'Private key',
    severity: 'critical',
    keywords: ['private key'],
    regex: g(
      String.raw`-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----(?<secret>[A-Za-z0-9+/=\\\s:,.]{64,4000})`,
    ),
    entropy: 4,
    preview: PEM_PREVIEW,
  }),
  high({
    id: 'age-secret-key',
    title: 'age secret key',
    severity: 'critical',
    keywords: ['age-secret-key-1'],
    regex: g(String.raw`AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}${R62}`),
    prefix: 16,
  }),
  // ── AWS
  high({
    id: 'aws-access-key-id',
    title: 'AWS access key id',
    severity: 'high',
    keywords: ['akia', 'asia', 'abia', 'acca', 'a3t'],
    regex: g(String.raw`${L62}(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}${R62}`),
    entropy: 3,
    prefix: 4,
  }),
  high({
    id: 'aws-secret-access-key',
    title: 'AWS secret access key',
    severity: 'critical',
    keywords: [
      'secretaccesskey',
      'secret_access_key',
      'secret-access-key',
      'aws_secret',
      'secret_key',
      'secretkey',
    ],
    regex: g(
      String.raw`(?:aws)?[_.\-]?secret[_.\-]?(?:access)?[_.\-]?key${ASSIGN}(?<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])`,
      'i',
    ),
    entropy: 4,
  }),
  high({
    id: 'aws-session-token',
    title: 'AWS session token',
    severity: 'high',
    keywords: ['sessiontoken', 'session_token', 'session-token'],
    regex: g(
      String.raw`(?:aws)?[_.\-]?session[_.\-]?token${ASSIGN}(?<secret>[A-Za-z0-9/+=]{100,2000})(?![A-Za-z0-9/+=])`,
      'i',
    ),
    entropy: 4.5,
  }),
  // ── Google Cloud
  high({
    id: 'gcp-api-key',
    title: 'Google API key',
    severity: 'high',
    keywords: ['aiza'],
    regex: g(String.raw`${L}AIza[0-9A-Za-z_\-]{35}${R}`),
    entropy: 3.5,
    prefix: 4,
    // Browser keys are public by design (Firebase web config, the Maps JavaScript loader, front-end
    // build variables): Google restricts them by referrer, not by secrecy.
    check: notPublicGoogleKey,
  }),
  high({
    id: 'gcp-service-account-key-id',
    title: 'GCP service-account key (private_key_id)',
    severity: 'high',
    keywords: ['private_key_id'],
    regex: g(String.raw`"private_key_id"\s{0,4}:\s{0,4}"(?<secret>[0-9a-f]{40})"`),
    entropy: 3,
  }),
  high({
    id: 'gcp-oauth-client-secret',
    title: 'Google OAuth client secret',
    severity: 'high',
    keywords: ['gocspx-'],
    regex: g(String.raw`${L}GOCSPX-[A-Za-z0-9_\-]{28}${R}`),
    entropy: 3.5,
    prefix: 7,
  }),
  high({
    id: 'gcp-oauth-access-token',
    title: 'Google OAuth access token',
    severity: 'high',
    keywords: ['ya29.'],
    regex: g(String.raw`${L}ya29\.[0-9A-Za-z_\-]{30,400}${R}`),
    entropy: 4,
    prefix: 5,
  }),
  high({
    id: 'gcp-oauth-refresh-token',
    title: 'Google OAuth refresh token',
    severity: 'high',
    keywords: ['1//0'],
    regex: g(String.raw`(?<![A-Za-z0-9/])1//0[0-9A-Za-z_\-]{40,200}${R}`),
    entropy: 4,
    prefix: 4,
  }),
  // ── Azure
  high({
    id: 'azure-storage-key',
    title: 'Azure storage account key (connection string)',
    severity: 'critical',
    keywords: ['accountkey'],
    regex: g(String.raw`AccountKey=(?<secret>[A-Za-z0-9+/]{86}==)`, 'i'),
    entropy: 4.5,
  }),
  high({
    id: 'azure-shared-access-key',
    title: 'Azure Service Bus / Event Hubs shared access key',
    severity: 'critical',
    keywords: ['sharedaccesskey='],
    regex: g(String.raw`SharedAccessKey=(?<secret>[A-Za-z0-9+/]{42,43}=)`, 'i'),
    entropy: 4.5,
  }),
  high({
    id: 'azure-sas-token',
    title: 'Azure shared access signature',
    severity: 'high',
    keywords: ['sig='],
    regex: g(
      String.raw`sv=\d{4}-\d\d-\d\d&[^\s"'<>]{0,400}?(?<![A-Za-z0-9])sig=(?<secret>[A-Za-z0-9%+/]{30,120})(?![A-Za-z0-9%+/])`,
    ),
    entropy: 3.5,
  }),
  high({
    id: 'azure-ad-client-secret',
    title: 'Azure AD (Entra ID) client secret',
    severity: 'high',
    keywords: ['q~'],
    regex: g(
      String.raw`(?<![A-Za-z0-9_~.\-])[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}(?![A-Za-z0-9_~.\-])`,
    ),
    entropy: 3.5,
  }),
  high({
    id: 'azure-annotated-key',
    title: 'Azure identifiable key (annotated format)',
    severity: 'high',
    keywords: ['jqqj9'],
    regex: g(String.raw`${L62}[A-Za-z0-9]{52}JQQJ9[9A-D][A-Za-z0-9]{14,40}${R62}`),
    entropy: 4,
  }),
  // ── GitHub
  high({
    id: 'github-pat',
    title: 'GitHub personal access token (classic)',
    severity: 'critical',
    keywords: ['ghp_'],
    regex: g(String.raw`${L62}ghp_[A-Za-z0-9]{36}${R62}`),
    entropy: 3.5,
    prefix: 4,
  }),
  high({
    id: 'github-fine-grained-pat',
    title: 'GitHub fine-grained personal access token',
    severity: 'critical',
    keywords: ['github_pat_'],
    regex: g(String.raw`${L62}github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}${R62}`),
    entropy: 3.5,
    prefix: 11,
  }),
  high({
    id: 'github-oauth-token',
    title: 'GitHub OAuth access token',
    severity: 'critical',
    keywords: ['gho_'],
    regex: g(String.raw`${L62}gho_[A-Za-z0-9]{36}${R62}`),
    entropy: 3.5,
    prefix: 4,
  }),
  high({
    id: 'github-user-to-server-token',
    title: 'GitHub App user-to-server token',
    severity: 'critical',
    keywords: ['ghu_'],
    regex: g(String.raw`${L62}ghu_[A-Za-z0-9]{36}${R62}`),
    entropy: 3.5,
    prefix: 4,
  }),
  high({
    id: 'github-app-token',
    title: 'GitHub App installation token (incl. GITHUB_TOKEN)',
    severity: 'high',
    keywords: ['ghs_'],
    regex: g(String.raw`${L62}ghs_[A-Za-z0-9]{36}${R62}`),
    entropy: 3.5,
    prefix: 4,
  }),
  high({
    id: 'github-refresh-token',
    title: 'GitHub refresh token',
    severity: 'critical',
    keywords: ['ghr_'],
    regex: g(String.raw`${L62}ghr_[A-Za-z0-9]{36,76}${R62}`),
    entropy: 3.5,
    prefix: 4,
  }),
  // ── GitLab
  high({
    id: 'gitlab-pat',
    title: 'GitLab personal / project / group access token',
    severity: 'critical',
    keywords: ['glpat-'],
    regex: g(String.raw`${L}glpat-[A-Za-z0-9_\-]{20,60}(?:\.[0-9a-z]{2}\.[0-9a-z]{9})?${R}`),
    entropy: 3.5,
    prefix: 6,
  }),
  high({
    id: 'gitlab-pipeline-trigger-token',
    title: 'GitLab pipeline trigger token',
    severity: 'high',
    keywords: ['glptt-'],
    regex: g(String.raw`${L}glptt-[0-9a-f]{40}${R}`),
    entropy: 3,
    prefix: 6,
  }),
  high({
    id: 'gitlab-deploy-token',
    title: 'GitLab deploy token',
    severity: 'high',
    keywords: ['gldt-'],
    regex: g(String.raw`${L}gldt-[A-Za-z0-9_\-]{20,60}${R}`),
    entropy: 3.5,
    prefix: 5,
  }),
  high({
    id: 'gitlab-runner-auth-token',
    title: 'GitLab runner authentication token',
    severity: 'critical',
    keywords: ['glrt-'],
    regex: g(String.raw`${L}glrt-[A-Za-z0-9_\-]{20,60}(?:\.[0-9a-z]{2}\.[0-9a-z]{9})?${R}`),
    entropy: 3.5,
    prefix: 5,
  }),
  high({
    id: 'gitlab-runner-registration-token',
    title: 'GitLab runner registration token',
    severity: 'high',
    keywords: ['gr1348941'],
    regex: g(String.raw`${L}GR1348941[A-Za-z0-9_\-]{20,40}${R}`),
    entropy: 3.5,
    prefix: 9,
  }),
  high({
    id: 'gitlab-other-token',
    title: 'GitLab token (CI job, feed, OAuth app, agent, SCIM, incoming mail)',
    severity: 'high',
    keywords: ['glcbt-', 'glft-', 'gloas-', 'glagent-', 'glimt-', 'glsoat-', 'glffct-'],
    regex: g(
      String.raw`${L}(?:glcbt-[0-9a-z_]{1,8}_|glft-|gloas-|glagent-|glimt-|glsoat-|glffct-)[A-Za-z0-9_\-]{20,80}${R}`,
    ),
    entropy: 3.5,
    prefix: 5,
  }),
  // ── Slack
  high({
    id: 'slack-bot-token',
    title: 'Slack bot token',
    severity: 'high',
    keywords: ['xoxb-'],
    regex: g(String.raw`${L}xoxb-[0-9]{8,14}-(?:[0-9]{8,14}-)?[A-Za-z0-9]{18,40}${R}`),
    entropy: 3,
    prefix: 5,
  }),
  high({
    id: 'slack-user-token',
    title: 'Slack user / workspace token',
    severity: 'high',
    keywords: ['xoxp-', 'xoxa-', 'xoxo-', 'xoxs-', 'xoxe-'],
    // Current and legacy shapes: `xoxp-<team>-<user>-<app>-<32 hex>`, `xoxs-…-<10 hex>`, `xoxe-…` (refresh
    // tokens of token rotation, api.slack.com/authentication/rotation).
    regex: g(String.raw`${L}xox[paose]-(?:[0-9]{1,14}-){2,4}[A-Za-z0-9]{10,64}${R}`),
    entropy: 3,
    prefix: 5,
  }),
  high({
    id: 'slack-refresh-token',
    title: 'Slack refresh / configuration token',
    severity: 'high',
    keywords: ['xoxr-', 'xoxe-', 'xoxe.'],
    regex: g(String.raw`${L}(?:xoxr-|xoxe-1-|xoxe\.xox[bp]-1-)[A-Za-z0-9\-]{60,260}${R}`),
    entropy: 3.5,
    prefix: 5,
  }),
  high({
    id: 'slack-app-token',
    title: 'Slack app-level token',
    severity: 'high',
    keywords: ['xapp-'],
    regex: g(String.raw`${L}xapp-\d-[A-Z0-9]{9,12}-\d{10,14}-[a-f0-9]{64}${R}`),
    entropy: 3,
    prefix: 5,
  }),
  high({
    id: 'slack-webhook-url',
    title: 'Slack incoming webhook URL',
    severity: 'high',
    keywords: ['hooks.slack.com'],
    regex: g(
      String.raw`hooks\.slack\.com/(?:services|workflows|triggers)/(?<secret>[A-Za-z0-9]{8,12}/[A-Za-z0-9]{8,12}/[A-Za-z0-9]{20,32}|[A-Za-z0-9]{8,12}/[0-9]{8,20}/[a-f0-9]{32,64}|[A-Za-z0-9]{8,12}/[A-Za-z0-9]{8,12}/[0-9]{8,20}/[A-Za-z0-9]{20,40}|[A-Za-z0-9]{40,100})${R}`,
    ),
    entropy: 3.5,
  }),
  // ── Chat / collaboration webhooks
  high({
    id: 'discord-webhook-url',
    title: 'Discord webhook URL',
    severity: 'medium',
    keywords: ['discord.com/api/webhooks', 'discordapp.com/api/webhooks'],
    regex: g(String.raw`discord(?:app)?\.com/api/webhooks/\d{17,20}/(?<secret>[A-Za-z0-9_\-]{60,72})${R}`),
    entropy: 4,
  }),
  high({
    id: 'teams-webhook-url',
    title: 'Microsoft Teams incoming webhook URL',
    severity: 'medium',
    keywords: ['webhook.office.com'],
    regex: g(
      String.raw`\.webhook\.office\.com/webhookb2/${UUID}@${UUID}/IncomingWebhook/(?<secret>[a-f0-9]{32}/${UUID})`,
    ),
    entropy: 3,
  }),
  high({
    id: 'telegram-bot-token',
    title: 'Telegram bot token',
    severity: 'medium',
    keywords: [':a'],
    // core.telegram.org/bots/api#authorizing-your-bot: `<bot id>:<35 characters>` starting with `A`.
    regex: g(String.raw`(?<![A-Za-z0-9])[0-9]{8,10}:A[A-Za-z0-9_\-]{34}${R}`),
    entropy: 3.5,
  }),
  // ── Package registries and build tooling
  high({
    id: 'npm-access-token',
    title: 'npm access token',
    severity: 'critical',
    keywords: ['npm_'],
    regex: g(String.raw`${L62}npm_[A-Za-z0-9]{36}${R62}`),
    entropy: 3.5,
    prefix: 4,
  }),
  high({
    id: 'npmrc-auth-token',
    title: 'npm registry auth token (.npmrc _authToken / _auth / _password)',
    severity: 'high',
    keywords: ['_authtoken', '_auth=', '_password='],
    regex: g(
      String.raw`:_(?:authToken|auth|password)\s{0,2}=\s{0,2}["']?(?<secret>[A-Za-z0-9._~+/=\-]{16,400})`,
    ),
    entropy: 3.5,
  }),
  high({
    id: 'pypi-token',
    title: 'PyPI upload token',
    severity: 'critical',
    keywords: ['pypi-ageichlwas5vcmc', 'pypi-agendgvzdc5wexbplm9yzw'],
    regex: g(String.raw`${L}pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_\-]{50,400}${R}`),
    entropy: 4,
    prefix: 5,
  }),
  high({
    id: 'rubygems-api-key',
    title: 'RubyGems API key',
    severity: 'high',
    keywords: ['rubygems_'],
    regex: g(String.raw`${L62}rubygems_[a-f0-9]{48}${R62}`),
    entropy: 3,
    prefix: 9,
  }),
  high({
    id: 'clojars-token',
    title: 'Clojars deploy token',
    severity: 'high',
    keywords: ['clojars_'],
    regex: g(String.raw`${L62}CLOJARS_[a-z0-9]{60}${R62}`),
    entropy: 3,
    prefix: 8,
  }),
  high({
    id: 'dockerhub-pat',
    title: 'Docker Hub access token',
    severity: 'critical',
    keywords: ['dckr_pat_', 'dckr_oat_'],
    regex: g(String.raw`${L}dckr_(?:pat|oat)_[A-Za-z0-9_\-]{27,32}${R}`),
    entropy: 3.5,
    prefix: 9,
  }),
  high({
    id: 'docker-config-auth',
    title: 'Docker registry credentials (config.json "auth")',
    severity: 'high',
    keywords: ['"auth"'],
    regex: g(String.raw`"auth"\s{0,4}:\s{0,4}"(?<secret>[A-Za-z0-9+/]{8,400}={0,2})"`),
    entropy: 3,
    validate: isBasicPair,
  }),
  high({
    id: 'jfrog-api-key',
    title: 'JFrog Artifactory API key',
    severity: 'high',
    keywords: ['akcp'],
    regex: g(String.raw`${L62}AKCp[A-Za-z0-9]{69}${R62}`),
    entropy: 4,
    prefix: 4,
  }),
  high({
    id: 'jfrog-identity-token',
    title: 'JFrog identity / reference token',
    severity: 'high',
    keywords: ['cmvmdgtuojaxoj'],
    regex: g(String.raw`${L62}cmVmdGtuOjAxOj[A-Za-z0-9]{40,120}${R62}`),
    entropy: 4,
    prefix: 5,
  }),
  high({
    id: 'sonarqube-token',
    title: 'SonarQube / SonarCloud token',
    severity: 'medium',
    keywords: ['squ_', 'sqp_', 'sqa_'],
    regex: g(String.raw`${L62}sq[upa]_[a-f0-9]{40}${R62}`),
    entropy: 3,
    prefix: 4,
  }),
  high({
    id: 'buildkite-token',
    title: 'Buildkite API access token',
    severity: 'high',
    keywords: ['bkua_'],
    regex: g(String.raw`${L62}bkua_[a-f0-9]{40}${R62}`),
    entropy: 3,
    prefix: 5,
  }),
  high({
    id: 'octopus-deploy-api-key',
    title: 'Octopus Deploy API key',
    severity: 'high',
    keywords: ['api-'],
    regex: g(String.raw`${L}API-[A-Z0-9]{26}${R}`),
    entropy: 3.5,
    prefix: 4,
    validate: (s) => /\d/.test(s.slice(4)) && /[A-Z]/.test(s.slice(4)),
  }),
  high({
    id: 'harness-pat',
    title: 'Harness access token',
    severity: 'high',
    keywords: ['pat.', 'sat.'],
    regex: g(String.raw`${L}(?:pat|sat)\.[A-Za-z0-9_\-]{22}\.[a-f0-9]{24}\.[A-Za-z0-9]{20}${R62}`),
    entropy: 3.5,
    prefix: 4,
  }),
  high({
    id: 'pulumi-token',
    title: 'Pulumi access token',
    severity: 'high',
    keywords: ['pul-'],
    regex: g(String.raw`${L}pul-[a-f0-9]{40}${R62}`),
    entropy: 3,
    prefix: 4,
  }),
  high({
    id: 'infracost-api-key',
    title: 'Infracost API key',
    severity: 'medium',
    keywords: ['ico-'],
    regex: g(String.raw`(?<![A-Za-z0-9_.\-/])ico-[A-Za-z0-9]{32}(?![A-Za-z0-9_\-]|\.[A-Za-z]{2,5}\b)`),
    entropy: 3.5,
    prefix: 4,
  }),
  // ── Secrets managers and infrastructure
  high({
    id: 'vault-token',
    title: 'HashiCorp Vault token',
    severity: 'critical',
    keywords: ['hvs.', 'hvb.', 'hvr.'],
    regex: g(String.raw`${L}hv[sbr]\.[A-Za-z0-9_\-]{24,300}${R}`),
    entropy: 4,
    prefix: 4,
  }),
  high({
    id: 'terraform-cloud-token',
    title: 'Terraform Cloud / Enterprise API token',
    severity: 'critical',
    keywords: ['atlasv1'],
    regex: g(String.raw`${L62}[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=\-]{60,80}${R}`),
    entropy: 4,
  }),
  high({
    id: 'doppler-token',
    title: 'Doppler token',
    severity: 'critical',
    keywords: ['dp.pt.', 'dp.st.', 'dp.sa.', 'dp.ct.', 'dp.scim.', 'dp.audit.'],
    regex: g(
      String.raw`${L}dp\.(?:pt|st|sa|ct|scim|audit)\.(?:[a-z0-9_\-]{1,32}\.)?[A-Za-z0-9]{40,44}${R62}`,
    ),
    entropy: 3.5,
    prefix: 6,
  }),
  high({
    id: 'onepassword-service-account-token',
    title: '1Password service account token',
    severity: 'critical',
    keywords: ['ops_eyj'],
    regex: g(String.raw`${L62}ops_eyJ[A-Za-z0-9+/=_\-]{200,1200}`),
    entropy: 4,
    prefix: 4,
  }),
  high({
    id: 'databricks-token',
    title: 'Databricks access token',
    severity: 'high',
    keywords: ['dapi'],
    regex: g(String.raw`${L62}dapi[a-f0-9]{32}(?:-\d)?${R62}`),
    entropy: 3,
    prefix: 4,
  }),
  high({
    id: 'digitalocean-token',
    title: 'DigitalOcean token',
    severity: 'critical',
    keywords: ['dop_v1_', 'doo_v1_', 'dor_v1_'],
    regex: g(String.raw`${L62}do[opr]_v1_[a-f0-9]{64}${R62}`),
    entropy: 3,
    prefix: 7,
  }),
  high({
    id: 'heroku-api-key',
    title: 'Heroku API key',
    severity: 'high',
    keywords: ['heroku', 'hrku-'],
    regex: g(
      String.raw`(?:heroku[A-Za-z0-9_.\-]{0,30}${ASSIGN}(?<secret>${UUID})${R62}|${L}(?<secret2>HRKU-[A-Za-z0-9_\-]{58,66})${R})`,
      'i',
    ),
    entropy: 3,
  }),
  high({
    id: 'snyk-token',
    title: 'Snyk API token',
    severity: 'medium',
    keywords: ['snyk'],
    regex: g(String.raw`snyk[A-Za-z0-9_.\-]{0,30}${ASSIGN}(?<secret>${UUID})${R62}`, 'i'),
    entropy: 3,
  }),
  high({
    id: 'cloudflare-origin-ca-key',
    title: 'Cloudflare Origin CA key',
    severity: 'high',
    keywords: ['v1.0-'],
    regex: g(String.raw`${L62}v1\.0-[a-f0-9]{24}-[a-f0-9]{146}${R62}`),
    entropy: 3,
    prefix: 5,
  }),
  high({
    id: 'fly-io-token',
    title: 'Fly.io access token',
    severity: 'high',
    keywords: ['fo1_', 'fm1r_', 'fm2_', 'fm1a_'],
    regex: g(String.raw`${L62}(?:fo1_[A-Za-z0-9_\-]{43}|fm(?:1[ar]|2)_[A-Za-z0-9+/=]{100,800})${R62}`),
    entropy: 4,
    prefix: 4,
  }),
  high({
    id: 'planetscale-token',
    title: 'PlanetScale token or password',
    severity: 'high',
    keywords: ['pscale_'],
    regex: g(String.raw`${L62}pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.=\-]{32,64}${R}`),
    entropy: 3.5,
    prefix: 7,
  }),
  high({
    id: 'supabase-token',
    title: 'Supabase access token',
    severity: 'high',
    keywords: ['sbp_'],
    regex: g(String.raw`${L62}sbp_[a-f0-9]{40}${R62}`),
    entropy: 3,
    prefix: 4,
  }),
  // ── Observability
  high({
    id: 'grafana-token',
    title: 'Grafana API key / cloud token / service account token',
    severity: 'high',
    keywords: ['eyjrijoi', 'glc_', 'glsa_'],
    regex: g(
      String.raw`${L62}(?:eyJrIjoi[A-Za-z0-9]{70,400}={0,2}|glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})${R62}`,
    ),
    entropy: 3.5,
    prefix: 4,
  }),
  high({
    id: 'new-relic-key',
    title: 'New Relic API / ingest key',
    severity: 'high',
    keywords: ['nrak-', 'nrii-'],
    regex: g(String.raw`${L62}(?:NRAK-[A-Z0-9]{27}|NRII-[A-Za-z0-9_\-]{32})${R}`),
    entropy: 3.5,
    prefix: 5,
  }),
  high({
    id: 'dynatrace-token',
    title: 'Dynatrace API token',
    severity: 'high',
    keywords: ['dt0c01.'],
    regex: g(String.raw`${L62}dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}${R62}`),
    entropy: 3.5,
    prefix: 7,
  }),
  high({
    id: 'sentry-token',
    title: 'Sentry auth token',
    severity: 'high',
    keywords: ['sntrys_', 'sntryu_'],
    regex: g(String.raw`${L62}(?:sntrys_eyJ[A-Za-z0-9+/=_\-]{80,600}|sntryu_[a-f0-9]{64})${R62}`),
    entropy: 3.5,
    prefix: 7,
  }),
  // ── Payments and commerce
  high({
    id: 'stripe-secret-key',
    title: 'Stripe secret / restricted key',
    severity: 'critical',
    keywords: ['sk_live_', 'rk_live_', 'sk_test_', 'rk_test_', 'sk_prod_', 'rk_prod_'],
    regex: g(String.raw`${L62}[sr]k_(?:live|test|prod)_[A-Za-z0-9]{24,99}${R62}`),
    entropy: 3.5,
    prefix: 8,
  }),
  high({
    id: 'stripe-webhook-secret',
    title: 'Stripe webhook signing secret',
    severity: 'high',
    keywords: ['whsec_'],
    regex: g(String.raw`${L62}whsec_[A-Za-z0-9]{32,64}${R62}`),
    entropy: 3.5,
    prefix: 6,
  }),
  high({
    id: 'square-token',
    title: 'Square access token / OAuth secret',
    severity: 'high',
    keywords: ['sq0atp-', 'sq0csp-', 'eaaa'],
    regex: g(
      String.raw`${L}(?:sq0atp-[A-Za-z0-9_\-]{22}|sq0csp-[A-Za-z0-9_\-]{43}|EAAA[A-Za-z0-9_\-]{60})${R}`,
    ),
    entropy: 3.5,
    prefix: 4,
  }),
  high({
    id: 'shopify-token',
    title: 'Shopify access token / shared secret',
    severity: 'high',
    keywords: ['shpat_', 'shpca_', 'shppa_', 'shpss_'],
    regex: g(String.raw`${L62}shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}${R62}`),
    entropy: 3,
    prefix: 6,
  }),
  high({
    id: 'flutterwave-key',
    title: 'Flutterwave secret key',
    severity: 'high',
    keywords: ['flwseck'],
    regex: g(String.raw`FLWSECK(?:_TEST)?-[a-hA-H0-9]{32}-X`),
    entropy: 3,
    prefix: 8,
  }),
  high({
    id: 'easypost-api-key',
    title: 'EasyPost API key',
    severity: 'medium',
    keywords: ['ezak', 'eztk'],
    regex: g(String.raw`${L62}EZ[AT]K[A-Za-z0-9]{54}${R62}`),
    entropy: 3.5,
    prefix: 4,
  }),
  high({
    id: 'shippo-token',
    title: 'Shippo API token',
    severity: 'medium',
    keywords: ['shippo_'],
    regex: g(String.raw`${L62}shippo_(?:live|test)_[a-f0-9]{40}${R62}`),
    entropy: 3,
    prefix: 12,
  }),
  high({
    id: 'duffel-token',
    title: 'Duffel API token',
    severity: 'medium',
    keywords: ['duffel_'],
    regex: g(String.raw`${L62}duffel_(?:test|live)_[A-Za-z0-9_=\-]{43}${R}`),
    entropy: 3.5,
    prefix: 12,
  }),
  // ── Messaging and email
  high({
    id: 'twilio-api-key',
    title: 'Twilio API key',
    severity: 'high',
    keywords: ['sk'],
    regex: g(String.raw`${L62}SK[0-9a-fA-F]{32}${R62}`),
    entropy: 3,
    prefix: 2,
  }),
  high({
    id: 'sendgrid-api-key',
    title: 'SendGrid API key',
    severity: 'high',
    keywords: ['sg.'],
    regex: g(String.raw`${L62}SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}${R}`),
    entropy: 3.5,
    prefix: 3,
  }),
  high({
    id: 'mailgun-api-key',
    title: 'Mailgun API key',
    severity: 'high',
    keywords: ['key-'],
    regex: g(String.raw`${L}key-[0-9a-f]{32}${R62}`),
    entropy: 3,
    prefix: 4,
  }),
  high({
    id: 'mailchimp-api-key',
    title: 'Mailchimp API key',
    severity: 'medium',
    keywords: ['-us'],
    regex: g(String.raw`${L62}[0-9a-f]{32}-us[0-9]{1,2}${R62}`),
    entropy: 3,
  }),
  high({
    id: 'brevo-api-key',
    title: 'Brevo (Sendinblue) API key',
    severity: 'medium',
    keywords: ['xkeysib-', 'xsmtpsib-'],
    regex: g(String.raw`${L62}x(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}${R62}`),
    entropy: 3,
    prefix: 8,
  }),
  high({
    id: 'postman-api-key',
    title: 'Postman API key',
    severity: 'medium',
    keywords: ['pmak-'],
    regex: g(String.raw`${L62}PMAK-[a-f0-9]{24}-[a-f0-9]{34}${R62}`),
    entropy: 3,
    prefix: 5,
  }),
  // ── Atlassian and developer SaaS
  high({
    id: 'atlassian-api-token',
    title: 'Atlassian API token',
    severity: 'high',
    keywords: ['atatt3'],
    regex: g(String.raw`${L62}ATATT3[A-Za-z0-9_=\-]{150,300}${R}`),
    entropy: 4,
    prefix: 6,
  }),
  high({
    id: 'bitbucket-app-password',
    title: 'Bitbucket app password',
    severity: 'high',
    keywords: ['atbb'],
    regex: g(String.raw`${L62}ATBB[A-Za-z0-9]{32}${R62}`),
    entropy: 3.5,
    prefix: 4,
  }),
  high({
    id: 'linear-api-key',
    title: 'Linear API key',
    severity: 'medium',
    keywords: ['lin_api_'],
    regex: g(String.raw`${L62}lin_api_[A-Za-z0-9]{40}${R62}`),
    entropy: 3.5,
    prefix: 8,
  }),
  high({
    id: 'notion-token',
    title: 'Notion integration token',
    severity: 'medium',
    keywords: ['ntn_', 'secret_'],
    regex: g(String.raw`${L62}(?:ntn_[0-9]{11}[A-Za-z0-9]{35}|secret_[A-Za-z0-9]{43})${R62}`),
    entropy: 3.5,
    prefix: 4,
  }),
  high({
    id: 'airtable-pat',
    title: 'Airtable personal access token',
    severity: 'medium',
    keywords: ['pat'],
    regex: g(String.raw`${L62}pat[A-Za-z0-9]{14}\.[a-f0-9]{64}${R62}`),
    entropy: 3.5,
    prefix: 3,
  }),
  high({
    id: 'typeform-token',
    title: 'Typeform personal access token',
    severity: 'medium',
    keywords: ['tfp_'],
    regex: g(String.raw`${L62}tfp_[A-Za-z0-9_.=\-]{59}${R}`),
    entropy: 3.5,
    prefix: 4,
  }),
  high({
    id: 'prefect-api-key',
    title: 'Prefect API key',
    severity: 'medium',
    keywords: ['pnu_'],
    regex: g(String.raw`${L62}pnu_[A-Za-z0-9]{36}${R62}`),
    entropy: 3.5,
    prefix: 4,
  }),
  high({
    id: 'readme-api-key',
    title: 'ReadMe API key',
    severity: 'medium',
    keywords: ['rdme_'],
    regex: g(String.raw`${L62}rdme_[a-z0-9]{70}${R62}`),
    entropy: 3,
    prefix: 5,
  }),
  high({
    id: 'adobe-client-secret',
    title: 'Adobe client secret',
    severity: 'medium',
    keywords: ['p8e-'],
    regex: g(String.raw`${L62}p8e-[A-Za-z0-9]{32}${R62}`),
    entropy: 3.5,
    prefix: 4,
  }),
  high({
    id: 'frameio-token',
    title: 'Frame.io API token',
    severity: 'medium',
    keywords: ['fio-u-'],
    regex: g(String.raw`${L62}fio-u-[A-Za-z0-9_=\-]{64}${R}`),
    entropy: 3.5,
    prefix: 6,
  }),
  high({
    id: 'mapbox-secret-token',
    title: 'Mapbox secret token',
    severity: 'medium',
    keywords: ['sk.eyj'],
    regex: g(String.raw`${L62}sk\.eyJ[A-Za-z0-9_\-]{20,300}\.[A-Za-z0-9_\-]{20,40}${R}`),
    entropy: 3.5,
    prefix: 3,
  }),
  high({
    id: 'alibaba-access-key-id',
    title: 'Alibaba Cloud AccessKey id',
    severity: 'high',
    keywords: ['ltai'],
    regex: g(String.raw`${L62}LTAI[A-Za-z0-9]{20}${R62}`),
    entropy: 3.5,
    prefix: 4,
  }),
  high({
    id: 'scalingo-token',
    title: 'Scalingo API token',
    severity: 'medium',
    keywords: ['tk-us-'],
    regex: g(String.raw`${L62}tk-us-[A-Za-z0-9_\-]{48}${R}`),
    entropy: 3.5,
    prefix: 6,
  }),
  // ── AI providers
  high({
    id: 'anthropic-api-key',
    title: 'Anthropic API key',
    severity: 'critical',
    keywords: ['sk-ant-'],
    regex: g(String.raw`${L62}sk-ant-(?:api|admin|sid)\d{2}-[A-Za-z0-9_\-]{80,120}${R}`),
    entropy: 4,
    prefix: 7,
  }),
  high({
    id: 'openai-api-key',
    title: 'OpenAI API key',
    severity: 'critical',
    keywords: ['sk-proj-', 'sk-svcacct-', 'sk-admin-', 't3blbkfj'],
    regex: g(
      String.raw`${L62}sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,250}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})${R}`,
    ),
    entropy: 4,
    prefix: 3,
  }),
  high({
    id: 'huggingface-token',
    title: 'Hugging Face access token',
    severity: 'high',
    keywords: ['hf_', 'api_org_'],
    regex: g(String.raw`${L62}(?:hf_|api_org_)[A-Za-z]{34}${R62}`),
    entropy: 3.5,
    prefix: 3,
  }),
  high({
    id: 'groq-api-key',
    title: 'Groq API key',
    severity: 'high',
    keywords: ['gsk_'],
    regex: g(String.raw`${L62}gsk_[A-Za-z0-9]{52}${R62}`),
    entropy: 3.5,
    prefix: 4,
  }),
  high({
    id: 'perplexity-api-key',
    title: 'Perplexity API key',
    severity: 'medium',
    keywords: ['pplx-'],
    regex: g(String.raw`${L62}pplx-[A-Za-z0-9]{48}${R62}`),
    entropy: 3.5,
    prefix: 5,
  }),
  high({
    id: 'replicate-api-token',
    title: 'Replicate API token',
    severity: 'medium',
    keywords: ['r8_'],
    regex: g(String.raw`${L62}r8_[A-Za-z0-9]{37}${R62}`),
    entropy: 3.5,
    prefix: 3,
  }),
  high({
    id: 'xai-api-key',
    title: 'xAI API key',
    severity: 'high',
    keywords: ['xai-'],
    regex: g(String.raw`${L62}xai-[A-Za-z0-9]{80}${R62}`),
    entropy: 3.5,
    prefix: 4,
  }),
  // ── Formats documented by their vendors, added in round two
  high({
    id: 'sourcegraph-token',
    title: 'Sourcegraph access token',
    severity: 'high',
    keywords: ['sgp_'],
    // sgp_<40 hex> (legacy), sgp_<16 hex instance id>_<40 hex>, sgp_local_<40 hex>.
    regex: g(String.raw`${L62}sgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}${R62}`),
    entropy: 3,
    prefix: 4,
  }),
  high({
    id: 'onepassword-secret-key',
    title: '1Password account secret key',
    severity: 'critical',
    keywords: ['a3-'],
    // A3-XXXXXX-XXXXXX-XXXXX-XXXXX-XXXXX-XXXXX (1Password security design white paper).
    regex: g(
      String.raw`${L62}A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}${R62}`,
    ),
    entropy: 3,
    prefix: 3,
  }),
  high({
    id: 'openshift-token',
    title: 'OpenShift OAuth access token',
    severity: 'high',
    keywords: ['sha256~'],
    regex: g(String.raw`${L62}sha256~[A-Za-z0-9_\-]{43}${R}`),
    entropy: 3.5,
    prefix: 7,
  }),
  high({
    id: 'facebook-access-token',
    title: 'Facebook / Meta access token or app token',
    severity: 'high',
    keywords: ['eaa', '|', '%7c'],
    // User / page tokens start `EAA`; an app token is `<app id>|<app secret or token>`.
    regex: g(
      String.raw`${L62}(?:EAA[A-Za-z0-9]{90,400}${R62}|(?<![0-9])[0-9]{15,16}(?:\||%7C)[A-Za-z0-9_\-]{27,40}${R})`,
    ),
    entropy: 3.5,
    prefix: 3,
  }),
  high({
    id: 'bundler-credentials',
    title: 'Bundler gem source credentials (BUNDLE_<HOST>=user:password)',
    severity: 'high',
    keywords: ['bundle_'],
    regex: g(
      String.raw`BUNDLE_[A-Z0-9_]{1,80}__[A-Z0-9_]{1,80}["']?\s{0,4}[=:]\s{0,4}["']?(?<secret>[^\s"':]{1,100}:[^\s"']{3,200})`,
    ),
    validate: (s) => notDevDefault(s.slice(s.indexOf(':') + 1)),
    extend: true,
  }),
  high({
    id: 'cloudflare-api-key',
    title: 'Cloudflare API token / global API key',
    severity: 'high',
    keywords: ['cloudflare', 'cf_api'],
    regex: g(
      String.raw`(?:cloudflare|cf_api)[A-Za-z0-9_.\-]{0,30}${ASSIGN}(?<secret>[A-Za-z0-9_\-]{40}|[a-f0-9]{37})(?![A-Za-z0-9_\-])`,
      'i',
    ),
    entropy: 3.5,
  }),
  high({
    id: 'sumologic-key',
    title: 'Sumo Logic access id / access key',
    severity: 'high',
    keywords: ['sumo'],
    regex: g(
      String.raw`sumo(?:[_.\-]?logic[A-Za-z0-9_.\-]{0,30}|[_.\-][A-Za-z0-9_.\-]{0,30})${ASSIGN}(?<secret>su[A-Za-z0-9]{12}|[A-Za-z0-9]{64})(?![A-Za-z0-9])`,
      'i',
    ),
    entropy: 3,
  }),
  // ── Structural: JWTs, URLs with credentials, HTTP auth headers
  high({
    id: 'jwt',
    title: 'JSON Web Token',
    severity: 'medium',
    keywords: ['eyj'],
    regex: g(
      String.raw`${L}eyJ[A-Za-z0-9_\-]{10,2000}\.eyJ[A-Za-z0-9_\-]{10,4000}\.[A-Za-z0-9_\-]{16,1000}${R}`,
    ),
    entropy: 4,
    prefix: 3,
    validate: isJwt,
  }),
  high({
    id: 'database-url-password',
    title: 'Database / broker URL with password',
    severity: 'high',
    keywords: DB_KEYWORDS,
    regex: g(
      String.raw`(?<![A-Za-z0-9+.])(?:${DB_SCHEMES})://[^\s:/@'"\x60<>]{0,128}:(?<secret>[^\s/@'"\x60<>]{3,256})@[^\s/@'"\x60<>]`,
      'i',
    ),
    validate: notDevDefault,
  }),
  high({
    id: 'url-basic-auth',
    title: 'Credentials in URL (user:password@host)',
    severity: 'high',
    keywords: ['://'],
    regex: g(
      String.raw`(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:/@'"\x60<>]{1,128}:(?<secret>[^\s/@'"\x60<>]{3,256})@[^\s/@'"\x60<>]`,
    ),
    validate: notDevDefault,
  }),
  high({
    id: 'auth-header-basic',
    title: 'HTTP Basic Authorization header',
    severity: 'high',
    keywords: ['basic '],
    regex: g(
      String.raw`Authorization["']?\s{0,4}[:=]\s{0,4}["']?Basic\s{1,4}(?<secret>[A-Za-z0-9+/]{8,1000}={0,2})`,
      'i',
    ),
    validate: isBasicPair,
  }),
  high({
    id: 'auth-header-bearer',
    title: 'HTTP Bearer / token Authorization header',
    severity: 'high',
    keywords: ['bearer', 'authorization'],
    regex: g(
      String.raw`(?:Bearer|Authorization["']?\s{0,4}[:=]\s{0,4}["']?(?:token|Bearer))\s{1,4}(?<secret>[A-Za-z0-9._~+/\-]{16,4000}={0,2})`,
      'i',
    ),
    entropy: 3.5,
  }),
  high({
    id: 'auth-header-api-key',
    title: 'API-key request header (PRIVATE-TOKEN, X-API-Key, X-Vault-Token, ...)',
    severity: 'high',
    keywords: [
      'private-token',
      'api-key',
      'apikey',
      'auth-token',
      'vault-token',
      'art-api',
      'circle-token',
      '-token',
      'token:',
      'secret:',
    ],
    // Named headers anywhere; `X-<Vendor>-ApiKey` / `-Token` / `-Secret`; and a bare `Token:` / `Secret:`
    // / `Auth:` header only where curl or HTTPie sets it (`-H "Token: …"`).
    regex: g(
      String.raw`(?:PRIVATE-TOKEN|JOB-TOKEN|X-API-Key|Api-?Key|X-Auth-Token|X-Vault-Token|X-JFrog-Art-Api|Circle-Token|X-Gitlab-Token|X-(?!CSRF|XSRF|Request|Correlation|Trace|Amzn|B3|Cloud-Trace|Idempotency)[A-Za-z0-9]{1,30}-(?:Api-?Key|Token|Auth-Token|Access-Token|Secret|Auth)|(?<=(?:-H|--header)\s{1,4}["']?)(?:Token|Secret|Auth|Access-Token|Access-Key))["']?\s{0,2}:\s{0,4}["']?(?<secret>[A-Za-z0-9._~+/=\-]{16,512})`,
      'i',
    ),
    entropy: 3,
    extend: true,
    check: notPublicGoogleKey,
  }),

  // ── Generic tier: assignments whose name says "secret". Weaker evidence, lower severity.
  {
    id: 'generic-cli-password',
    title: 'Password or token passed on a command line',
    severity: 'medium',
    tier: 'generic',
    keywords: [
      '--password',
      '--passwd',
      '--token',
      '--api-key',
      '--apikey',
      '--secret',
      '--client-secret',
      '--auth-token',
      '--access-token',
      'login',
      'mysql',
    ],
    regex: g(
      String.raw`(?:--(?:password|passwd|token|api-key|apikey|secret|client-secret|auth-token|access-token)(?:=|\s{1,4})|(?:docker|podman|helm registry|oras) login\b[^\r\n]{0,200}?\s-p\s{1,4}|(?:mysql|mysqladmin|mysqldump)\b[^\r\n]{0,200}?\s-p)(?:"(?<secret>[^"\r\n]{6,200})"|'(?<secret>[^'\r\n]{6,200})'|(?<secret>[^\s"'\x60;|&]{8,200}))`,
      'i',
    ),
    entropy: 3,
    extend: true,
    check: (m) => notTruncated(m) && !isGenericFalsePositive(m.text.slice(m.secretStart, m.matchedEnd), true),
  },
  {
    id: 'generic-curl-user',
    title: 'Credentials passed to curl -u',
    severity: 'medium',
    tier: 'generic',
    keywords: ['curl'],
    // `-u user:password`, `-u "user:password"`, `--user user:'password'`, `-u :token`, and a token as the
    // user with an empty password (`-u sk_live_…:`).
    regex: g(
      String.raw`curl\b[^\r\n]{0,300}?\s(?:-u|--user)(?:\s{1,4}|=)["']?(?:[^\s:"'<>\[\]]{0,64}:["']?(?<secret>[^\s"'<>]{6,200})|(?<secret>[A-Za-z0-9_\-]{16,200}):(?=["'\s]|$))`,
    ),
    entropy: 2.5,
    extend: true,
    check: (m) => notTruncated(m) && !isGenericFalsePositive(m.text.slice(m.secretStart, m.matchedEnd), true),
  },
  {
    id: 'generic-xml-attribute-secret',
    title: 'Secret in an XML key / value attribute pair (NuGet, app.config, Maven)',
    severity: 'medium',
    tier: 'generic',
    keywords: ['value='],
    regex: g(
      String.raw`\b(?:key|name)\s{0,2}=\s{0,2}"(?<name>[A-Za-z0-9_.:\- ]{0,40}(?:password|passwd|secret|token|api[_.\-]?key|credentials?|connectionstring)[A-Za-z0-9_.:\-]{0,20})"\s{1,4}value\s{0,2}=\s{0,2}"(?<secret>[^"\r\n]{4,300})"`,
      'i',
    ),
    check: genericValueCheck,
  },
  {
    id: 'generic-secret-assignment',
    title: 'Secret-looking value assigned to a password / secret / token / key variable',
    severity: 'low',
    tier: 'generic',
    keywords: ['pass', 'pwd', 'secret', 'token', 'key', 'credential', 'creds', 'auth'],
    // The name, then one of the ways languages and formats bind a value to it: `=`, `:`, `:=`, `::=`,
    // `:::=`, `?=`, `.=`, `+=`, `??=`, `=>`, `<-`, a typed declaration (`string x = `, Go `x string =`,
    // Kotlin `x: String =`), a quoted name followed by a comma (`System.setProperty("X_TOKEN", "…")`,
    // `getenv("API_TOKEN", "…")`), a call with a quoted argument (`setPassword("…")`), or an XML element (`<password>…</password>`). The value is quoted or a
    // bare token. The name's full extent and the value's context are checked in code (genericValueCheck).
    // The lookbehind skips GitLab Runner's artifact lines ("responseStatus=200 OK token=AdWPNg2R"): it
    // prints only the first 8 characters of the job token, on purpose.
    regex: g(
      String.raw`(?<!responseStatus=\d{3} [A-Za-z]{1,20} )(?<name>(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_.\-]?key|access[_.\-]?key|private[_.\-]?key|signing[_.\-]?key|encryption[_.\-]?key|master[_.\-]?key|credentials?|creds|auth)[A-Za-z0-9_.\-]{0,30})(?:\\?["'\x60]?\s{0,4}(?::\s{0,2}(?:String|string|str|&str|Secret|SecureString)\s{0,4})?(?:=>|:{1,3}=|[?.+:]=|\?\?=|<-|=|:(?!:))|\s{1,4}(?:string|String|str)\s{1,4}:?=|["']\s{0,4},|\(\s{0,2}(?=["'\x60])|>)\s{0,4}(?:\\?"(?<secret>[^\s"\\]{4,200})(?=["\s\\])|'(?<secret>[^\s']{4,200})(?=['\s])|\x60(?<secret>[^\s\x60]{4,200})(?=[\x60\s])|(?![?:!])(?<secret>[^\s"'\x60,;<>(){}\[\]]{6,200}))`,
      'i',
    ),
    extend: true,
    check: genericValueCheck,
  },
];

// ── Generic tier checks ──────────────────────────────────────────────────────────────────────────────

const NAME_CHAR = /[A-Za-z0-9_.-]/;
/** Names that hold something about a secret, not the secret: `secretName`, `TOKEN_URL`, `passwordFile`. */
const NAME_SUFFIX =
  /(?:name|names|ref|refs|id|ids|file|files|path|url|uri|arn|type|length|len|size|policy|version|ttl|expiry|expires|expiration|expired|expiresin|count|store|vault|field|fields|header|param|params|prefix|mode|dir|endpoint|host|hash|sha|sha1|sha256|digest|env|enabled|required|provider|manager|source|format|label|location|hint|help|description|desc|rotation|template|reset|strength|min|max|regex|pattern|placeholder|keyid|key_id|tokens|passwords|secrets|credentials|creds|keys|ring|chain|pair|pairs|service|server|usage|used|limit|timeout|validity|lifetime|lifespan|file_path|id_env|var|variable|script|command|cmd|generator|index|position|pos|button|input|label|text|title|msg|message|error|warning|status|result|results|request|response|ms|sec|secs|seconds|minutes|hours|days|millis|bytes|kb|mb|retries|attempts|port|interval|delay|level|scope|scopes|method|methods|algorithm|alg|encoding|style|strategy|class|handler|plugin)$/;
const NAME_PREFIX = /^(?:csrf|xsrf|authenticity|public|publishable|author(?!iz))/i;
// `max_tokens`, `MIN_PASSWORD_LENGTH`, `isTokenValid`, `useSecret`: settings about secrets, not secrets.
const QUALIFIER_SNAKE = /^(?:min|max|num|no|is|has|use|enable|disable|show|hide)[_.-]/i;
const QUALIFIER_CAMEL = /^(?:min|max|num|no|is|has|use|enable|disable|show|hide)[A-Z]/;
const NAME_HASHY = /commit|sha|hash|digest|checksum|integrity|fingerprint|nonce|salt/i;

/** Where the whole identifier around the `name` group starts (the regex starts at the keyword). */
function nameStartOf(m: MatchContext): number {
  let a = m.nameStart;
  while (a > 0 && a > m.nameStart - 60 && NAME_CHAR.test(m.text[a - 1]!)) a--;
  return a;
}

/** The name of a credential instead of one (`--user "username:password"`, `password: password`). */
const CREDENTIAL_WORD =
  /^(?:password|passwd|pass|secret|token|username|user|apikey|api_key|api-key|key|value|changeit|mypassword|mysecret|mytoken)$/i;

/** The value stops at `…`, `...` or `[Redacted]`: a truncated or redacted print, not the secret. */
function notTruncated(m: MatchContext): boolean {
  const after = m.text.slice(m.secretEnd, m.secretEnd + 12);
  if (/^(?:…|\.\.|\[[A-Za-z ]{0,10}\]|\*)/.test(after)) return false;
  return !/(?:…|\.\.\.?)$/.test(m.secret);
}

function genericValueCheck(m: MatchContext): boolean {
  if (!notTruncated(m)) return false;
  const a = nameStartOf(m);
  const original = m.text.slice(a, m.nameEnd).replace(/^[_.-]+|[_.-]+$/g, '');
  const lower = original.toLowerCase();
  if (QUALIFIER_SNAKE.test(original) || QUALIFIER_CAMEL.test(original)) return false;
  if (NAME_PREFIX.test(lower) || /csrf|xsrf|authenticity/.test(lower)) return false;
  // The keyword may end the name (`api_key`, `DB_PASSWORD`); anything after it must not be a descriptor
  // such as `_URL` or `Name`.
  if (!/(?:pass(?:word|wd|phrase)?|pwd|secret|token|key|credentials?|creds|auth)$/.test(lower)) {
    if (NAME_SUFFIX.test(lower)) return false;
  }
  // XML element: `<password>value</password>` needs the opening `<` before the name.
  const sep = m.text.slice(m.nameEnd, m.secretStart).trim();
  if (sep === '>' && m.text[a - 1] !== '<') return false;
  // Maven / Gradle coordinates: `com.google.auth:google-auth-library`, `io.jsonwebtoken:jjwt-api`.
  if (sep === ':' && m.text[m.nameEnd] === ':' && /^[a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)+$/.test(lower)) {
    return false;
  }
  if (!notPublicGoogleKey(m)) return false;
  // `passed`, `passing`, `passthrough`: not a password.
  if (/pass(?:ed|es|ing|thr|eng|ive|age|port|ion)/.test(lower) && !/password|passwd|passphrase/.test(lower)) {
    return false;
  }
  const v = m.text.slice(m.secretStart, m.matchedEnd);
  // Digits only: a PIN or numeric password, not a count (`auth_retries: 100000`).
  if (/^\d+$/.test(v) && !/pass(?:word|wd|code)|pwd|pin|secret|token|key/.test(lower)) return false;
  if (NAME_HASHY.test(lower) && /^[0-9a-f]{32,}$/i.test(v)) return false;
  return !isGenericFalsePositive(v, /pass|pwd/.test(lower));
}

/** CI masks and redaction markers (`***`, `[MASKED]`, `<redacted>`, `xxxxx`): already hidden. */
const MASKED =
  /\*{3,}|#{4,}|\[(?:masked|redacted|secure|secret|hidden|filtered)\]|<[a-z_\- ]{0,30}>|redacted|x{5,}|•{3,}|…|\.\.\.$/i;
/** Placeholders in brackets: `<user:password>`, `[PASSWORD]`, `{token}`, `%PASSWORD%`. */
const BRACKETED =
  /^[<[{(%][A-Za-z0-9_:.\- ]{1,40}[>\]})%]$|^[<[{][A-Za-z_ -]{2,30}[>\]}]|[<[{][A-Za-z_ -]{2,30}[>\]}]$/;
/** Documentation and test placeholders (`changeme`, `example`, `dummy`, `your_token`, ...). */
const STOPWORDS =
  /changeme|change_me|example|dummy|placeholder|sample|your[_-]?(?:token|key|secret|password|api)|notreal|not_real|fake|insert|replace[_-]?me|todo|lorem|foobar|123e4567-e89b/i;
/** The same list minus the short words that random 100-character tokens contain by chance. */
const STOPWORDS_STRICT =
  /changeme|example|dummy|placeholder|your[_-]?(?:token|key|secret|password|api)|notreal|123e4567-e89b/i;
/** References to a value rather than the value (`$VAR`, `${VAR}`, `${{ secrets.X }}`, `%VAR%`, `{{ x }}`). */
const REFERENCE = /^(?:\$|%[A-Za-z_]|\{\{|<%|#\{|@\{|&lt;)|\$\{\{|\$\(|\$\{?[A-Z_]{2,}/;

/**
 * Sample values written by hand: a run of 5 (generic) or 6 (vendor token) consecutive ascending
 * characters (`12345`, `abcdef`, `KLMNOP`) or one block repeated (`abcabcabc`). Random tokens contain such a run
 * with a probability of about one in ten million per position.
 */
export function isSequentialSample(secret: string, run = 5): boolean {
  let asc = 1;
  for (let i = 1; i < secret.length; i++) {
    const d = secret.charCodeAt(i) - secret.charCodeAt(i - 1);
    asc = d === 1 ? asc + 1 : 1;
    if (asc >= run) return true;
  }
  return /^(.{1,8})\1{2,}$/.test(secret);
}

export function isPlaceholder(secret: string, tier: Tier): boolean {
  return (
    MASKED.test(secret) ||
    REFERENCE.test(secret) ||
    BRACKETED.test(secret) ||
    (tier === 'generic' ? STOPWORDS : STOPWORDS_STRICT).test(secret) ||
    isSequentialSample(secret, tier === 'generic' ? 5 : 6)
  );
}

// Values that look random but are known not to be secrets: hashes, digests, ids, versions, paths.
const GENERIC_FP_SHAPES: readonly RegExp[] = [
  /^[0-9a-f]{7,12}$/i, // abbreviated commit SHA
  /^(?:sha(?:1|224|256|384|512)|md5)[-:=]/i, // sha512-… integrity, sha256:… digests
  /^v?\d+(?:\.\d+){1,3}(?:[-+][0-9A-Za-z.-]{1,40})?$/, // version number
  /^(?:true|false|null|none|nil|undefined|required|optional|string|boolean|number|bytes|str)$/i,
  /^[A-Z][A-Z0-9_]{2,}$/, // another variable's NAME (`token: GITHUB_TOKEN`)
  // A property path (`secrets.NPM_TOKEN`, `process.env.API_KEY`, `config.auth.token()`): every segment an
  // identifier without digits in the middle. `s.ZC9Ecf4M5g9o34Q6RkzGsj0z` (legacy Vault) is not one.
  /^[A-Za-z_][A-Za-z_]*\d{0,2}(?:\.[A-Za-z_][A-Za-z_]*\d{0,2})+(?:\(\))?$/,
  /^(?:\.{0,2}\/|~\/|[A-Za-z]:\\)/, // file path
  /^[A-Za-z0-9_\-./]+\.(?:json|ya?ml|pem|key|crt|cer|p12|pfx|txt|env|cfg|conf|ini|properties|xml|jks|gpg|asc|toml|png|jpe?g|gif|svg|ico|css|js|html?)$/i,
  /:\/\//, // a URL (credentials in URLs have their own rules)
  /^[<[{]/, // markup or a template (`<xsd:element`, `{{ x }}`), not a value
  CREDENTIAL_WORD,
  /::/, // a test id or a qualified name (`tests/test_auth.py::test_token`, `Foo::Bar`)
  // kebab / snake identifiers, resource names and Maven coordinates (`registry-credentials`,
  // `google-auth-library`, `jjwt-jackson-0.11.2`), optionally version-suffixed.
  /^[a-z]+(?:[-_.:][a-z]+)+(?:[-_.:]v?\d+(?:\.\d+)*(?:-[a-z]+)?)?$/,
  /^[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})*\.[a-z]{2,12}(?::\d{1,5})?$/, // host name, optionally with port
  /^[^@\s]{1,64}@[a-z0-9.-]{1,200}\.[a-z]{2,12}$/i, // e-mail address
  /^\d{1,5}$|^\d+(?:\.\d+)?(?:ms|s|m|h|d|k|kb|mb|gb|%)$/i, // numbers and durations
];

/**
 * True when a generic-rule value is known not to be a secret. The name already says secret, so shapes
 * that vendors use for keys (UUIDs, 40-hex, digits-only, dotted) are kept; `password` names also keep a
 * short value that mixes three kinds of characters whatever its entropy.
 */
export function isGenericFalsePositive(secret: string, passwordName = false): boolean {
  if (/^\d+$/.test(secret)) return secret.length < 6; // a PIN or numeric password; sequences are placeholders
  // Another assignment (`password_policy: min_length=12`): judge its value (`_session=<random>` stays).
  const inner = /^[A-Za-z_][A-Za-z0-9_.-]*=(?!=|$)/.exec(secret);
  if (inner !== null) {
    const rest = secret.slice(inner[0].length);
    return rest.length < 8 || isGenericFalsePositive(rest, false);
  }
  for (const re of GENERIC_FP_SHAPES) if (re.test(secret)) return true;
  let kinds = 0;
  if (/[a-z]/.test(secret)) kinds++;
  if (/[A-Z]/.test(secret)) kinds++;
  if (/[0-9]/.test(secret)) kinds++;
  if (/[^A-Za-z0-9]/.test(secret)) kinds++;
  // Letters only: a word or CamelCase identifier (`SharedAccessKeyName=RootManageSharedAccessKey`), unless
  // it is long, mixes cases evenly and is random-looking (`yqDVtkqPECriaLRi`).
  if (kinds === 2 && /^[A-Za-z]+$/.test(secret)) {
    const upper = secret.replace(/[^A-Z]/g, '').length / secret.length;
    return secret.length < 12 || upper < 0.3 || upper > 0.7 || shannonEntropy(secret) < 3.3;
  }
  if (kinds < 2) return true;
  if (passwordName && kinds >= 3 && secret.length >= 6) return false;
  if (secret.length < 8) return true;
  // Entropy floor relative to length: short values cannot reach 3 bits per character.
  return shannonEntropy(secret) < Math.min(3, Math.log2(secret.length) - 0.7);
}

/** Shannon entropy in bits per character. */
export function shannonEntropy(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}
