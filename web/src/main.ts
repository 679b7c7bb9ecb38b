// The console: a small single-page app over the same JSON API scripts use. Every value shown comes
// from attacker-controlled payloads, so the DOM is built with createElement and textContent only.
import { type Child, h, svgBars } from './dom.ts';

interface Me {
  name: string;
  role: 'viewer' | 'analyst' | 'admin';
  csrf?: string;
}

type Json = Record<string, unknown>;

const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
const RANGES: ReadonlyMap<string, number> = new Map([
  ['15m', 15 * 60_000],
  ['1h', 3_600_000],
  ['24h', 86_400_000],
  ['7d', 7 * 86_400_000],
  ['30d', 30 * 86_400_000],
]);

let me: Me | undefined;
let timer: number | undefined;
const main = document.getElementById('main')!;

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function api<T = Json>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.method && init.method !== 'GET' && me?.csrf) headers['x-csrf-token'] = me.csrf;
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers,
    credentials: 'same-origin',
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const body = (await res.json().catch(() => ({}))) as Json;
  if (res.status === 401) {
    me = undefined;
    // "session expired; sign in again", "session ended: token revoked" are worth showing; "not signed in" is not.
    const why = String(body.message ?? '');
    signIn(/^session/.test(why) ? why : undefined);
    throw new HttpError(401, String(body.message ?? 'not signed in'));
  }
  if (!res.ok) throw new HttpError(res.status, String(body.message ?? res.statusText));
  return body as T;
}

function show(...children: Child[]): void {
  if (timer !== undefined) window.clearInterval(timer);
  timer = undefined;
  main.replaceChildren(
    ...children.flatMap((c) => (c === undefined || c === null ? [] : [c as Node | string])),
  );
}

function fail(err: unknown): void {
  if (err instanceof HttpError && err.status === 401) return;
  main.append(h('p', { class: 'error', role: 'alert' }, (err as Error).message));
}

function sev(s: string): HTMLElement {
  return h('span', { class: `sev sev-${SEVERITIES.includes(s as never) ? s : 'info'}` }, s);
}

function time(iso: unknown): string {
  const d = new Date(String(iso));
  return Number.isNaN(d.getTime()) ? String(iso ?? '') : d.toISOString().replace('T', ' ').slice(0, 19);
}

function hashParams(): URLSearchParams {
  const q = location.hash.indexOf('?');
  return new URLSearchParams(q >= 0 ? location.hash.slice(q + 1) : '');
}

function go(path: string, params: Record<string, string | undefined> = {}): void {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) p.set(k, v);
  const s = p.toString();
  location.hash = `#${path}${s ? `?${s}` : ''}`;
}

