// The console in a real browser (Debian's chromium driven by playwright-core) against a running collector:
// sign in, a signed webhook's alert in the inbox, its contributing events, acknowledge, search, export,
// a silence, attacker-controlled text shown as text, and the refusals (viewer, revoked, expired, cross-site).
// Run once per mode (console-embedded.test.ts, console-distributed.test.ts).
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../scripts/build-console.ts';
import type { AlertRecord } from '../../src/alerting/types.ts';
import { createToken, revokeToken } from '../../src/api/tokens.ts';
import { type RunningApp, startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { eventually } from '../support/app.ts';

const SECRET = 'console-e2e-streaming-token';
export const XSS_REPO = 'octo-org/<img src=x onerror=alert(1)>';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      // playwright gives every launch a new empty profile (it refuses --user-data-dir here)
    ],
  });
}

export function consoleInBrowser(
  mode: string,
  modeConfig: () => Record<string, unknown>,
  options: { screenshots?: boolean } = {},
): void {
  describe(`console in a browser (${mode})`, () => {
    let app: RunningApp;
    let browser: Browser;
    let analystToken: string;
    let analystId: string;
    let viewerToken: string;
    let ctx: BrowserContext;
    let page: Page;
    const dialogs: string[] = [];
    const run = Date.now().toString(36);
    let seq = 0;

    beforeAll(async () => {
      await buildConsole();
      const config = parseConfig(
        { ...modeConfig(), log: { level: 'warn' } },
        { PIPEWARDEN_GITLAB_AUDIT_STREAMING_TOKEN: SECRET },
      );
      app = await startApp(config, { port: 0, log: createLogger({ level: 'warn' }) });
      const analyst = await createToken(app.store, 'ana', new Date(), { role: 'analyst' });
      analystToken = analyst.token;
      analystId = analyst.record.id;
      viewerToken = (await createToken(app.store, 'vic', new Date(), { role: 'viewer' })).token;
      browser = await launchChromium();
      ctx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 800 } });
      page = await ctx.newPage();
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
    });

    afterAll(async () => {
      await browser?.close();
      await app?.stop();
    });

    /** One failed GitLab sign-in, streamed and authenticated like GitLab's audit event streaming. */
    async function failedLogin(user: string, ip: string, repository = XSS_REPO): Promise<void> {
      seq++;
      const res = await fetch(`${app.url}/ingest/gitlab-audit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-gitlab-event-streaming-token': SECRET },
        body: JSON.stringify({
          id: `${run}-${seq}`,
          event_type: 'login_failed_with_standard_authentication',
          created_at: new Date(Date.now() - (20 - seq) * 1000).toISOString(),
          author_id: -1,
          target_details: user,
          ip_address: ip,
          entity_path: repository,
          entity_type: 'Project',
          details: {},
        }),
      });
      expect(res.status).toBe(202);
    }

    async function signIn(p: Page, token: string): Promise<void> {
      await p.goto(app.url);
      await p.getByLabel('API token').fill(token);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByRole('heading', { name: 'Alerts' }).waitFor();
    }

    async function shot(p: Page, name: string): Promise<void> {
      if (!options.screenshots) return;
      mkdirSync(new URL('../../docs/', import.meta.url), { recursive: true });
      await p.screenshot({ path: new URL(`../../docs/console-${name}.png`, import.meta.url).pathname });
    }

    it('signs in, shows a brute force in the inbox, its events, and acknowledges it', async () => {
      const user = `alice-${run}`;
      await signIn(page, analystToken);
      for (let i = 0; i < 10; i++) await failedLogin(user, '203.0.113.50');
      // New alerts appear without a reload (the inbox polls).
      const row = page.locator('tr.row', { hasText: user }).first();
      await row.waitFor({ timeout: 45_000 });
      await expect(row.textContent()).resolves.toContain('open');
      // Attacker-controlled text stays text: no <img> element, no dialog.
      await expect(page.locator('main').getByText(XSS_REPO).first().isVisible()).resolves.toBe(true);
      expect(await page.locator('main img').count()).toBe(0);
      await shot(page, 'inbox');

      await row.getByRole('link').click();
      await page.locator('#events').waitFor();
      const alertId = decodeURIComponent(page.url().split('#/alert/')[1]!);
      const alert = (await (
        await page.request.get(`${app.url}/api/alerts/${encodeURIComponent(alertId)}`)
      ).json()) as {
        event_ids: string[];
        event_total?: number;
      };
      // Every contributing event the alert carries is on the page. Once the engine keeps all of them
      // (event_ids bounded at 100, event_total), that is all ten of the brute force.
      const rows = await page.locator('#events tr.event').count();
      expect(rows).toBe(Math.min(alert.event_ids.length, 100));
      expect(rows).toBeGreaterThan(0);
      expect(await page.locator('#events').textContent()).toContain(user);
      await shot(page, 'alert');

      await page.getByRole('button', { name: 'Acknowledge' }).click();
      await page.locator('#triage-state', { hasText: 'acknowledged' }).waitFor();
      expect(await page.locator('#history').textContent()).toContain('ana: acknowledge');
      expect(dialogs).toEqual([]);
    });

    it('searches actor:ALICE* and exports the result as NDJSON', async () => {
      await app.store.refresh();
      await page.goto(`${app.url}/#/search?q=${encodeURIComponent('actor:ALICE*')}`);
      const total = page.locator('#total');
      await total.waitFor();
      const n = Number((await total.textContent())!.split(' ')[0]);
      expect(n).toBeGreaterThanOrEqual(10);
      const actors = await page.locator('tr.event td:nth-child(4)').allTextContents();
      expect(actors.length).toBe(Math.min(n, 100));
      expect(actors.every((a) => a.toLowerCase().startsWith('alice'))).toBe(true);
      await shot(page, 'search');
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'NDJSON' }).click(),
      ]);
      const text = readFileSync((await download.path())!, 'utf8');
      const lines = text.trim().split('\n');
      expect(lines).toHaveLength(n);
      expect(
        lines.every((l) => (JSON.parse(l) as { user: { name: string } }).user.name.startsWith('alice')),
      ).toBe(true);
    });

    it('creates a silence, and the next matching hit is shown as silenced', async () => {
      const user = `mallory-${run}`;
      await page.goto(`${app.url}/#/silences`);
      const form = page.getByRole('form', { name: 'New silence' });
      await form.getByLabel('actor').fill(user);
      await form.getByLabel('detector').fill('failed-logins');
      await form.getByLabel('comment').fill('pen test this afternoon');
      await form.getByRole('button', { name: 'Create silence' }).click();
      await page.locator('td', { hasText: `actor=${user}` }).waitFor();
      await shot(page, 'silences');
      for (let i = 0; i < 10; i++) await failedLogin(user, '198.51.100.9', 'octo-org/tools');
      await page.goto(`${app.url}/#/?status=silenced`);
      const row = page.locator('tr.row', { hasText: user }).first();
      await row.waitFor({ timeout: 45_000 }).catch(async (err) => {
        // Say what the store holds, to tell a missing hit from one that was not silenced.
        const all = (await (await page.request.get(`${app.url}/api/alerts?size=50`)).json()) as {
          items: Array<{ actor?: string; status: string; detector: string }>;
        };
        const seen = all.items.map((a) => `${a.detector}/${a.actor}/${a.status}`).join(', ');
        throw new Error(`${(err as Error).message}; alerts: ${seen}`);
      });
      expect(await row.textContent()).toContain('silenced');
    });

    it('filters the inbox in the store and fetches older alerts by cursor', async () => {
      const detector = `paging-${run}`;
      const base = Date.now() - 86_400_000;
      const at = (i: number) => new Date(base + i * 1000).toISOString();
      for (let i = 0; i < 130; i += 10)
        await Promise.all(
          Array.from({ length: 10 }, (_, k) =>
            app.store.putAlert({
              id: `${detector}-${i + k}`,
              '@timestamp': at(i + k),
              detected_at: at(i + k),
              detector,
              title: `Paging ${i + k}`,
              severity: 'low',
              summary: 's',
              description: 'd',
              runbook: 'r',
              key: 'k',
              event_ids: [],
              source: 'github',
              context: {},
              status: 'delivered',
              deliveries: {},
            } satisfies AlertRecord),
          ),
        );
      await app.store.refresh();
      await page.goto(`${app.url}/#/?detector=${detector}`);
      await page.locator('tr.row').nth(99).waitFor();
      expect(await page.locator('tr.row').count()).toBe(100);
      expect(await page.locator('.counts').textContent()).toContain('130 in all');
      await page.getByRole('button', { name: 'Older alerts' }).click();
      await page.locator('tr.row').nth(129).waitFor();
      expect(await page.locator('tr.row').count()).toBe(130);
      expect(await page.locator('tr.row').last().textContent()).toContain('Paging 0');
      expect(await page.getByRole('button', { name: 'Older alerts' }).isHidden()).toBe(true);
    });

    it('refuses a viewer acknowledging or silencing (403 naming the role)', async () => {
      const vctx = await browser.newContext();
      const vpage = await vctx.newPage();
      await signIn(vpage, viewerToken);
      const answers = await vpage.evaluate(async () => {
        const me = (await (await fetch('/api/session')).json()) as { csrf: string };
        const post = (path: string, body: unknown) =>
          fetch(path, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrf },
            body: JSON.stringify(body),
          }).then(async (r) => [r.status, ((await r.json()) as { message: string }).message] as const);
        return [
          await post('/api/alerts/any/triage', { action: 'acknowledge' }),
          await post('/api/silences', { matchers: { actor: 'x' }, comment: 'no' }),
        ];
      });
      for (const [status, message] of answers) {
        expect(status).toBe(403);
        expect(message).toContain('analyst');
      }
      expect(await vpage.getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);
      await vctx.close();
    });

    it('refuses a cross-site POST (no CSRF token, cookie not sent)', async () => {
      const before = (
        (await (await page.request.get(`${app.url}/api/silences`)).json()) as { items: unknown[] }
      ).items.length;
      // An attacker's page on another site submits a form at the console.
      const evil: Server = createServer((_req, res) => {
        res.setHeader('content-type', 'text/html');
        res.end(
          `<form id="f" method="POST" action="${app.url}/api/silences" enctype="text/plain">` +
            `<input name='{"matchers":{"actor":"x"},"comment":"evil","x":"' value='"}'></form>` +
            '<script>document.getElementById("f").submit()</script>',
        );
      });
      await new Promise<void>((r) => evil.listen(0, 'localhost', r));
      const port = (evil.address() as { port: number }).port;
      const responses: number[] = [];
      page.on('response', (r) => {
        if (r.url().endsWith('/api/silences') && r.request().method() === 'POST') responses.push(r.status());
      });
      await page.goto(`http://localhost:${port}/`);
      await eventually(async () => responses.length > 0, 10_000, 'the cross-site POST');
      expect([401, 403, 415]).toContain(responses[0]);
      evil.close();
      const after = (
        (await (await page.request.get(`${app.url}/api/silences`)).json()) as { items: unknown[] }
      ).items.length;
      expect(after).toBe(before);
    });

    it('ends the session of a revoked token: the next page shows the sign-in form', async () => {
      await revokeToken(app.store, analystId);
      await eventually(
        async () => {
          await page.goto(`${app.url}/#/silences`);
          await page.reload();
          return (await page.getByLabel('API token').count()) > 0;
        },
        15_000,
        'the sign-in form',
      );
    });
  });
}

