import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secrets.ts';
import { createLogger } from '../../src/log.ts';

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
});
