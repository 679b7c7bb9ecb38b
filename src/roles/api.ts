// The responders' query API (/api/*, bearer token or console session) and the console, served with the ingest role.
import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance } from 'fastify';
import { Silences } from '../alerting/silences.ts';
import { ConsoleAuth } from '../api/auth.ts';
import { registerOpenApi } from '../api/openapi.ts';
import { apiRoutes } from '../api/routes.ts';
import { TokenVerifier } from '../api/tokens.ts';
import { consoleRoutes } from '../console/plugin.ts';
import { sourceStates } from '../console/sources.ts';
import { sendTestAlert } from './alert.ts';
import type { RoleDeps } from './types.ts';

export async function registerApi(deps: RoleDeps, server: FastifyInstance): Promise<void> {
  const { config, bus, store, metrics, log, now } = deps;
  const auth = new ConsoleAuth({
    tokens: new TokenVerifier(store),
    metrics,
    sessionMinutes: config.server.sessionMinutes,
    ...(config.server.publicUrl ? { publicUrl: config.server.publicUrl } : {}),
  });
  await server.register(fastifyCookie);
  await registerOpenApi(server);
  await server.register(apiRoutes, {
    bus,
    store,
    auth,
    metrics,
    testAlert: () => sendTestAlert(config, log, now),
  });
  await server.register(consoleRoutes, {
    store,
    auth,
    silences: new Silences(store, now),
    sources: sourceStates(config),
    now,
  });
}