function quote(v: string): string {
  return /^[\w.@/-]+$/.test(v) ? v : `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

// ---- sign-in ----

function signIn(reason?: string): void {
  document.getElementById('nav')!.hidden = true;
  const input = h('input', {
    type: 'password',
    name: 'token',
    autocomplete: 'off',
    placeholder: 'pw_…',
    'aria-label': 'API token',
    required: 'true',
  }) as HTMLInputElement;
  const msg = h('p', { class: 'error', role: 'alert' }, reason && reason !== 'not signed in' ? reason : '');
  const form = h(
    'form',
    { class: 'signin' },
    h('h1', {}, 'Sign in to pipewarden'),
    h('label', {}, 'API token ', input),
    h('button', { type: 'submit' }, 'Sign in'),
    msg,
    h('p', { class: 'muted' }, 'Or open the one-time link printed by `pipewarden console login`.'),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const res = await fetch('/api/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: input.value.trim() }),
    });
    const body = (await res.json().catch(() => ({}))) as Json;
    if (!res.ok) {
      msg.textContent = String(body.message ?? 'sign-in failed');
      return;
    }
    me = body as unknown as Me;
    started();
  });
  show(form);
  input.focus();
}

function started(): void {
  document.getElementById('nav')!.hidden = false;
  document.getElementById('who')!.textContent = `${me!.name} (${me!.role})`;
  route();
}

// ---- inbox ----

async function inbox(): Promise<void> {
  const p = hashParams();
  const field = (name: string, label: string, value = '') =>
    h('label', {}, label, h('input', { name, value: p.get(name) ?? value, size: '14' }));
  const select = (name: string, label: string, options: string[]) => {
    const s = h(
      'select',
      { name },
      ...options.map((o) => h('option', { value: o }, o || 'any')),
    ) as HTMLSelectElement;
    s.value = p.get(name) ?? '';
    return h('label', {}, label, s);
  };
  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Filters' },
    select('status', 'Status', ['', 'open', 'acknowledged', 'resolved', 'silenced']),
    select('severity', 'Severity at least', ['', ...SEVERITIES]),
    field('detector', 'Detector'),
    field('source', 'Source'),
    field('repository', 'Repository or org'),
    field('actor', 'Actor'),
    select('range', 'Time', ['', ...RANGES.keys()]),
    h('button', { type: 'submit' }, 'Apply'),
  ) as HTMLFormElement;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v)]));
    go('/', data);
  });
  const counts = h('div', { class: 'counts', 'aria-live': 'polite' });
  const body = h('tbody');
  show(
    h('h1', {}, 'Alerts'),
    form,
    counts,
    h(
      'table',
      { 'aria-label': 'Alerts' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Time', 'Severity', 'Alert', 'Actor', 'Repository', 'Source', 'State'].map((t) =>
            h('th', {}, t),
          ),
        ),
      ),
      body,
    ),
  );
  const query = new URLSearchParams();
  for (const k of ['status', 'severity', 'detector', 'source', 'repository', 'actor']) {
    const v = p.get(k);
    if (v) query.set(k, v);
  }
  const range = RANGES.get(p.get('range') ?? '');
  const more = h(
    'button',
    { type: 'button', class: 'more', hidden: 'true' },
    'Older alerts',
  ) as HTMLButtonElement;
  main.append(more);
  let next: string | undefined;
  const rows = (items: Json[]) =>
    items.map((a) => {
      const triage = (a.triage as Json | undefined)?.state ?? 'open';
      const link = h('a', { href: `#/alert/${encodeURIComponent(String(a.id))}` }, String(a.title));
      const row = h(
        'tr',
        { class: 'row', 'data-id': String(a.id) },
        h('td', {}, time(a['@timestamp'])),
        h('td', {}, sev(String(a.severity))),
        h('td', {}, link, h('div', { class: 'muted' }, String(a.summary ?? ''))),
        h('td', {}, String(a.actor ?? '')),
        h('td', {}, String(a.repository ?? '')),
        h('td', {}, String(a.source ?? '')),
        h('td', {}, a.status === 'silenced' ? 'silenced' : String(triage)),
      );
      row.addEventListener('click', (ev) => {
        if ((ev.target as HTMLElement).tagName !== 'A') link.click();
      });
      return row;
    });
  type InboxPage = { counts: Record<string, number>; total: number; items: Json[]; next?: string };
  const fetchPage = (cursor?: string) => {
    const q = new URLSearchParams(query);
    if (cursor) q.set('cursor', cursor);
    return api<InboxPage>(`/api/console/alerts?${q}`);
  };
  const load = async () => {
    if (range) query.set('from', new Date(Date.now() - range).toISOString());
    const res = await fetchPage();
    counts.replaceChildren(
      ...SEVERITIES.slice()
        .reverse()
        .map((s) => h('span', {}, sev(s), ` ${res.counts[s] ?? 0}`)),
      h('span', { class: 'muted' }, ` ${res.total} in all`),
    );
    body.replaceChildren(...rows(res.items));
    if (res.items.length === 0) body.append(h('tr', {}, h('td', { colspan: '7' }, 'No alerts match.')));
    next = res.next;
    more.hidden = next === undefined;
  };
  // Older pages are fetched by cursor from the store and appended; polling then stops refreshing the first.
  more.addEventListener('click', async () => {
    if (!next) return;
    if (timer !== undefined) window.clearInterval(timer);
    timer = undefined;
    const res = await fetchPage(next).catch((err: unknown) => {
      fail(err);
      return undefined;
    });
    if (!res) return;
    body.append(...rows(res.items));
    next = res.next;
    more.hidden = next === undefined;
  });
  await load();
  // New alerts appear without reloading.
  timer = window.setInterval(() => load().catch(() => undefined), 5000);
}

