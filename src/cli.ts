#!/usr/bin/env node
// pipewarden command line: serve, token create|list|revoke, console login, silence add|list|expire, alert test|routes, config check, replay (grammar: cli-args.ts).
import { sinkConfigKeys } from './alerting/sinks/index.ts';
import { createStore, startApp } from './app.ts';
import { parseCli, UsageError, version } from './cli-args.ts';
import { ConfigError, loadConfig } from './config/load.ts';
import { ROLES, type Role } from './config/schema.ts';
import { createLogger, routeProcessWarnings } from './log.ts';
import { StartError } from './server.ts';

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
  const parsed = parseCli(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(`${parsed.text}\n`);
    return;
  }
  if (parsed.kind === 'version') {
    process.stdout.write(`pipewarden ${version()}\n`);
    return;
  }
  const { command } = parsed;
  const values = parsed.values as {
    config?: string;
    role?: string;
    host?: string;
    port?: string;
    name?: string;
    file?: string;
    from?: string;
    to?: string;
    set?: string[];
    only?: string;
    format?: string;
    test?: string;
    anchor?: string;
  };
  const configFile = values.config ?? process.env.PIPEWARDEN_CONFIG;
  const config = loadConfig(configFile);

  if (command === 'serve') {
    const roles = parseRoles(values.role);
    const port = values.port === undefined ? undefined : Number(values.port);
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
      fail(`--port must be 0..65535, got ${values.port}`);
    if (values.host !== undefined && values.host.trim() === '')
      fail('--host must be an address or a host name');
    const log = createLogger({ level: config.log.level });
    routeProcessWarnings(log);
    const app = await startApp(config, {
      log,
      ...(roles ? { roles } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(values.host !== undefined ? { host: values.host } : {}),
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

  if (command.startsWith('token ') || command === 'console login') {
    const { runTokenCommand } = await import('./console/cli.ts');
    await runTokenCommand(command, values as Record<string, string | undefined>, config, fail);
    return;
  }

  if (command.startsWith('silence ')) {
    const { runSilenceCommand } = await import('./alerting/silence-cli.ts');
    await runSilenceCommand(command, parsed.values, config, {
      out: process.stdout,
      err: process.stderr,
      fail,
    });
    return;
  }

  if (command === 'alert test') {
    const { sendTestAlert } = await import('./app.ts');
    const deliveries = await sendTestAlert(config, createLogger({ level: 'warn' }), () => new Date());
    const names = Object.keys(deliveries);
    if (names.length === 0) fail(`no alert sink is enabled (${sinkConfigKeys()} in the config)`);
    for (const [name, d] of Object.entries(deliveries)) {
      process.stdout.write(`${name}: ${d.status}${d.error ? ` (${d.error})` : ''}\n`);
    }
    if (!Object.values(deliveries).every((d) => d.status === 'sent')) process.exit(1);
    return;
  }

  if (command === 'alert routes') {
    if (!values.test) fail('alert routes needs --test HIT.json (a hit as JSON)');
    const { describeRouting } = await import('./alerting/route-test.ts');
    const out = describeRouting(config, values.test);
    if ('error' in out) fail(out.error);
    process.stdout.write(out.text);
    return;
  }

  if (command === 'config check') {
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

  // --- store init (trail: the collector's Elasticsearch key can then be create-only) ---
  if (command === 'store init') {
    const store = createStore(config);
    try {
      await ('setUp' in store && typeof store.setUp === 'function' ? store.setUp() : store.init());
      process.stdout.write(`Store ready (${store.kind}).\n`);
    } finally {
      await store.close();
    }
    return;
  }

  // --- trail (src/trail/cli.ts) ---
  if (command === 'trail key' || command === 'trail verify') {
    const { trailCommand } = await import('./trail/cli.ts');
    const code = await trailCommand(
      command.split(' ')[1],
      config,
      {
        ...(values.from ? { from: values.from } : {}),
        ...(values.to ? { to: values.to } : {}),
        ...(values.anchor ? { anchor: values.anchor } : {}),
      },
      { out: process.stdout, err: process.stderr },
    );
    if (code !== 0) process.exit(code);
    return;
  }
  // --- end trail ---
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) fail(err.message, 78); // EX_CONFIG
  if (err instanceof UsageError) fail(err.message);
  if (err instanceof StartError) fail(err.message, 1); // e.g. the port is taken: one line, no stack
  if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
    fail(err.message);
  process.stderr.write(`pipewarden: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
