// The `syslog:` config section: the listener for RFC 5424 / RFC 3164 messages over TCP, UDP and TLS.
import { z } from 'zod';

export const syslogConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    // Loopback by default: exposing the listener is a decision, made in the file.
    host: z.string().min(1).default('127.0.0.1'),
    /** TCP (plain, or TLS when `tls` is set); 0 picks a free port; omit to listen on TCP not at all. */
    tcpPort: z.number().int().min(0).max(65535).optional().default(6514),
    /** UDP; omit to not listen on UDP. */
    udpPort: z.number().int().min(0).max(65535).optional(),
    tls: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
    /** Longest accepted message (a longer one is cut on UDP and ends the TCP connection when octet-counted). */
    maxMessageBytes: z
      .number()
      .int()
      .min(256)
      .max(1024 * 1024)
      .default(64 * 1024),
    /** Open TCP connections at most; more are refused. */
    maxConnections: z.number().int().min(1).default(1_000),
    /** Idle TCP connections are closed after this long. */
    idleTimeoutMs: z.number().int().min(1_000).default(300_000),
    /** Events per bus publish, and how long an incomplete batch may wait. */
    batchSize: z.number().int().min(1).max(10_000).default(500),
    flushMs: z.number().int().min(1).max(10_000).default(50),
  })
  .prefault({});

export type SyslogConfig = z.output<typeof syslogConfigSchema>;