// ---- alert page ----

function pivots(e: Json, at: string): HTMLElement {
  const links: HTMLElement[] = [];
  const user = (e.user as Json | undefined)?.name;
  const ip = (e.source as Json | undefined)?.ip;
  const repo = (e.pipewarden as Json | undefined)?.repository;
  const t = Date.parse(at);
  const around = (q: string) => ({
    q,
    from: new Date(t - 3_600_000).toISOString(),
    to: new Date(t + 3_600_000).toISOString(),
  });
  const link = (label: string, params: Record<string, string>) => {
    const a = h('a', { href: '#' }, label);
    a.addEventListener('click', (ev) => {
      ev.preventDefault();
      go('/search', params);
    });
    links.push(a);
  };
  if (typeof user === 'string') link('this actor', { q: `actor:${quote(user)}` });
  if (typeof ip === 'string') link('this IP', { q: `ip:${quote(ip)}` });
  if (typeof repo === 'string') link('this repository', { q: `repository:${quote(repo)}` });
  if (Number.isFinite(t)) link('±1 h', around(''));
  return h('span', { class: 'pivots' }, ...links);
}

async function alertPage(id: string): Promise<void> {
  const a = await api<Json>(`/api/alerts/${encodeURIComponent(id)}`);
  const events = (a.events as Json[] | undefined) ?? [];
  const ids = eventIds(a);
  const total = typeof a.event_total === 'number' ? a.event_total : ids.length;
  const triage = (a.triage as Json | undefined) ?? { state: 'open', history: [] };
  const runbook = String(a.runbook ?? '');
  const canAct = me?.role !== 'viewer';
  const actions = h('div', { class: 'actions', 'aria-label': 'Actions' });
  const act = async (body: Json) => {
    try {
      await api(`/api/alerts/${encodeURIComponent(id)}/triage`, { method: 'POST', body });
      await alertPage(id);
    } catch (err) {
      fail(err);
    }
  };
  if (canAct) {
    const ack = h('button', { type: 'button' }, 'Acknowledge');
    ack.addEventListener('click', () => act({ action: 'acknowledge' }));
    const assignee = h('input', {
      'aria-label': 'Assignee',
      placeholder: 'assignee',
      size: '12',
    }) as HTMLInputElement;
    const assign = h('button', { type: 'button' }, 'Assign');
    assign.addEventListener('click', () => act({ action: 'assign', assignee: assignee.value }));
    const reason = h(
      'select',
      { 'aria-label': 'Resolution' },
      ...['true_positive', 'false_positive', 'expected'].map((r) =>
        h('option', { value: r }, r.replace('_', ' ')),
      ),
    ) as HTMLSelectElement;
    const resolve = h('button', { type: 'button' }, 'Resolve');
    resolve.addEventListener('click', () => act({ action: 'resolve', resolution: reason.value }));
    const comment = h('input', {
      'aria-label': 'Comment',
      placeholder: 'comment',
      size: '30',
    }) as HTMLInputElement;
    const send = h('button', { type: 'button' }, 'Comment');
    send.addEventListener('click', () => act({ action: 'comment', text: comment.value }));
    actions.append(ack, assignee, assign, reason, resolve, comment, send);
  }
  show(
    h('p', {}, h('a', { href: '#/' }, '← Inbox')),
    h('h1', {}, sev(String(a.severity)), ' ', String(a.title)),
    h('p', { class: 'summary' }, String(a.summary ?? '')),
    h(
      'p',
      { class: 'muted' },
      `Detector ${String(a.detector)} · ${time(a['@timestamp'])} · delivery ${String(a.status)}`,
      a.silence ? ` (silence ${String(a.silence)})` : '',
      ' · runbook: ',
      /^https?:\/\//.test(runbook) ? h('a', { href: runbook, rel: 'noreferrer' }, runbook) : runbook,
    ),
    h(
      'p',
      { id: 'triage-state' },
      `State: ${String(triage.state)}`,
      triage.assignee ? ` · assigned to ${String(triage.assignee)}` : '',
      triage.resolution ? ` · ${String(triage.resolution)}` : '',
    ),
    actions,
    h('h2', {}, `Events (${events.length} shown of ${total})`),
    h(
      'table',
      { 'aria-label': 'Contributing events', id: 'events' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Time', 'Action', 'Actor', 'IP', 'Repository', 'Message', 'Pivot'].map((t) => h('th', {}, t)),
        ),
      ),
      h(
        'tbody',
        {},
        ...events
          .slice()
          .sort((x, y) => String(x['@timestamp']).localeCompare(String(y['@timestamp'])))
          .map((e) =>
            h(
              'tr',
              { class: 'event' },
              h('td', {}, time(e['@timestamp'])),
              h('td', {}, String((e.event as Json).action ?? '')),
              h('td', {}, String((e.user as Json | undefined)?.name ?? '')),
              h('td', {}, String((e.source as Json | undefined)?.ip ?? '')),
              h('td', {}, String((e.pipewarden as Json).repository ?? '')),
              h('td', {}, String(e.message ?? '')),
              h('td', {}, pivots(e, String(e['@timestamp']))),
            ),
          ),
      ),
    ),
    h('h2', {}, 'History'),
    h(
      'ul',
      { id: 'history' },
      ...((triage.history as Json[] | undefined) ?? []).map((x) =>
        h(
          'li',
          {},
          `${time(x.at)} ${String(x.by)}: ${String(x.action)}`,
          x.assignee ? ` → ${String(x.assignee)}` : '',
          x.resolution ? ` (${String(x.resolution)})` : '',
          x.text ? ` — ${String(x.text)}` : '',
        ),
      ),
    ),
  );
}

