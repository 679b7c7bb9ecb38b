// Counters for what the collector accepted and refused, exposed in Prometheus text format at /metrics.

export class Counters {
  readonly #values = new Map<string, number>();
  readonly #help = new Map<string, string>();

  describe(name: string, help: string): void {
    this.#help.set(name, help);
  }

  inc(name: string, labels: Record<string, string> = {}, by = 1): void {
    const key = `${name}${formatLabels(labels)}`;
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }

  /**
   * One series' increment, its key formatted once: for hot paths that count the same series per request
   * (the ingest route), where formatting the labels each time was most of the cost of counting.
   */
  counter(name: string, labels: Record<string, string> = {}): (by?: number) => void {
    const key = `${name}${formatLabels(labels)}`;
    return (by = 1) => {
      this.#values.set(key, (this.#values.get(key) ?? 0) + by);
    };
  }

  get(name: string, labels: Record<string, string> = {}): number {
    return this.#values.get(`${name}${formatLabels(labels)}`) ?? 0;
  }

  /** Prometheus text exposition format, version 0.0.4. */
  render(): string {
    const lines: string[] = [];
    const seen = new Set<string>();
    for (const [key, value] of [...this.#values].sort(([a], [b]) => a.localeCompare(b))) {
      const name = key.split('{')[0] ?? key;
      if (!seen.has(name)) {
        seen.add(name);
        const help = this.#help.get(name);
        if (help) lines.push(`# HELP ${name} ${help}`);
        lines.push(`# TYPE ${name} counter`);
      }
      lines.push(`${key} ${value}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

/** A gauge read at scrape time, in the same exposition format (nothing when there are no samples). */
export function renderGauge(
  name: string,
  help: string,
  samples: Array<{ labels: Record<string, string>; value: number }>,
): string {
  if (samples.length === 0) return '';
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`];
  for (const s of samples) lines.push(`${name}${formatLabels(s.labels)} ${s.value}`);
  return `${lines.join('\n')}\n`;
}

function formatLabels(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `{${entries.map(([k, v]) => `${k}="${esc(v)}"`).join(',')}}`;
}
