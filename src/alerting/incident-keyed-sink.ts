// The shape of a sink whose receiver keeps each incident under a key pipewarden gives it (PagerDuty's
// `dedup_key`, Opsgenie's `alias`): a later hit of the incident, and its acknowledgement or resolution,
// are the hit rendered and sent again, which the receiver folds into the one incident it holds.
import type { Hit, Sink, SinkConfigBase, SinkRef } from './types.ts';

export function incidentKeyedSink<P>(
  name: string,
  config: SinkConfigBase,
  render: (hit: Hit) => P,
  send: (payload: P) => Promise<SinkRef>,
): Sink<P> {
  const resend = async (_ref: SinkRef, hit: Hit) => {
    await send(render(hit));
  };
  return {
    name,
    minSeverity: config.minSeverity,
    detectors: config.detectors,
    render,
    send,
    update: resend, // a later hit of the incident: the same key, the receiver counts it
    follow: resend, // acknowledged or resolved in pipewarden: the rendered action follows on the same key
  };
}