/** The alert's contributing event ids, whatever array of ids it carries. */
function eventIds(a: Json): string[] {
  for (const k of ['event_ids', 'contributing_event_ids', 'events_ids']) {
    const v = a[k];
    if (Array.isArray(v)) return v.map(String);
  }
  return [];
}

// ---- search ----

async function search(): Promise<void> {
  const p = hashParams();
  const input = h('input', {
    class: 'query',
    name: 'q',
    value: p.get('q') ?? '',
    'aria-label': 'Query',
    placeholder: 'actor:alice* AND kind:login.failure NOT ip:10.0.0.0/8',
  }) as HTMLInputElement;
  const range = h(
    'select',
    { name: 'range', 'aria-label': 'Time range' },
    h('option', { value: '' }, 'any time'),
    ...[...RANGES.keys()].map((r) => h('option', { value: r }, `last ${r}`)),
  ) as HTMLSelectElement;
  range.value = p.get('range') ?? '';
  const form = h(
    'form',
    { class: 'filters', role: 'search' },
    input,
    range,
    h('button', { type: 'submit' }, 'Search'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go('/search', { q: input.value, range: range.value });
  });
  const params = new URLSearchParams();
  if (p.get('q')) params.set('q', p.get('q')!);
  const r = RANGES.get(p.get('range') ?? '');
  if (r) params.set('from', new Date(Date.now() - r).toISOString());
  for (const k of ['from', 'to']) if (p.get(k)) params.set(k, p.get(k)!);
  const exportLink = (format: string) =>
    h(
      'a',
      { href: `/api/events/export?${params}&format=${format}`, download: `events.${format}` },
      format.toUpperCase(),
    );
  const result = h('div');
  const drawer = h('pre', { class: 'raw', hidden: 'true', 'aria-label': 'Event' });
  const saved = h('p', { id: 'saved', class: 'muted' });
  const save = h('button', { type: 'button' }, 'Save query');
  save.addEventListener('click', async () => {
    const name = window.prompt('Name for this query', input.value.slice(0, 60));
    if (!name) return;
    try {
      await api('/api/saved-queries', { method: 'POST', body: { name, q: input.value, range: range.value } });
      await listSaved();
    } catch (err) {
      fail(err);
    }
  });
  const listSaved = async () => {
    const res = await api<{ items: Array<{ name: string; q: string; range?: string }> }>(
      '/api/saved-queries',
    );
    saved.replaceChildren(
      res.items.length ? 'Saved: ' : '',
      ...res.items.flatMap((x, i) => {
        const a = h('a', { href: '#' }, x.name);
        a.addEventListener('click', (ev) => {
          ev.preventDefault();
          go('/search', { q: x.q, range: x.range });
        });
        return i ? [' · ', a] : [a];
      }),
    );
  };
  form.append(save);
  show(
    h('h1', {}, 'Search'),
    form,
    saved,
    h('p', {}, 'Export: ', exportLink('ndjson'), ' · ', exportLink('csv')),
    result,
    drawer,
  );
  input.focus();
  listSaved().catch(() => undefined);
  try {
    const res = await api<{ total: number; items: Json[]; histogram?: Array<{ t: string; n: number }> }>(
      `/api/search?${params}&size=100`,
    );
    const rows = res.items.map((e) => {
      const row = h(
        'tr',
        { class: 'row event', tabindex: '0' },
        h('td', {}, time(e['@timestamp'])),
        h('td', {}, String((e.pipewarden as Json).source ?? '')),
        h('td', {}, String((e.event as Json).action ?? '')),
        h('td', {}, String((e.user as Json | undefined)?.name ?? '')),
        h('td', {}, String((e.source as Json | undefined)?.ip ?? '')),
        h('td', {}, String((e.pipewarden as Json).repository ?? '')),
        h('td', {}, String(e.message ?? '')),
      );
      const open = () => {
        drawer.hidden = false;
        drawer.textContent = JSON.stringify(e, null, 2);
        drawer.scrollIntoView();
      };
      row.addEventListener('click', open);
      row.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter') open();
      });
      return row;
    });
    result.replaceChildren(
      h('p', { id: 'total' }, `${res.total} events`),
      svgBars((res.histogram ?? []).map((b) => ({ label: `${time(b.t)}: ${b.n}`, n: b.n }))),
      h(
        'table',
        { 'aria-label': 'Events' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['Time', 'Source', 'Action', 'Actor', 'IP', 'Repository', 'Message'].map((t) =>
              h('th', {}, t),
            ),
          ),
        ),
        h('tbody', {}, ...rows),
      ),
    );
  } catch (err) {
    fail(err);
  }
}

