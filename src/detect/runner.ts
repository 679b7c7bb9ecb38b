// The detect role's batch step: load the key state a batch needs, evaluate, re-key, snapshot.
// The bus commits the batch's offsets only after this resolves (so a snapshot never runs behind them).
import type { Hit } from '../alerting/types.ts';
import { readEvent } from '../bus/messages.ts';
import type { ConsumedMessage, OutgoingMessage } from '../bus/types.ts';
import type { PipewardenEvent } from '../event.ts';
import type { Logger } from '../log.ts';
import { type DetectionEngine, type Lane, rekeyedTopic } from './engine.ts';
import type { DetectStateStore } from './state-store.ts';

export interface BatchResult {
  hits: Hit[];
  /** Messages to re-publish, by topic (events lane in distributed mode only). */
  rekeyed: Map<string, OutgoingMessage[]>;
}

export interface BatchStep {
  engine: DetectionEngine;
  lane: Lane;
  state?: DetectStateStore;
  /** Set in distributed mode on the events lane: re-publish to `<eventsTopic>.by-<field>`. */
  rekeyFrom?: string;
  now: () => Date;
  log: Logger;
}

export async function detectBatch(step: BatchStep, batch: ConsumedMessage[]): Promise<BatchResult> {
  const { engine, lane, state, log } = step;
  const items: Array<{ event: PipewardenEvent; m: ConsumedMessage }> = [];
  for (const m of batch) {
    const event = readEvent(m, log);
    if (event) items.push({ event, m });
  }
  if (state) {
    const ids = new Set<string>();
    for (const { event } of items) for (const id of engine.missingState(event, lane)) ids.add(id);
    // Everything that could still matter: the horizon is far enough back for any declared window.
    if (ids.size) engine.restore(await state.load([...ids], Number.NEGATIVE_INFINITY));
  }
  const hits: Hit[] = [];
  const rekeyed = new Map<string, OutgoingMessage[]>();
  for (const { event, m } of items) {
    hits.push(
      ...engine.evaluate(event, step.now(), {
        lane,
        position: { topic: m.topic, partition: m.partition, offset: m.offset },
      }),
    );
    if (step.rekeyFrom) {
      for (const { keyBy, key } of engine.rekeyTargets(event)) {
        const topic = rekeyedTopic(step.rekeyFrom, keyBy);
        const list = rekeyed.get(topic) ?? [];
        rekeyed.set(topic, list);
        list.push({ key, value: m.value, headers: m.headers }); // the same text: its raw span still holds
      }
    }
  }
  return { hits, rekeyed };
}
