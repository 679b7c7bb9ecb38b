// Syslog message parsing: RFC 5424 and RFC 3164 (BSD), and bare lines without a PRI.

export interface SyslogMessage {
  format: '5424' | '3164' | 'raw';
  facility?: number;
  severity?: number;
  /** ISO time from the header, when it has one that parses. */
  timestamp?: string;
  host?: string;
  app?: string;
  procId?: string;
  msgId?: string;
  /** RFC 5424 structured data as sent ("[id k=\"v\"]…"), when present. */
  structuredData?: string;
  msg: string;
}

const NIL = '-';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Splits off the next space-separated token. */
function token(s: string, from: number): [string, number] {
  const end = s.indexOf(' ', from);
  return end === -1 ? [s.slice(from), s.length] : [s.slice(from, end), end + 1];
}

/** The end (exclusive) of RFC 5424 STRUCTURED-DATA starting at `from`: one or more [..] with \] escapes. */
function sdEnd(s: string, from: number): number {
  let i = from;
  while (s[i] === '[') {
    i++;
    let inQuotes = false;
    for (; i < s.length; i++) {
      const c = s[i];
      if (c === '\\') i++;
      else if (c === '"') inQuotes = !inQuotes;
      else if (c === ']' && !inQuotes) break;
    }
    if (i >= s.length) return s.length;
    i++;
  }
  return i;
}

const value = (v: string) => (v === NIL || v === '' ? undefined : v);

function isoOrUndefined(t: string): string | undefined {
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** RFC 3164 "Mmm dd hh:mm:ss" has no year or zone: the receive year (UTC), or the year before for a date ahead. */
function bsdTime(mon: string, day: string, time: string, receivedAt: Date): string | undefined {
  const m = MONTHS.indexOf(mon);
  const hms = /^(\d{2}):(\d{2}):(\d{2})$/.exec(time);
  if (m === -1 || !hms) return undefined;
  let year = receivedAt.getUTCFullYear();
  let t = Date.UTC(year, m, Number(day), Number(hms[1]), Number(hms[2]), Number(hms[3]));
  if (t - receivedAt.getTime() > 86_400_000)
    t = Date.UTC(--year, m, Number(day), Number(hms[1]), Number(hms[2]), Number(hms[3]));
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

// RFC 3164 TAG: "app[pid]:" or "app:" (a host name has no colon).
const TAG = /^([^\s:[\]]{1,48})(?:\[([^\]]*)\])?:$/;

export function parseSyslog(input: string, receivedAt: Date): SyslogMessage {
  const text = input.replace(/[\r\n]+$/, '');
  const pri = /^<(\d{1,3})>/.exec(text);
  if (!pri || Number(pri[1]) > 191) return { format: 'raw', msg: text };
  const p = Number(pri[1]);
  const base = { facility: p >> 3, severity: p & 7 };
  let i = pri[0].length;

  // RFC 5424: VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
  if (/^[1-9]\d{0,2} /.test(text.slice(i))) {
    const [, afterVersion] = token(text, i);
    const [ts, a] = token(text, afterVersion);
    const [host, b] = token(text, a);
    const [app, c] = token(text, b);
    const [procId, d] = token(text, c);
    const [msgId, e] = token(text, d);
    let sd: string | undefined;
    let rest = e;
    if (text[e] === '[') {
      const end = sdEnd(text, e);
      sd = text.slice(e, end);
      rest = end;
    } else if (text.startsWith(NIL, e)) rest = e + 1;
    let msg = text.slice(rest).replace(/^ /, '');
    if (msg.startsWith('\uFEFF')) msg = msg.slice(1); // RFC 5424 BOM before a UTF-8 MSG
    const out: SyslogMessage = { format: '5424', ...base, msg };
    const t = ts === NIL ? undefined : isoOrUndefined(ts);
    if (t) out.timestamp = t;
    if (value(host)) out.host = host;
    if (value(app)) out.app = app;
    if (value(procId)) out.procId = procId;
    if (value(msgId)) out.msgId = msgId;
    if (sd) out.structuredData = sd;
    return out;
  }

  // RFC 3164: TIMESTAMP ("Mmm dd hh:mm:ss", day space-padded) SP [HOSTNAME SP] TAG MSG
  const out: SyslogMessage = { format: '3164', ...base, msg: '' };
  let rest = text.slice(i);
  const bsd = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}:\d{2}:\d{2}) /.exec(rest);
  if (bsd) {
    const t = bsdTime(bsd[1]!, bsd[2]!, bsd[3]!, receivedAt);
    if (t) out.timestamp = t;
    rest = rest.slice(bsd[0].length);
  } else {
    // Some senders put an ISO time where the BSD one belongs.
    const iso = /^(\d{4}-\d{2}-\d{2}T\S+) /.exec(rest);
    const t = iso ? isoOrUndefined(iso[1]!) : undefined;
    if (iso && t) {
      out.timestamp = t;
      rest = rest.slice(iso[0].length);
    }
  }
  i = 0;
  const [first, afterFirst] = token(rest, 0);
  const firstTag = TAG.exec(first);
  if (firstTag) {
    out.app = firstTag[1]!;
    if (firstTag[2]) out.procId = firstTag[2];
    out.msg = rest.slice(afterFirst);
    return out;
  }
  const [second, afterSecond] = token(rest, afterFirst);
  const secondTag = TAG.exec(second);
  if (first && secondTag) {
    out.host = first;
    out.app = secondTag[1]!;
    if (secondTag[2]) out.procId = secondTag[2];
    out.msg = rest.slice(afterSecond);
    return out;
  }
  // No recognisable tag: "HOST MSG" when a time was present (RFC 3164 puts a host there), else all MSG.
  if (bsd && first && /^[\w.-]+$/.test(first) && second) {
    out.host = first;
    out.msg = rest.slice(afterFirst);
  } else out.msg = rest;
  return out;
}

/** The text a line format is matched against: MSG, or the structured data when the MSG is empty. */
export function lineOf(m: SyslogMessage): string {
  return m.msg !== '' ? m.msg : (m.structuredData ?? '');
}