// ---- silences ----

const MATCHERS = ['detector', 'rule', 'severity', 'source', 'actor', 'repository', 'key'];

async function silences(): Promise<void> {
  const res = await api<{ items: Json[] }>('/api/silences');
  const canAct = me?.role !== 'viewer';
  const now = new Date().toISOString();
  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'New silence' },
    ...MATCHERS.map((m) => h('label', {}, m, h('input', { name: m, size: '12' }))),
    h(
      'label',
      {},
      'minutes',
      h('input', { name: 'duration', type: 'number', value: '60', min: '1', size: '5' }),
    ),
    h('label', {}, 'comment', h('input', { name: 'comment', required: 'true', size: '24' })),
    h('button', { type: 'submit' }, 'Create silence'),
  ) as HTMLFormElement;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const matchers: Record<string, string> = {};
    for (const m of MATCHERS) {
      const v = String(data.get(m) ?? '').trim();
      if (v) matchers[m] = v;
    }
    try {
      await api('/api/silences', {
        method: 'POST',
        body: {
          matchers,
          durationMinutes: Number(data.get('duration')),
          comment: String(data.get('comment')),
        },
      });
      await silences();
    } catch (err) {
      fail(err);
    }
  });
  show(
    h('h1', {}, 'Silences'),
    canAct ? form : h('p', { class: 'muted' }, 'Viewers cannot create silences.'),
    h(
      'table',
      { 'aria-label': 'Silences' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Matchers', 'From', 'Until', 'By', 'Comment', 'State', ''].map((t) => h('th', {}, t)),
        ),
      ),
      h(
        'tbody',
        {},
        ...res.items.map((s) => {
          const active = !s.expiredBy && String(s.endsAt) > now && String(s.startsAt) <= now;
          const expire = h('button', { type: 'button' }, 'Expire');
          expire.addEventListener('click', async () => {
            try {
              await api(`/api/silences/${encodeURIComponent(String(s.id))}/expire`, { method: 'POST' });
              await silences();
            } catch (err) {
              fail(err);
            }
          });
          return h(
            'tr',
            {},
            h(
              'td',
              {},
              // name=value, name!=value, name=~regex, name!~regex, name~glob (src/alerting/silences.ts)
              (s.matchers as Array<{ name: string; op: string; value: string }>)
                .map((m) => `${m.name}${m.op === 'glob' ? '~' : m.op}${m.value}`)
                .join(' '),
            ),
            h('td', {}, time(s.startsAt)),
            h('td', {}, time(s.endsAt)),
            h('td', {}, String(s.createdBy)),
            h('td', {}, String(s.comment)),
            h('td', {}, active ? 'active' : s.expiredBy ? `expired by ${String(s.expiredBy)}` : 'ended'),
            h('td', {}, active && canAct ? expire : ''),
          );
        }),
      ),
    ),
  );
}

