// The anchors that keep checkpoints outside the store: each is registered and configured from its own
// block; the webhook signs what it sends; the email reaches a real SMTP server with lines that
// `trail verify --anchor` reads back whole; the file appends.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { emailAnchor } from '../../src/trail/anchors/email.ts';
import { fileAnchor } from '../../src/trail/anchors/file.ts';
import { anchors } from '../../src/trail/anchors/index.ts';
import { readAnchor } from '../../src/trail/anchors/read.ts';
import { webhookAnchor, webhookSignature } from '../../src/trail/anchors/webhook.ts';
import { checkpointSigned, signCheckpoint } from '../../src/trail/checkpoint.ts';
import { keyId } from '../../src/trail/key.ts';
import { createAnchors } from '../../src/trail/service.ts';
import { type Checkpoint, GENESIS } from '../../src/trail/types.ts';
import { startSmtpServer } from '../support/smtp.ts';
import { newKey } from '../support/trail.ts';

const log = createLogger({ level: 'silent' });
const key = newKey();
const cp = (n: number): Checkpoint =>
  signCheckpoint(
    {
      v: 1,
      partition: 0,
      n,
      fromSeq: n * 10 - 9,
      toSeq: n * 10,
      count: 10,
      fromOffset: n * 10 - 9,
      toOffset: n * 10,
      fromTime: '2026-03-04T10:00:00.000Z',
      toTime: '2026-03-04T10:05:00.000Z',
      head: 'a'.repeat(64),
      prev: GENESIS,
      time: '2026-03-04T10:05:01.000Z',
      keyId: keyId(key),
    },
    key,
  );

describe('trail anchors', () => {
  it('are registered once each and configured from trail.anchors.<id>', () => {
    const ids = anchors.map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
    const config = parseConfig({ trail: {} }, {});
    expect(Object.keys(config.trail.anchors).sort()).toEqual([...ids].sort());
    const dir = mkdtempSync(join(tmpdir(), 'pw-anchor-'));
    const on = parseConfig(
      { trail: { anchors: { file: { enabled: true, path: join(dir, 'a.jsonl') } } } },
      {},
    );
    expect(createAnchors(on, log).map((a) => a.name)).toEqual(['file']);
    expect(() =>
      parseConfig({ trail: { anchors: { webhook: { enabled: true, url: 'https://x.example/' } } } }, {}),
    ).toThrow(/trail\.anchors\.webhook\.secretEnv: the webhook anchor signs every request/);
  });

  it('file: appends one line per checkpoint and reads back; a signature survives the round trip', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-anchor-'));
    const path = join(dir, 'anchor.jsonl');
    const a = fileAnchor.create({ enabled: true, path }, log);
    await a.publish([cp(1)]);
    await a.publish([cp(2)]);
    writeFileSync(join(dir, 'notes.txt'), 'not a checkpoint\n{"v":2}\n');
    const back = await readAnchor(dir);
    expect(back.map((c) => c.n).sort()).toEqual([1, 2]);
    expect(back.every((c) => checkpointSigned(c, key))).toBe(true);
  });

  it('webhook: POSTs the lines with an HMAC over timestamp and body; a refusal is an error', async () => {
    const got: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
    let status = 204;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        got.push({ headers: req.headers, body });
        res.statusCode = status;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/anchor`;
    const config = parseConfig(
      { trail: { anchors: { webhook: { enabled: true, url } } } },
      { PIPEWARDEN_TRAIL_WEBHOOK_SECRET: 'hook-secret' },
    );
    const a = webhookAnchor.create(config.trail.anchors.webhook, log);
    try {
      await a.publish([cp(1)]);
      const { headers, body } = got[0]!;
      expect(JSON.parse(body.trim())).toEqual(cp(1));
      const t = Number(/^t=(\d+),/.exec(String(headers['x-pipewarden-signature']))![1]);
      expect(headers['x-pipewarden-signature']).toBe(webhookSignature('hook-secret', t, body));
      status = 500;
      await expect(a.publish([cp(2)])).rejects.toThrow('webhook anchor answered 500');
    } finally {
      server.close();
    }
  });

  it('email: one short message per period to a real SMTP server; its lines read back whole', async () => {
    const smtp = await startSmtpServer();
    const a = emailAnchor.create(
      {
        enabled: true,
        host: smtp.host,
        port: smtp.port,
        secure: false,
        requireTls: false,
        from: 'pipewarden@example.com',
        to: ['trail@example.com'],
        usernameEnv: undefined,
        passwordEnv: undefined,
      },
      log,
    );
    try {
      await a.publish([cp(1), cp(2)]);
      const [mail] = await smtp.waitFor(1);
      expect(mail!.subject).toBe('pipewarden trail checkpoint p0#1, p0#2');
      const dir = mkdtempSync(join(tmpdir(), 'pw-anchor-'));
      writeFileSync(join(dir, 'mail.txt'), mail!.text);
      const back = await readAnchor(join(dir, 'mail.txt'));
      expect(back.map((c) => c.n)).toEqual([1, 2]);
      expect(back.every((c) => checkpointSigned(c, key))).toBe(true);
    } finally {
      await a.close?.();
      await smtp.close();
    }
  });
});
