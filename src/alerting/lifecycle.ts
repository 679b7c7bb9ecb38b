// The incident lifecycle, passed on to receivers: acknowledging or resolving an incident (the console's
// triage, the API, a Slack button) edits its Slack message (status line and who) and acknowledges or
// resolves the PagerDuty / Opsgenie incident on the same dedup key.
//
// Through the outbox, as hits are: whoever changes the status writes it to the incident, then puts a
// `{ "lifecycle": "<incident id>" }` request on the hits topic keyed by the incident's key (the partition
// of its hits, so one alert consumer handles both, in order). The alert role brings every receiver that
// holds the incident in line with its *current* status (Alerter.follow) and records, per receiver, which
// status it was given (`incident.followed`). So a request lost to a crash is redelivered by the bus (its
// offset is committed only after it is handled), and a redelivered or repeated request sends nothing the
// receiver already has. What remains is the window between a receiver's answer and the record of it: a
// crash there sends that one status again (chat.update and the Events API both take it harmlessly).
import type { Bus } from '../bus/types.ts';
import type { Incident, IncidentTracker } from './incidents.ts';

/** A request, on the hits topic, to pass an incident's status on to its receivers. */
export interface LifecycleRequest {
  lifecycle: string;
}

export function isLifecycleRequest(m: unknown): m is LifecycleRequest {
  return typeof m === 'object' && m !== null && typeof (m as LifecycleRequest).lifecycle === 'string';
}

export type LifecycleStatus = 'acknowledged' | 'resolved';

/** What a receiver was last given of an incident's status: `status by at`, compared as a whole. */
export function followMark(incident: Incident): string | undefined {
  if (incident.status === 'acknowledged')
    return `acknowledged ${incident.acknowledged_by ?? ''} ${incident.acknowledged_at ?? ''}`;
  if (incident.status === 'resolved')
    return `resolved ${incident.resolved_by ?? ''} ${incident.resolved_at ?? ''}`;
  return undefined;
}

/** Puts the request for the incident's receivers on the hits topic (durable once this resolves). */
export async function requestFollow(bus: Bus, hitsTopic: string, incident: Incident): Promise<void> {
  await bus.publish(hitsTopic, [
    { key: incident.key, value: JSON.stringify({ lifecycle: incident.id } satisfies LifecycleRequest) },
  ]);
}

export interface LifecycleDeps {
  incidents: IncidentTracker;
  bus: Bus;
  hitsTopic: string;
}

/**
 * Acknowledges or resolves an incident and asks for its receivers to follow. Acknowledging a resolved
 * incident changes nothing (and asks for nothing). Undefined when there is no such incident. Throws when the
 * request cannot be put on the bus: the status is then stored but the receivers not told, so the caller
 * answers 503 and the retry asks again.
 */
export async function changeIncident(
  deps: LifecycleDeps,
  id: string,
  status: LifecycleStatus,
  by: string,
  at: string,
): Promise<Incident | undefined> {
  const incident = await deps.incidents.byId(id);
  if (!incident) return undefined;
  if (incident.status === 'resolved' && status === 'acknowledged') return incident;
  const next = await deps.incidents.setStatus(id, status, by, at);
  if (!next) return undefined;
  await requestFollow(deps.bus, deps.hitsTopic, next);
  return next;
}
