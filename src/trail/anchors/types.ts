// An anchor keeps a copy of every checkpoint outside the store, where the store's administrator cannot
// rewrite it. Sink-shaped: a pure `render` of what is sent, a thin `publish` that only moves bytes.
import type { z } from 'zod';
import type { Logger } from '../../log.ts';
import type { Checkpoint } from '../types.ts';

export interface Anchor {
  readonly name: string;
  publish(checkpoints: Checkpoint[]): Promise<void>;
  close?(): Promise<void>;
}

export interface AnchorUnit<S extends z.ZodType = z.ZodType> {
  id: string;
  /** Its block under `trail.anchors.<id>`; `enabled` says whether it runs. */
  configSchema: S;
  create(config: z.output<S>, log: Logger): Anchor;
}

/** One JSON line per checkpoint: the form every anchor carries and `trail verify --anchor` reads back. */
export function renderLines(checkpoints: Checkpoint[]): string {
  return checkpoints.map((c) => `${JSON.stringify(c)}\n`).join('');
}
