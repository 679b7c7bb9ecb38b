// The command line's grammar: each command with its own usage and options, so `pipewarden <command>
// --help` says only what that command takes and an unknown option is named. cli.ts runs the commands.
import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { MATCHER_KEYS } from './alerting/silences.ts';
import { sinks } from './alerting/sinks/index.ts';
import { ROLES } from './config/schema.ts';
import { table } from './util/table.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

interface Command {
  usage: string;
  options: Options;
}

const CONFIG: Options = { config: { type: 'string', short: 'c' } };
const CONFIG_USAGE = '  --config FILE    the YAML config (or $PIPEWARDEN_CONFIG); without one, safe defaults';

// Keyed by what the user typed: a table, so `pipewarden constructor` finds nothing.
export const COMMANDS = table<Command>({
  serve: {
    usage: `pipewarden serve [--config FILE] [--role ROLE[,ROLE]] [--host ADDRESS] [--port N]
  Run the collector. Without --role: every role (${ROLES.join(', ')}) in one process.
  Without a config file: embedded mode (SQLite under ./data), listening on 127.0.0.1:8080.
${CONFIG_USAGE}
  --role ROLES     run only these roles (comma-separated): ${ROLES.join(', ')}
  --host ADDRESS   listen on this address instead of server.host
  --port N         listen on this port instead of server.port (0: any free port)`,
    options: { ...CONFIG, role: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' } },
  },
  'token create': {
    usage: `pipewarden token create --name NAME [--role viewer|analyst|admin] [--expires DURATION] [--config FILE]
  Create an API token for /api/* and the console. It is printed once; only its hash is stored.
  --name NAME      who or what the token is for
  --role ROLE      viewer (read), analyst (+ acknowledge, assign, resolve, comment, silence),
                   admin (+ tokens); default viewer
  --expires D      refuse it after this long (30m, 12h, 90d) or at this ISO time; default never
${CONFIG_USAGE}`,
    options: { ...CONFIG, name: { type: 'string' }, role: { type: 'string' }, expires: { type: 'string' } },
  },
  'token list': {
    usage: `pipewarden token list [--config FILE]
  List tokens: id, name, role, created, last used, expiry, revoked. Never the secret.
${CONFIG_USAGE}`,
    options: CONFIG,
  },
  'token revoke': {
    usage: `pipewarden token revoke --id ID [--config FILE]
  Revoke a token (its id from token list): API calls and console sessions using it stop within seconds.
  --id ID          the token's id
${CONFIG_USAGE}`,
    options: { ...CONFIG, id: { type: 'string' } },
  },
  'console login': {
    usage: `pipewarden console login [--role viewer|analyst|admin] [--name NAME] [--config FILE]
  Print a one-time sign-in link to the console (valid 10 minutes, usable once). The session it opens
  belongs to a new token (default role admin, expiring in 12 hours) that token revoke can end.
  --role ROLE      the session's role; default admin
  --name NAME      who signs in (shown in the trail); default console-login
${CONFIG_USAGE}`,
    options: { ...CONFIG, role: { type: 'string' }, name: { type: 'string' } },
  },
  'silence add': {
    usage: `pipewarden silence add --match M [--match M ...] --comment TEXT [--duration D | --ends T]
                  [--starts ISO] [--by NAME] [--match-all] [--config FILE]
  Silence the hits that match every matcher: they are stored with status silenced and never sent.
  Prints the silence's id. Every alert replica sees it within seconds.
  --match M        name=value, name!=value, name=~regex, name!~regex or name~glob (repeatable), on
                   ${MATCHER_KEYS.join(', ')}
  --comment TEXT   why (kept with the silence)
  --duration D     how long from the start (30m, 12h, 7d); default 1h
  --ends T         when it ends instead: a duration from now or a future ISO time
  --starts ISO     when it starts; default now
  --by NAME        who creates it; default cli:$USER
  --match-all      allow matchers that would silence every hit
${CONFIG_USAGE}`,
    options: {
      ...CONFIG,
      match: { type: 'string', multiple: true },
      comment: { type: 'string' },
      duration: { type: 'string' },
      ends: { type: 'string' },
      starts: { type: 'string' },
      by: { type: 'string' },
      'match-all': { type: 'boolean' },
    },
  },
  'silence list': {
    usage: `pipewarden silence list [--all] [--json] [--config FILE]
  List silences, newest first: id, matchers, start, end, state, creator, comment.
  --all            also those that ended or were expired (the last 30 days); default active and pending
  --json           as JSON
${CONFIG_USAGE}`,
    options: { ...CONFIG, all: { type: 'boolean' }, json: { type: 'boolean' } },
  },
  'silence expire': {
    usage: `pipewarden silence expire --id ID [--by NAME] [--config FILE]
  End a silence now (its id from silence list): matching hits are sent again.
  --id ID          the silence's id
  --by NAME        who ends it; default cli:$USER
${CONFIG_USAGE}`,
    options: { ...CONFIG, id: { type: 'string' }, by: { type: 'string' } },
  },
  'alert test': {
    usage: `pipewarden alert test [--config FILE]
  Send a synthetic alert through every enabled sink (${sinks.map((s) => s.title).join(', ')}) and report each
  outcome; exits 1 unless every sink sent it.
${CONFIG_USAGE}`,
    options: CONFIG,
  },
  'alert routes': {
    usage: `pipewarden alert routes --test HIT.json [--config FILE]
  Print which receivers the routing tree (alerting.route) gives a hit, and the routes that named them,
  as \`amtool config routes test\` does. Nothing is sent.
  --test FILE      a hit as JSON (detector and severity at least; the fields routes match on)
${CONFIG_USAGE}`,
    options: { ...CONFIG, test: { type: 'string' } },
  },
  'config check': {
    usage: `pipewarden config check [--config FILE]
  Validate the configuration and list every problem with its path (exit 78 when invalid).
${CONFIG_USAGE}`,
    options: CONFIG,
  },
  replay: {
    usage: `pipewarden replay (--file EVENTS.ndjson | --from ISO --to ISO) [--config FILE]
                  [--set detectors.ID.KEY=VALUE ...] [--only ID[,ID]] [--format ndjson|table]
  Run the detectors over exported events (one normalised event per line) or over the stored audit
  trail for a time range, to backtest thresholds. Hits go to stdout; progress and a summary to
  stderr. Each event is evaluated at its own time, so runs are repeatable.
${CONFIG_USAGE}
  --file FILE      events to replay, one JSON event per line
  --from, --to     a time range of the stored audit trail (ISO 8601)
  --set K=V        override a detector setting for this run (repeatable)
  --only IDS       run only these detectors (comma-separated)
  --format F       ndjson (default) or table`,
    options: {
      ...CONFIG,
      file: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      set: { type: 'string', multiple: true },
      only: { type: 'string' },
      format: { type: 'string' },
    },
  },
  'store init': {
    usage: `pipewarden store init [--config FILE]
  Create or update the store: Elasticsearch templates, data stream and indices (run it with the setup
  credential, e.g. PIPEWARDEN_ELASTICSEARCH_API_KEY of the pipewarden-setup role, when
  elasticsearch.setup is separate and the collector's own key is create-only); SQLite tables.
${CONFIG_USAGE}`,
    options: CONFIG,
  },
  'trail key': {
    usage: `pipewarden trail key [--config FILE]
  Print the public key that verifies the trail's checkpoints (keep a copy away from the store).
${CONFIG_USAGE}`,
    options: CONFIG,
  },
  'trail verify': {
    usage: `pipewarden trail verify [--from ISO] [--to ISO] [--anchor FILE|DIR] [--config FILE]
  Re-read the stored trail, recompute every chain and check it against the signed checkpoints (and an
  anchor's copies). Reports modified, deleted, inserted, reordered events and missing or forged
  checkpoints with ids and offsets; exits 1 when anything fails.
${CONFIG_USAGE}
  --from, --to     only the checkpoints and events of this time range (ISO 8601)
  --anchor PATH    the anchor file (or directory of anchor files) to check the checkpoints against`,
    options: { ...CONFIG, from: { type: 'string' }, to: { type: 'string' }, anchor: { type: 'string' } },
  },
});

export const USAGE = `pipewarden — CI/CD pipeline log collector and anomaly alerter

Usage:
${Object.values(COMMANDS)
  .map((c) => `  ${c!.usage.split('\n')[0]}`)
  .join('\n')}
  pipewarden <command> --help     what a command does and takes
  pipewarden --version

The config file may also be given by PIPEWARDEN_CONFIG. Secrets come from environment variables
(or VAR_FILE paths), never from the file: see pipewarden.example.yaml.`;

/** A command line that cannot be run as given: the CLI prints the message (and exits 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export type Parsed =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | {
      kind: 'run';
      command: string;
      values: Record<string, string | boolean | Array<string | boolean> | undefined>;
      positionals: string[];
    };

const HELP: Options = { help: { type: 'boolean', short: 'h' } };

/** Parses argv (without node and the script) into a command and its options, or help, or the version. */
export function parseCli(argv: readonly string[]): Parsed {
  const words: string[] = [];
  for (const a of argv) {
    if (a.startsWith('-') || words.length === 2) break;
    words.push(a);
  }
  if (words[0] === 'help') {
    const asked = argv.slice(1, 3).filter((a) => !a.startsWith('-'));
    const named = COMMANDS[asked.join(' ')] ?? COMMANDS[asked[0] ?? ''];
    return { kind: 'help', text: named ? named.usage : USAGE };
  }
  const name = [words.join(' '), words[0] ?? ''].find((n) => COMMANDS[n] !== undefined);
  if (!name) {
    const top = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: false,
      options: { ...HELP, version: { type: 'boolean', short: 'V' } },
    });
    if (top.values.version) return { kind: 'version' };
    if (top.values.help || argv.length === 0) return { kind: 'help', text: USAGE };
    throw new UsageError(`unknown command '${words.join(' ') || argv.join(' ')}'\n\n${USAGE}`);
  }
  const command = COMMANDS[name]!;
  const rest = argv.slice(name.split(' ').length);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...rest],
      allowPositionals: false,
      options: { ...command.options, ...HELP },
    });
  } catch (err) {
    // node:util names the option ("Unknown option '--colour'"); add what this command takes
    throw new UsageError(`${name}: ${(err as Error).message}\n\n${command.usage}`);
  }
  if (parsed.values.help) return { kind: 'help', text: command.usage };
  return { kind: 'run', command: name, values: parsed.values, positionals: parsed.positionals };
}

/** The package's version, from package.json beside src/ (a checkout) or above dist/src/ (a build). */
export function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'pipewarden' && pkg.version) return pkg.version;
    } catch {
      // not at this level: try the next
    }
  }
  return 'unknown';
}
