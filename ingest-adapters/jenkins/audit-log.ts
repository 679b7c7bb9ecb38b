// Audit Log plugin (jenkinsci/audit-log-plugin, Log4j-Audit) records: RFC 5424 structured data such as
// "[login@18060 userId="alice" timestamp="…"]", in its JSON layout's message or on a syslog line.
import { table } from '../../src/util/table.ts';
import { ANONYMOUS, BUILD, type Classified, CONFIG, IAM, type Parsed } from './record.ts';

// Audit Log plugin (Log4j-Audit) structured data: "[login@18060 userId="alice" timestamp="…"]".
const AUDIT_LOG = /\[(\w+)(?:@\d+)?((?: [\w.-]+="(?:[^"\\]|\\.)*")*)\]/;

const AUDIT_LOG_EVENTS = table<Classified>({
  login: {
    kind: 'login.success',
    category: ['authentication'],
    type: ['start'],
    action: 'login',
    outcome: 'success',
  },
  logout: {
    kind: 'logout',
    category: ['authentication'],
    type: ['end'],
    action: 'logout',
    outcome: 'success',
  },
  createUser: IAM('createUser', ['creation']),
  updatePassword: IAM('updatePassword'),
  createKey: IAM('createKey', ['creation']),
  deleteKey: IAM('deleteKey', ['deletion']),
  buildStart: BUILD('buildStart', ['start']),
  buildFinish: BUILD('buildFinish', ['end']),
  createItem: CONFIG('createItem', ['creation']),
  updateItem: CONFIG('updateItem'),
  deleteItem: CONFIG('deleteItem', ['deletion']),
  copyItem: CONFIG('copyItem', ['creation']),
  createNode: CONFIG('createNode', ['creation']),
  updateNode: CONFIG('updateNode'),
  deleteNode: CONFIG('deleteNode', ['deletion']),
});

/** An Audit Log record to what it says; null when it is none (or an event type we do not keep). */
export function readAuditLog(firstLine: string): Parsed | null {
  const m = AUDIT_LOG.exec(firstLine);
  if (m) {
    if (m) {
      const name = m[1]!;
      const cls = AUDIT_LOG_EVENTS[name];
      if (!cls) return null;
      const attrs: Record<string, string> = {};
      for (const a of m[2]!.matchAll(/ ([\w.-]+)="((?:[^"\\]|\\.)*)"/g))
        attrs[a[1]!] = a[2]!.replace(/\\(.)/g, '$1');
      const user = attrs.userId;
      const at =
        attrs.timestamp && !Number.isNaN(Date.parse(attrs.timestamp))
          ? new Date(attrs.timestamp).toISOString()
          : undefined;
      return {
        ...cls,
        ...(user && !ANONYMOUS.has(user) ? { user } : {}),
        ...(attrs.projectName
          ? { job: `${attrs.projectName}${attrs.buildNumber ? ` #${attrs.buildNumber}` : ''}` }
          : {}),
        ...(attrs.nodeName ? { node: attrs.nodeName } : {}),
        ...(at ? { at } : {}),
        detail: { audit_log: attrs },
      };
    }
  }
  return null;
}
