// Our own logs: pino, with credentials, tokens and signatures redacted wherever they appear in fields.
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-hub-signature"]',
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-gitlab-token"]',
  'req.headers["x-gitlab-event-streaming-token"]',
  'req.headers["x-jfrog-event-auth"]',
  'req.headers["x-nexus-webhook-signature"]',
  'req.headers.cookie',
  'headers.authorization',
  '*.token',
  '*.password',
  '*.secret',
  '*.apiKey',
  'token',
  'password',
  'secret',
  'apiKey',
];

export type { Logger };

export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      name: 'pipewarden',
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      base: { pid: process.pid },
    },
    options.destination,
  );
}
