// A real SMTP peer for tests (the smtp-server package, plain SMTP on loopback, STARTTLS off), which parses
// what it receives with mailparser and can refuse the next messages with a chosen SMTP reply code.

import type { AddressInfo } from 'node:net';
import { type AddressObject, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** Header From address. */
  from: string;
  /** Header To addresses. */
  to: string[];
  subject: string;
  text: string;
  html: string;
  raw: string;
  envelope: { from: string; to: string[] };
  /** The user that authenticated for this message, when it did. */
  user?: string;
}

export interface SmtpServerOptions {
  /** When given, AUTH is required and only these credentials pass (others get 535). */
  auth?: { username: string; password: string };
}

export interface TestSmtpServer {
  host: string;
  port: number;
  messages: ReceivedMail[];
  /**
   * The next `n` messages are refused with `code` (e.g. 550, 451): at the end of DATA by default, or at
   * MAIL FROM. Each refused message counts once.
   */
  failNext(n: number, code: number, at?: 'mail' | 'data'): void;
  /** Resolves with the messages once at least `count` have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

const REPLY_TEXT: Record<number, string> = {
  421: 'Service not available, closing transmission channel',
  450: 'Mailbox unavailable, try again later',
  451: 'Local error in processing, try again later',
  452: 'Insufficient system storage',
  535: 'Authentication credentials invalid',
  550: 'Mailbox unavailable',
  552: 'Exceeded storage allocation',
  554: 'Transaction failed',
};

function smtpError(code: number): Error & { responseCode: number } {
  return Object.assign(new Error(REPLY_TEXT[code] ?? `Refused by the test server (${code})`), {
    responseCode: code,
  });
}

function addresses(value: AddressObject | AddressObject[] | undefined): string[] {
  const list = Array.isArray(value) ? value : value ? [value] : [];
  return list.flatMap((a) => a.value.map((v) => v.address ?? '')).filter((a) => a !== '');
}

export async function startSmtpServer(options: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const messages: ReceivedMail[] = [];
  const failures: Array<{ code: number; at: 'mail' | 'data' }> = [];
  const waiters = new Set<() => void>();

  const takeFailure = (at: 'mail' | 'data') => (failures[0]?.at === at ? failures.shift() : undefined);

  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: !options.auth,
    allowInsecureAuth: true, // loopback only, no TLS: let a client that has credentials use them
    logger: false,
    size: 10 * 1024 * 1024,
    closeTimeout: 1000,
    onAuth(auth, _session, callback) {
      const expected = options.auth;
      if (expected && (auth.username !== expected.username || auth.password !== expected.password)) {
        callback(smtpError(535));
        return;
      }
      callback(null, { user: auth.username ?? 'anonymous' });
    },
    onMailFrom(_address, _session, callback) {
      const failure = takeFailure('mail');
      callback(failure ? smtpError(failure.code) : null);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        const failure = takeFailure('data');
        if (failure) {
          callback(smtpError(failure.code));
          return;
        }
        if (stream.sizeExceeded) {
          callback(smtpError(552));
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw).then(
          (parsed) => {
            const envelopeFrom = session.envelope.mailFrom;
            messages.push({
              from: addresses(parsed.from)[0] ?? '',
              to: addresses(parsed.to),
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
              raw,
              envelope: {
                from: envelopeFrom ? envelopeFrom.address : '',
                to: session.envelope.rcptTo.map((r) => r.address),
              },
              ...(session.user ? { user: String(session.user) } : {}),
            });
            for (const wake of waiters) wake();
            callback(null, 'Message accepted');
          },
          (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
        );
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // A client dropping its connection must not take the test process down.
  server.on('error', () => {});
  const { port } = server.server.address() as AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    messages,
    failNext(n, code, at = 'data') {
      for (let i = 0; i < n; i++) failures.push({ code, at });
    },
    waitFor(count, timeoutMs = 5000) {
      if (messages.length >= count) return Promise.resolve(messages);
      return new Promise((resolve, reject) => {
        const wake = () => {
          if (messages.length < count) return;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(messages);
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`waited ${timeoutMs} ms for ${count} mail(s), got ${messages.length}`));
        }, timeoutMs);
        waiters.add(wake);
      });
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
