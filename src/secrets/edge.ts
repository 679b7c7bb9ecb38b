// Scrubs build-log text at the edge, before it reaches the bus: the text that travels on is redacted,
// and each secret found becomes a normalised event carrying only its rule, masked preview and keyed
// fingerprint. So no topic, index, alert or log of ours ever holds a secret found in a log.
import { type EventKind, eventId, type PipewardenEvent } from '../event.ts';
import { type Finding, type SecretEngine, StreamScanner } from './scanner.ts';

export interface ScrubberOptions {
  engine: SecretEngine;
  fingerprintKey: string | Uint8Array;
  job: string;
  source: string; // who produced the log: github, gitlab, jenkins, ...
  suppressFingerprints?: Iterable<string>;
  suppressRules?: Iterable<string>;
  now?: () => Date;
}

export interface Scrubbed {
  text: string; // redacted text, ready to publish
  events: PipewardenEvent[]; // one per finding
}

const KIND: EventKind = 'security.alert';

export class LogScrubber {
  readonly #scanner: StreamScanner;
  readonly #opts: ScrubberOptions;
  #findings = 0;

  constructor(opts: ScrubberOptions) {
    this.#opts = opts;
    this.#scanner = new StreamScanner({
      engine: opts.engine,
      fingerprintKey: opts.fingerprintKey,
      job: opts.job,
      redact: true,
      ...(opts.suppressFingerprints ? { suppressFingerprints: opts.suppressFingerprints } : {}),
      ...(opts.suppressRules ? { suppressRules: opts.suppressRules } : {}),
    });
  }

  get findings(): number {
    return this.#findings;
  }

  push(text: string): Scrubbed {
    return this.#out(this.#scanner.push(text));
  }

  end(): Scrubbed {
    return this.#out(this.#scanner.end());
  }

  #out(findings: Finding[]): Scrubbed {
    this.#findings += findings.length;
    const at = this.#opts.now?.() ?? new Date();
    return {
      text: this.#scanner.takeRedacted(),
      events: findings.map((f) => findingToEvent(f, this.#opts.source, at)),
    };
  }
}

export function findingToEvent(f: Finding, source: string, at: Date): PipewardenEvent {
  const secret: NonNullable<PipewardenEvent['pipewarden']['secret']> = {
    rule: f.ruleId,
    title: f.title,
    severity: f.severity,
    tier: f.tier,
    line: f.line,
    column: f.column,
    preview: f.preview,
    fingerprint: f.fingerprint,
  };
  if (f.encoding) secret.encoding = f.encoding;
  return {
    '@timestamp': at.toISOString(),
    message: `${f.title} found in the build log of ${f.job} at line ${f.line}: ${f.preview}`,
    event: {
      // Same job, line and secret: same event, so a re-sent log is stored and alerted once.
      id: eventId('secret', f.job, f.line, f.column, f.fingerprint),
      kind: 'event',
      category: ['intrusion_detection'],
      type: ['indicator'],
      action: 'secret.detected',
      outcome: 'unknown',
      dataset: 'pipewarden.secrets',
      provider: source,
      ingested: at.toISOString(),
    },
    pipewarden: { kind: KIND, source: 'build-logs', job: f.job, secret },
  };
}
