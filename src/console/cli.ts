// The token and console commands: token create|list|revoke, console login. They work on the store directly.
import { createHash, randomBytes } from 'node:crypto';
import { createToken, revokeToken } from '../api/tokens.ts';
import type { Config } from '../config/schema.ts';
import { createStore } from '../factories.ts';
import { TOKEN_ROLES, type TokenRole } from '../store/types.ts';
import { parseExpiry } from '../util/duration.ts';
import { formatTable } from '../util/text-table.ts';

/** The state key of a one-time sign-in code (its hash: the code itself is never stored). */
export function loginCodeKey(code: string): string {
  return `console-login:${createHash('sha256').update(code).digest('hex')}`;
}

export const LOGIN_CODE_TTL_MS = 10 * 60_000;
const LOGIN_TOKEN_TTL_MS = 12 * 3_600_000;

export function publicUrlOf(config: Config): string {
  if (config.server.publicUrl) return config.server.publicUrl.replace(/\/$/, '');
  const host =
    config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.server.port}`;
}

function roleOption(value: string | undefined, fallback: TokenRole, fail: (m: string) => never): TokenRole {
  if (value === undefined) return fallback;
  if (!(TOKEN_ROLES as readonly string[]).includes(value))
    fail(`--role must be one of ${TOKEN_ROLES.join(', ')}, got '${value}'`);
  return value as TokenRole;
}

export async function runTokenCommand(
  command: string,
  values: Record<string, string | undefined>,
  config: Config,
  fail: (message: string) => never,
): Promise<void> {
  const now = new Date();
  const store = createStore(config);
  await store.init();
  try {
    if (command === 'token create') {
      if (!values.name) fail('token create needs --name NAME (who or what the token is for)');
      const role = roleOption(values.role, 'viewer', fail);
      let expiresAt: string | undefined;
      if (values.expires !== undefined) {
        const at = parseExpiry(values.expires, now);
        if (at === undefined)
          fail(`--expires must be a duration (30m, 12h, 90d) or a future ISO time, got '${values.expires}'`);
        expiresAt = at;
      }
      const { token, record } = await createToken(store, values.name, now, {
        role,
        ...(expiresAt ? { expiresAt } : {}),
      });
      process.stderr.write(
        `Created ${role} token ${record.id} for "${record.name}"${expiresAt ? ` (expires ${expiresAt})` : ''}. It is shown once; store it now.\n`,
      );
      process.stdout.write(`${token}\n`);
    } else if (command === 'token list') {
      const rows = (await store.listTokens()).map((t) => [
        t.id,
        t.name,
        t.role ?? 'admin',
        t.createdAt,
        t.lastUsedAt ?? '-',
        t.expiresAt ?? 'never',
        t.revokedAt ? `revoked ${t.revokedAt}` : 'active',
      ]);
      process.stdout.write(
        formatTable(['ID', 'NAME', 'ROLE', 'CREATED', 'LAST USED', 'EXPIRES', 'STATE'], rows),
      );
    } else if (command === 'token revoke') {
      if (!values.id) fail('token revoke needs --id ID (see token list)');
      const revoked = await revokeToken(store, values.id, now);
      if (!revoked) fail(`no token with id '${values.id}' (see token list)`);
      process.stderr.write(
        `Revoked token ${revoked.id} ("${revoked.name}"); it stops working within seconds.\n`,
      );
    } else if (command === 'console login') {
      const role = roleOption(values.role, 'admin', fail);
      const { record } = await createToken(store, values.name ?? 'console-login', now, {
        role,
        expiresAt: new Date(now.getTime() + LOGIN_TOKEN_TTL_MS).toISOString(),
      });
      const code = randomBytes(32).toString('base64url');
      await store.putState(
        loginCodeKey(code),
        JSON.stringify({ tokenId: record.id, expiresAt: now.getTime() + LOGIN_CODE_TTL_MS }),
      );
      process.stderr.write(
        `One-time sign-in link (valid 10 minutes, once) for a ${role} session, token ${record.id}:\n`,
      );
      process.stdout.write(`${publicUrlOf(config)}/login?code=${code}\n`);
    }
  } finally {
    await store.close();
  }
}
