// The responders' query API (/api/*, bearer token or console session) and the console, served with the ingest role.
import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance } from 'fastify';
import { Silences } from '../alerting/silences.ts';
import { consoleUrlOf } from '../alerting/sinks/index.ts';
import { slackInteractionRoutes } from '../alerting/slack-interactions.ts';
import { ConsoleAuth } from '../api/auth.ts';
import { registerOpenApi } from '../api/openapi.ts';
import { apiRoutes } from '../api/routes.ts';
import { TokenVerifier } from '../api/tokens.ts';
import { consoleRoutes } from '../console/plugin.ts';
import { sourceStates } from '../console/sources.ts';
import { createSinks } from '../factories.ts';
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
  await server.register(consoleRoutes, {
    store,
    auth,
    silences: new Silences(store, now),
    sources: sourceStates(config),
    now,
  });
  // Buttons on Slack incident messages (signed by the Slack app; off unless configured).
  const interactions = config.alerting.slackInteractions;
  if (interactions.enabled) {
    const consoleUrl = consoleUrlOf(config.alerting);
    // Receivers that track the incident elsewhere (PagerDuty) follow an acknowledgement made in Slack.
    const followers = createSinks(config).filter((s) => s.type === 'pagerduty' && s.update);
    await server.register(slackInteractionRoutes, {
      config: interactions,
      store,
      incidents: incidentTracker(config, store),
      // the console's silences module (src/alerting/silences.ts): the same store-backed list
      silences: {
        create: (s) =>
          new Silences(store, now).create(
            { matchers: s.matchers, startsAt: s.startsAt, endsAt: s.endsAt, comment: s.comment },
            s.createdBy,
          ),
      },
      ...(consoleUrl ? { consoleUrl } : {}),
      onChange: async (incident, hit) => {
        await Promise.allSettled(
          followers
            .filter((s) => incident.notified[s.name]?.ref)
            .map((s) => s.update!(incident.notified[s.name]!.ref!, hit)),
        );
      },
      log,
      now,
    });
  }
}
