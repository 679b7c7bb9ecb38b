// What every SMTP sender of ours shares (the email sink, the trail's email anchor): the connection
// settings in config and a transport that cannot be made to read files or fetch URLs.
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { z } from 'zod';
import type { Secret } from '../config/secrets.ts';
import { secretRef } from '../config/secrets.ts';

/** The connection fields of an SMTP section; `host`, `from` and `to` are required once it is enabled. */
export const smtpFields = {
  enabled: z.boolean().default(false),
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).default(587),
  /** Implicit TLS from the first byte (port 465); false means plain SMTP upgraded by STARTTLS. */
  secure: z.boolean().default(false),
  /** Refuse to send unless STARTTLS succeeds; set false only for a relay on localhost. */
  requireTls: z.boolean().default(true),
  usernameEnv: secretRef('PIPEWARDEN_SMTP_USERNAME'),
  passwordEnv: secretRef('PIPEWARDEN_SMTP_PASSWORD'),
  from: z.email().optional(),
  to: z.array(z.email()).min(1).optional(),
};

export interface SmtpSettings {
  host?: string | undefined;
  port: number;
  secure: boolean;
  requireTls: boolean;
  usernameEnv?: Secret | undefined;
  passwordEnv?: Secret | undefined;
}

/** A transport for these settings; `extra` adds options a sender needs beyond the shared ones. */
export function smtpTransport(config: SmtpSettings, extra: SMTPTransport.Options = {}) {
  const user = config.usernameEnv;
  const pass = config.passwordEnv;
  return nodemailer.createTransport({
    host: config.host!,
    port: config.port,
    secure: config.secure,
    requireTLS: config.requireTls,
    ...(user && pass ? { auth: { user: user.reveal(), pass: pass.reveal() } } : {}),
    pool: false,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 10_000,
    dnsTimeout: 10_000,
    // message text comes from events: never let it make the transport read files or fetch URLs
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
    ...extra,
  });
}
