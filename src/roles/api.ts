// The responders' query API (/api/*, bearer token), served with the ingest role.
import type { FastifyInstance } from 'fastify';
import { consoleUrlOf } from '../alerting/sinks/index.ts';
import { slackInteractionRoutes } from '../alerting/slack-interactions.ts';
import { apiRoutes } from '../api/routes.ts';
import { TokenVerifier } from '../api/tokens.ts';
import { createSinks } from '../factories.ts';
import { incidentTracker, sendTestAlert } from './alert.ts';
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
