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

/**
 * Node's process warnings go to our log as JSON instead of bare text on stderr, except one known to be
 * harmless: kafkajs 2.2.4 schedules its request-queue check with a negative delay, which Node 24 turns
 * into 1 ms (the behaviour kafkajs always had) and reports as TimeoutNegativeWarning on every connection
 * (tulios/kafkajs#1751, unfixed upstream). Returns a function that restores Node's own listeners.
 */
export function routeProcessWarnings(log: Logger): () => void {
  const previous = process.listeners('warning');
  process.removeAllListeners('warning');
  const onWarning = (w: Error & { code?: string }) => {
    if (w.name === 'TimeoutNegativeWarning' && /[\\/]kafkajs[\\/]/.test(w.stack ?? '')) return;
    log.warn({ warning: { name: w.name, code: w.code, message: w.message } }, 'Node.js process warning.');
  };
  process.on('warning', onWarning);
  return () => {
    process.off('warning', onWarning);
    for (const l of previous) process.on('warning', l);
  };
}
