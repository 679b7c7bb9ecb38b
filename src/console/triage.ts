// The alert lifecycle in the console: acknowledge, assign, resolve with a reason, comment, reopen. Each
// action is kept on the alert (who, when) and written to the audit trail as an event of its own.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { type AlertRecord, RESOLUTIONS, type Triage, type TriageAction } from '../alerting/types.ts';
import type { PipewardenEvent } from '../event.ts';
import type { Store } from '../store/types.ts';

export const triageInputSchema = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('acknowledge') }),
  z.strictObject({ action: z.literal('assign'), assignee: z.string().trim().min(1).max(200) }),
  z.strictObject({
    action: z.literal('resolve'),
    resolution: z.enum(RESOLUTIONS),
    text: z.string().trim().max(2000).optional(),
  }),
  z.strictObject({ action: z.literal('comment'), text: z.string().trim().min(1).max(2000) }),
  z.strictObject({ action: z.literal('reopen') }),
]);
export type TriageInput = z.output<typeof triageInputSchema>;

export function triageOf(alert: AlertRecord): Triage {
  return alert.triage ?? { state: 'open', history: [] };
}

/** Applies the action to the alert and records it; returns the updated alert. */
export async function applyTriage(
  store: Store,
  alert: AlertRecord,
  input: TriageInput,
  by: string,
  now: Date,
): Promise<AlertRecord> {
  const at = now.toISOString();
  const before = triageOf(alert);
  const entry: TriageAction = { action: input.action, by, at };
  const next: Triage = { ...before, history: [...before.history, entry] };
  if (input.action === 'acknowledge') next.state = before.state === 'resolved' ? 'resolved' : 'acknowledged';
  if (input.action === 'assign') {
    entry.assignee = input.assignee;
    next.assignee = input.assignee;
  }
  if (input.action === 'resolve') {
    entry.resolution = input.resolution;
    next.state = 'resolved';
    next.resolution = input.resolution;
    if (input.text) entry.text = input.text;
  }
  if (input.action === 'comment') entry.text = input.text;
  if (input.action === 'reopen') {
    next.state = 'open';
    delete next.resolution;
  }
  if (next.history.length > 500) next.history = next.history.slice(-500);
  const updated: AlertRecord = { ...alert, triage: next };
  await store.putAlert(updated);
  await store.indexEvents([triageEvent(alert, entry)]);
  return updated;
}

/** The trail's record of a console action on an alert. */
function triageEvent(alert: AlertRecord, entry: TriageAction): PipewardenEvent {
  const detail = entry.assignee ?? entry.resolution ?? '';
  return {
    '@timestamp': entry.at,
    message: `${entry.by} did ${entry.action}${detail ? ` (${detail})` : ''} on alert ${alert.id}: ${alert.title}`,
    event: {
      id: `console_${randomBytes(12).toString('base64url')}`,
      kind: 'event',
      category: ['configuration'],
      type: ['change'],
      action: `alert.${entry.action}`,
      outcome: 'success',
      dataset: 'pipewarden.console',
      provider: 'pipewarden',
      ingested: entry.at,
    },
    user: { name: entry.by },
    pipewarden: {
      kind: 'other',
      source: 'pipewarden',
      ...(alert.repository ? { repository: alert.repository } : {}),
      ...(entry.text ? { change: { field: 'comment', to: entry.text.slice(0, 500) } } : {}),
    },
  } as PipewardenEvent;
}
