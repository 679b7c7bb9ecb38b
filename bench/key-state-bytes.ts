// Bytes per detect key state, on the heap and in the snapshot (issue 15 wants it small), with
// realistic 32-character event ids. Not part of `npm run bench` (it writes no section):
//   node bench/key-state-bytes.ts            this tree
//   node bench/key-state-bytes.ts <root>     another checkout (e.g. `git archive <rev>` unpacked), to compare
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const [rootArg, mode, usersArg, perArg] = process.argv.slice(2);
const root = resolve(rootArg ?? new URL('..', import.meta.url).pathname);

if (!mode) {
  // Each measure in a fresh process, so one does not see the other's garbage.
  for (const [users, per, label] of [
    [100_000, 1, 'one failure for each of 100,000 users'],
    [10_000, 9, 'nine failures for each of 10,000 users'],
  ] as const) {
    process.stdout.write(`${label}:\n`);
    for (const m of ['heap', 'snapshot'])
      process.stdout.write(
        execFileSync(
          process.execPath,
          [new URL(import.meta.url).pathname, root, m, String(users), String(per)],
          {
            encoding: 'utf8',
          },
        ),
      );
  }
} else {
  const { detectors } = await import(`${root}/detectors/index.ts`);
  const { DetectionEngine } = await import(`${root}/src/detect/engine.ts`);
  const { eventId } = await import(`${root}/src/event.ts`);
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const users = Number(usersArg);
  const per = Number(perArg);
  let clock = Date.parse('2026-11-22T09:00:00Z');
  let n = 0;
  // Serialised and parsed, as a consumer reads it: the id strings are not slices of a bigger one.
  const next = (u: number) => {
    clock += 2;
    const at = new Date(clock).toISOString();
    return JSON.parse(
      JSON.stringify({
        '@timestamp': at,
        event: {
          id: eventId('bench', n++),
          kind: 'event',
          category: ['authentication'],
          type: ['start'],
          action: 'login_failed',
          outcome: 'failure',
          dataset: 'jenkins.audit',
          provider: 'jenkins',
          ingested: at,
        },
        user: { name: `user-${u}` },
        source: { ip: `10.0.${((u % 50_000) >> 8) & 255}.${u & 255}` },
        pipewarden: { kind: 'login.failure', source: 'jenkins', repository: 'acme/app' },
      }),
    );
  };
  const enabled = detectors.map((detector: { configSchema: { parse(x: unknown): unknown } }) => ({
    detector,
    config: detector.configSchema.parse({}),
  }));
  const before = heap();
  const engine = new DetectionEngine(enabled, {
    trackChanges: mode === 'snapshot',
    allowedLatenessMs: 3_600_000,
  });
  for (let r = 0; r < per; r++) for (let u = 0; u < users; u++) engine.evaluate(next(u), new Date(clock));
  const keys = engine.keyCount as number;
  if (mode === 'heap') {
    process.stdout.write(
      `  heap: ${Math.round((heap() - before) / keys)} bytes per key state (${keys} key states)\n`,
    );
  } else {
    const { upserts } = engine.drainChanges('all') as { upserts: Array<{ state: unknown }> };
    const size = (f: (e: { state: unknown }) => unknown) =>
      Math.round(upserts.reduce((a, e) => a + JSON.stringify(f(e)).length, 0) / upserts.length);
    process.stdout.write(
      `  snapshot: ${size((e) => e)} bytes per entry, of which the state ${size((e) => e.state)} bytes\n`,
    );
  }
}
