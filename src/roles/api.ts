// The responders' query API (/api/*, bearer token), served with the ingest role.
import type { FastifyInstance } from 'fastify';
import { apiRoutes } from '../api/routes.ts';
import { TokenVerifier } from '../api/tokens.ts';
import { sendTestAlert } from './alert.ts';
import type { RoleDeps } from './types.ts';

export async function registerApi(deps: RoleDeps, server: FastifyInstance): Promise<void> {
  const { config, bus, store, metrics, log, now } = deps;
  await server.register(apiRoutes, {
    bus,
    store,
    tokens: new TokenVerifier(store),
    metrics,
    testAlert: () => sendTestAlert(config, log, now),
  });
}
