// The anchor registry: one line per anchor; the config block `trail.anchors` derives from it.
import { emailAnchor } from './email.ts';
import { fileAnchor } from './file.ts';
import type { AnchorUnit } from './types.ts';
import { webhookAnchor } from './webhook.ts';

export const anchors = [fileAnchor, webhookAnchor, emailAnchor] as const satisfies readonly AnchorUnit[];
