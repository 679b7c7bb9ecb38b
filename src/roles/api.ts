// The responders' query API (/api/*, bearer token or console session) and the console, served with the ingest role.
import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance } from 'fastify';
import { changeIncident, requestFollow } from '../alerting/lifecycle.ts';
import { Silences } from '../alerting/silences.ts';
import { consoleUrlOf } from '../alerting/sinks/index.ts';
import { slackInteractionRoutes } from '../alerting/slack-interactions.ts';
import { ConsoleAuth } from '../api/auth.ts';
import { registerOpenApi } from '../api/openapi.ts';
import { apiRoutes } from '../api/routes.ts';
import { TokenVerifier } from '../api/tokens.ts';
import { consoleRoutes } from '../console/plugin.ts';
import { sourceStates } from '../console/sources.ts';
import { incidentTracker, sendTestAlert } from './alert.ts';
import type { RoleDeps } from './types.ts';

export async function registerApi(deps: RoleDeps, server: FastifyInstance): Promise<void> {
  const { config, bus, store, metrics, log, now } = deps;
  const auth = new ConsoleAuth({
    tokens: new TokenVerifier(store),
    store,
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
  const incidents = incidentTracker(config, store);
  const lifecycle = { incidents, bus, hitsTopic: config.topics.hits };
  await server.register(consoleRoutes, {
    store,
    auth,
    silences: new Silences(store, now),
    sources: sourceStates(config),
    now,
    // acknowledging or resolving an alert does it to its incident, and the incident's receivers follow
    onTriage: async (alert, input, by) => {
      if (!alert.incident_id || (input.action !== 'acknowledge' && input.action !== 'resolve')) return;
      const status = input.action === 'acknowledge' ? 'acknowledged' : 'resolved';
      await changeIncident(lifecycle, alert.incident_id, status, by, now().toISOString());
    },
  });
  // Buttons on Slack incident messages (signed by the Slack app; off unless configured).
  const interactions = config.alerting.slackInteractions;
  if (interactions.enabled) {
    const consoleUrl = consoleUrlOf(config.alerting);
    await server.register(slackInteractionRoutes, {
      config: interactions,
      store,
      incidents,
      // the console's silences module (src/alerting/silences.ts): the same store-backed list
      silences: {
        create: (s) =>
          new Silences(store, now).create(
            { matchers: s.matchers, startsAt: s.startsAt, endsAt: s.endsAt, comment: s.comment },
            s.createdBy,
          ),
      },
      ...(consoleUrl ? { consoleUrl } : {}),
      // every receiver holding the incident (the Slack message, PagerDuty) follows, through the alert role
      onChange: (incident) => requestFollow(bus, config.topics.hits, incident),
      log,
      now,
    });
  }
}
