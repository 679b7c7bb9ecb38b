// `pipewarden trail key` and `pipewarden trail verify`: the command-line side of the trail.
import { createStore } from '../app.ts';
import type { Config } from '../config/schema.ts';
import { createLogger } from '../log.ts';
import { readAnchor } from './anchors/read.ts';
import { keyId, loadVerifyKey, publicKeyPem } from './key.ts';
import { retentionMs } from './service.ts';
import { type VerifyReport, verifyTrail } from './verify.ts';

export const TRAIL_USAGE = `  pipewarden trail key [--config FILE]
      Print the public key that verifies the trail's checkpoints (keep a copy away from the store).
  pipewarden trail verify [--from ISO] [--to ISO] [--anchor FILE|DIR] [--config FILE]
      Re-read the stored trail, recompute every chain and check it against the signed checkpoints
      (and an anchor's copies). Reports modified, deleted, inserted, reordered events and missing or
      forged checkpoints with ids and offsets; exits 1 when anything fails.`;

export interface TrailCliOptions {
  from?: string;
  to?: string;
  anchor?: string;
}

export interface Io {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown; isTTY?: boolean };
}

/** Returns the exit code. */
export async function trailCommand(
  sub: string | undefined,
  config: Config,
  opts: TrailCliOptions,
  io: Io,
): Promise<number> {
  const log = createLogger({ level: 'warn' });
  if (sub === 'key') {
    const key = loadVerifyKey(config, log);
    io.out.write(publicKeyPem(key));
    io.err.write(`key id ${keyId(key)}\n`);
    return 0;
  }
  if (sub !== 'verify') {
    io.err.write(`pipewarden: unknown trail command '${sub ?? ''}'\n${TRAIL_USAGE}\n`);
    return 2;
  }
  for (const [name, v] of [
    ['--from', opts.from],
    ['--to', opts.to],
  ] as const) {
    if (v !== undefined && Number.isNaN(Date.parse(v))) {
      io.err.write(`pipewarden: ${name} is not a valid time: ${v}\n`);
      return 2;
    }
  }
  const key = loadVerifyKey(config, log);
  const anchor = opts.anchor ? await readAnchor(opts.anchor) : undefined;
  const store = createStore(config);
  await store.init();
  const started = Date.now();
  const tty = io.err.isTTY === true;
  try {
    const ms = retentionMs(config);
    const report = await verifyTrail({
      store,
      key,
      ...(opts.from ? { from: new Date(opts.from).toISOString() } : {}),
      ...(opts.to ? { to: new Date(opts.to).toISOString() } : {}),
      ...(anchor ? { anchor } : {}),
      ...(ms !== undefined ? { retentionMs: ms } : {}),
      now: new Date(),
      onProgress: tty
        ? (n) => {
            const s = (Date.now() - started) / 1000;
            io.err.write(`\r${n} events verified (${Math.round(n / Math.max(s, 0.001))}/s)`);
          }
        : undefined,
    } as Parameters<typeof verifyTrail>[0]);
    if (tty) io.err.write('\n');
    io.out.write(formatReport(report, anchor?.length, (Date.now() - started) / 1000));
    return report.ok ? 0 : 1;
  } finally {
    await store.close();
  }
}

export function formatReport(r: VerifyReport, anchored: number | undefined, seconds: number): string {
  const lines = [
    `${r.ok ? 'OK' : 'FAILED'}: ${r.events} events and ${r.checkpoints} checkpoints in ${r.partitions.length} partition(s) verified in ${seconds.toFixed(1)} s${anchored !== undefined ? `; ${anchored} checkpoints read from the anchor` : ''}`,
    ...r.notes.map((n) => `note: ${n}`),
    ...r.findings.map(
      (f) =>
        `${f.kind}: ${f.detail}${f.eventId ? ` [event ${f.eventId}]` : ''}${f.offset !== undefined ? ` [partition ${f.partition} offset ${f.offset}]` : ''}`,
    ),
  ];
  if (r.moreFindings) lines.push(`... and ${r.moreFindings} more finding(s)`);
  for (const [p, n] of Object.entries(r.lastVerified))
    lines.push(`partition ${p}: last verified checkpoint ${n}`);
  return `${lines.join('\n')}\n`;
}
