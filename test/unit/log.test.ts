import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secrets.ts';
import { createLogger, routeProcessWarnings } from '../../src/log.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, log: createLogger({ level: 'info', destination }) };
}

describe('our own logs', () => {
  it('redact credentials, tokens and signatures wherever they appear as fields', () => {
    const { lines, log } = capture();
    log.info(
      {
        req: {
          headers: {
            authorization: 'Bearer pw_abc_topsecret',
            'x-hub-signature-256': 'sha256=deadbeef',
            'x-gitlab-token': 'glt-secret',
          },
        },
        sink: { token: 'xoxb-secret-token', password: 'hunter2' },
        secret: 'plain-secret',
      },
      'Something happened.',
    );
    const out = lines.join('');
    for (const leaked of [
      'pw_abc_topsecret',
      'deadbeef',
      'glt-secret',
      'xoxb-secret-token',
      'hunter2',
      'plain-secret',
    ]) {
      expect(out).not.toContain(leaked);
    }
    expect(out).toContain('[REDACTED]');
    expect(out).toContain('Something happened.');
  });

  it('never print a Secret, however it is logged', () => {
    const { lines, log } = capture();
    const s = new Secret('the-real-value', '$PIPEWARDEN_X');
    log.info({ config: { nested: s } }, `value is ${s}`);
    expect(lines.join('')).not.toContain('the-real-value');
    expect(lines.join('')).toContain('[secret from $PIPEWARDEN_X]');
  });

  it("logs process warnings as JSON, dropping only kafkajs's known negative-timeout warning", async () => {
    const { lines, log } = capture();
    const restore = routeProcessWarnings(log);
    try {
      const kafkajs = new Error('-1747359280440 is a negative number.\nTimeout duration was set to 1.');
      kafkajs.name = 'TimeoutNegativeWarning';
      kafkajs.stack = `TimeoutNegativeWarning: x\n    at RequestQueue.scheduleCheckPendingRequests (/app/node_modules/kafkajs/src/network/requestQueue/index.js:317:37)`;
      process.emitWarning(kafkajs);
      const ours = new Error('-5 is a negative number.');
      ours.name = 'TimeoutNegativeWarning';
      ours.stack = 'TimeoutNegativeWarning: x\n    at Alerter.retry (/app/src/alerting/alerter.ts:10:1)';
      process.emitWarning(ours);
      process.emitWarning('something deprecated', { type: 'DeprecationWarning', code: 'DEP0999' });
      await new Promise((r) => setImmediate(r));
    } finally {
      restore();
    }
    const logged = lines.map((l) => JSON.parse(l));
    expect(logged.map((l) => l.warning.name)).toEqual(['TimeoutNegativeWarning', 'DeprecationWarning']);
    expect(logged[0].warning.message).toContain('-5 is a negative number');
    expect(logged[1].warning.code).toBe('DEP0999');
    expect(process.listeners('warning').length).toBeGreaterThan(0);
  });
});
