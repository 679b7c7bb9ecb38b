// The file anchor: appends one JSON line per checkpoint to a file opened append-only, synced before the
// checkpoint counts as anchored. Put it on another volume (or a WORM / append-only mount, `chattr +a`).
import { open } from 'node:fs/promises';
import { z } from 'zod';
import { type Anchor, type AnchorUnit, renderLines } from './types.ts';

const schema = z
  .strictObject({
    enabled: z.boolean().default(false),
    path: z.string().min(1).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.enabled && !c.path)
      ctx.addIssue({ code: 'custom', path: ['path'], message: 'required when enabled' });
  });

export const fileAnchor: AnchorUnit<typeof schema> = {
  id: 'file',
  configSchema: schema,
  create(config): Anchor {
    const path = config.path!;
    return {
      name: 'file',
      async publish(checkpoints) {
        const fh = await open(path, 'a', 0o640);
        try {
          await fh.appendFile(renderLines(checkpoints));
          await fh.datasync();
        } finally {
          await fh.close();
        }
      },
    };
  },
};