/** An expired session (idle past server.sessionMinutes) sends the browser back to the sign-in form. */
export function expiredSession(): void {
  describe('console session expiry (browser)', () => {
    it('redirects an expired session to sign-in', async () => {
      await buildConsole();
      const dataDir = mkdtempSync(join(tmpdir(), 'pw-console-exp-'));
      const config = parseConfig(
        { mode: 'embedded', embedded: { dataDir }, server: { sessionMinutes: 0.05 }, log: { level: 'warn' } },
        {},
      );
      const app = await startApp(config, { port: 0, log: createLogger({ level: 'warn' }) });
      const browser = await launchChromium();
      try {
        const { token } = await createToken(app.store, 'short', new Date(), { role: 'viewer' });
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(app.url);
        await page.getByLabel('API token').fill(token);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { name: 'Alerts' }).waitFor();
        const session = (await context.cookies()).find((c) => c.name === 'pw_session')!;
        expect(session.httpOnly).toBe(true);
        expect(session.sameSite).toBe('Strict');
        await new Promise((r) => setTimeout(r, 4_000)); // past the 3 s idle limit
        await page.goto(`${app.url}/#/search`);
        await page.reload();
        await page.getByLabel('API token').waitFor();
        expect(await page.getByRole('heading', { name: 'Alerts' }).count()).toBe(0);
        // The server has ended it too, whatever the browser keeps.
        const res = await fetch(`${app.url}/api/session`, {
          headers: { cookie: `pw_session=${session.value}` },
        });
        expect(res.status).toBe(401);
        expect(((await res.json()) as { message: string }).message).toContain('expired');
      } finally {
        await browser.close();
        await app.stop();
      }
    });
  });
}
