// The README's sources tables, generated from the ingest-adapter registry (each adapter's `docs` rows).
// Each table sits between `<!-- sources-table:<group> -->` and `<!-- sources-table:<group>:end -->`.
import type { IngestAdapter, SourceDoc } from '../../src/ingest/types.ts';

const GROUPS: SourceDoc['group'][] = ['scm', 'build'];

/** A table cell: one line, pipes escaped. */
const cell = (s: string) => s.replace(/\s+/g, ' ').replace(/\|/g, '\\|');

export function sourcesTable(
  adapters: readonly Pick<IngestAdapter, 'docs' | 'secretEnv'>[],
  group: SourceDoc['group'],
): string {
  const rows = adapters.flatMap((a) =>
    a.docs
      .filter((d) => d.group === group)
      .map(
        (d) =>
          `| ${cell(d.source)} | ${cell(d.route)} | ${cell(d.auth)} | \`${d.secretEnv ?? a.secretEnv}\` | done |`,
      ),
  );
  return ['| source | route | authentication | secret | status |', '|---|---|---|---|---|', ...rows].join(
    '\n',
  );
}

/** The README with every sources table replaced by the registry's; throws when a marker is missing. */
export function renderSourcesTables(
  readme: string,
  adapters: readonly Pick<IngestAdapter, 'docs' | 'secretEnv'>[],
): string {
  let out = readme;
  for (const g of GROUPS) {
    const start = `<!-- sources-table:${g} -->\n`;
    const end = `<!-- sources-table:${g}:end -->`;
    const i = out.indexOf(start);
    const j = out.indexOf(end, i);
    if (i === -1 || j === -1) throw new Error(`README.md lacks the markers ${start.trim()} … ${end}`);
    out = `${out.slice(0, i + start.length)}${sourcesTable(adapters, g)}\n${out.slice(j)}`;
  }
  return out;
}