// ---- sources ----

async function sources(): Promise<void> {
  const res = await api<{ items: Json[] }>('/api/console/sources');
  show(
    h('h1', {}, 'Sources'),
    h(
      'table',
      { 'aria-label': 'Sources' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Source', 'Enabled', 'Why', 'Last event', 'Events (1 h)', 'Rejected (1 h)'].map((t) =>
            h('th', {}, t),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        ...res.items.map((s) =>
          h(
            'tr',
            {},
            h('td', {}, String(s.id)),
            h('td', {}, s.enabled ? 'yes' : 'no'),
            h('td', {}, String(s.reason ?? '')),
            h('td', {}, s.lastEvent ? time(s.lastEvent) : 'never'),
            h('td', {}, String(s.eventsLastHour ?? 0)),
            h('td', {}, String(s.rejectedLastHour ?? 0)),
          ),
        ),
      ),
    ),
  );
}

// ---- routing ----

async function route(): Promise<void> {
  if (!me) return;
  const path = location.hash.replace(/^#/, '').split('?')[0] || '/';
  try {
    if (path.startsWith('/alert/')) await alertPage(decodeURIComponent(path.slice('/alert/'.length)));
    else if (path === '/search') await search();
    else if (path === '/silences') await silences();
    else if (path === '/sources') await sources();
    else await inbox();
  } catch (err) {
    fail(err);
  }
}

window.addEventListener('hashchange', () => {
  route();
});
document.addEventListener('keydown', (ev) => {
  // "/" jumps to search, as in most consoles.
  if (
    ev.key === '/' &&
    !(ev.target instanceof HTMLInputElement) &&
    !(ev.target instanceof HTMLTextAreaElement)
  ) {
    ev.preventDefault();
    go('/search', { q: hashParams().get('q') ?? undefined });
  }
});
document.getElementById('signout')!.addEventListener('click', async () => {
  await api('/api/session', { method: 'DELETE' }).catch(() => undefined);
  me = undefined;
  signIn();
});

api<Me>('/api/session')
  .then((m) => {
    me = m;
    started();
  })
  .catch(() => undefined);
