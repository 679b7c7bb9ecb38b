#!/usr/bin/env node
// pipewarden command line: serve, token create, config check.
import { parseArgs } from 'node:util';
import { createToken } from './api/tokens.ts';
import { createStore, startApp } from './app.ts';
import { ConfigError, loadConfig } from './config/load.ts';
import { ROLES, type Role } from './config/schema.ts';
import { createLogger, routeProcessWarnings } from './log.ts';

const USAGE = `pipewarden — CI/CD pipeline log collector and anomaly alerter

Usage:
  pipewarden serve [--config FILE] [--role ROLE[,ROLE]] [--port N]
      Run the collector. Without --role: every role (${ROLES.join(', ')}) in one process.
      Without a config file: embedded mode (SQLite under ./data), listening on 127.0.0.1:8080.
  pipewarden token create --name NAME [--config FILE]
      Create an API token for /api/*. It is printed once; only its hash is stored.
  pipewarden alert test [--config FILE]
      Send a synthetic alert through every enabled sink (Slack, email) and report each outcome.
  pipewarden config check [--config FILE]
      Validate the configuration and list every problem with its path.
  pipewarden replay (--file EVENTS.ndjson | --from ISO --to ISO) [--config FILE]
                    [--set detectors.ID.KEY=VALUE ...] [--only ID[,ID]] [--format ndjson|table]
      Run the detectors over exported events (one normalised event per line) or over the stored
      audit trail for a time range, to backtest thresholds. Hits go to stdout; progress and a
      summary to stderr. Each event is evaluated at its own time, so runs are repeatable.

The config file may also be given by PIPEWARDEN_CONFIG. Secrets come from environment variables
(or VAR_FILE paths), never from the file: see pipewarden.example.yaml.`;

function fail(message: string, code = 2): never {
  process.stderr.write(`pipewarden: ${message}\n`);
  process.exit(code);
}

function parseRoles(value: string | undefined): Role[] | undefined {
  if (!value) return undefined;
  const roles = value.split(',').map((r) => r.trim());
  const bad = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (bad.length) fail(`unknown role(s) ${bad.join(', ')}; roles are ${ROLES.join(', ')}`);
  return roles as Role[];
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      role: { type: 'string' },
      port: { type: 'string' },
      name: { type: 'string' },
      file: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      set: { type: 'string', multiple: true },
      only: { type: 'string' },
      format: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, sub] = positionals;
  if (values.help || !command || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const configFile = values.config ?? process.env.PIPEWARDEN_CONFIG;
  const config = loadConfig(configFile);

  if (command === 'serve') {
    const roles = parseRoles(values.role);
    const port = values.port === undefined ? undefined : Number(values.port);
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
      fail(`--port must be 0..65535, got ${values.port}`);
    const log = createLogger({ level: config.log.level });
    routeProcessWarnings(log);
    const app = await startApp(config, {
      log,
      ...(roles ? { roles } : {}),
      ...(port !== undefined ? { port } : {}),
    });
    const shutdown = (signal: string) => {
      log.info({ signal }, 'Shutting down: no new requests, draining consumers.');
      app.stop().then(
        () => process.exit(0),
        (err) => {
          log.error({ err }, 'Shutdown failed.');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    return;
  }

  if (command === 'token' && sub === 'create') {
    if (!values.name) fail('token create needs --name NAME (who or what the token is for)');
    const store = createStore(config);
    await store.init();
    const { token, record } = await createToken(store, values.name);
    await store.close();
    process.stderr.write(
      `Created token ${record.id} for "${record.name}". It is shown once; store it now.\n`,
    );
    process.stdout.write(`${token}\n`);
    return;
  }

  if (command === 'alert' && sub === 'test') {
    const { sendTestAlert } = await import('./app.ts');
    const deliveries = await sendTestAlert(config, createLogger({ level: 'warn' }), () => new Date());
    const names = Object.keys(deliveries);
    if (names.length === 0) fail('no alert sink is enabled (alerting.slack / alerting.email in the config)');
    for (const [name, d] of Object.entries(deliveries)) {
      process.stdout.write(`${name}: ${d.status}${d.error ? ` (${d.error})` : ''}\n`);
    }
    if (!Object.values(deliveries).every((d) => d.status === 'sent')) process.exit(1);
    return;
  }

  if (command === 'config' && sub === 'check') {
    process.stdout.write(`configuration OK (${configFile ?? 'defaults'}): mode ${config.mode}\n`);
    const { sourceStatus } = await import('./config/status.ts');
    for (const line of sourceStatus(config)) process.stdout.write(`  ${line}\n`);
    return;
  }

  if (command === 'replay') {
    const { formatSummary, loadReplayConfig, replay } = await import('./replay.ts');
    if (!values.file === !(values.from || values.to))
      fail('replay needs --file FILE, or --from ISO and --to ISO (the stored audit trail)');
    if (!values.file && !(values.from && values.to)) fail('replay over the store needs both --from and --to');
    const format = values.format ?? 'ndjson';
    if (format !== 'ndjson' && format !== 'table') fail(`--format must be ndjson or table, got ${format}`);
    const replayConfig = loadReplayConfig(configFile, values.set ?? []);
    const store = values.file ? undefined : createStore(replayConfig);
    await store?.init();
    try {
      const summary = await replay({
        config: replayConfig,
        input: store ? { store, from: values.from!, to: values.to! } : { file: values.file! },
        format,
        out: process.stdout,
        err: process.stderr,
        ...(values.only ? { only: values.only.split(',').map((s) => s.trim()) } : {}),
      });
      process.stderr.write(formatSummary(summary));
    } catch (err) {
      // An unreadable file or an unknown detector id is the caller's to fix: say so, no stack.
      if (
        (err as { code?: string }).code === 'ENOENT' ||
        /^unknown detector|^--from/.test((err as Error).message)
      )
        fail((err as Error).message);
      throw err;
    } finally {
      await store?.close();
    }
    return;
  }

  fail(`unknown command '${positionals.join(' ')}'\n\n${USAGE}`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) fail(err.message, 78); // EX_CONFIG
  if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
    fail(err.message);
  process.stderr.write(`pipewarden: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
