// Prints the README's OWASP coverage table from the rows each detector declares in its `coverage` field;
// --write puts it into README.md between the markers (a unit test fails when the README's copy is stale);
// --summary prints the number of rows per OWASP risk and per source instead.
// Run: node scripts/owasp-coverage.ts [--write | --summary]
import { readFileSync, writeFileSync } from 'node:fs';
import { coverage } from '../detectors/coverage.ts';
import { COVERAGE_BEGIN, COVERAGE_END, coverageTable } from '../detectors/owasp.ts';

const table = coverageTable(coverage);
if (process.argv.includes('--summary')) {
  const perRisk = new Map<string, number>();
  const perSource = new Map<string, number>();
  for (const d of coverage)
    for (const r of d.rows) {
      for (const o of r.owasp) perRisk.set(o, (perRisk.get(o) ?? 0) + 1);
      for (const s of r.sources) perSource.set(s, (perSource.get(s) ?? 0) + 1);
    }
  const rows = coverage.reduce((n, d) => n + d.rows.length, 0);
  console.log(`${rows} rows in ${coverage.length} detectors`);
  console.log('per OWASP risk:', Object.fromEntries(perRisk));
  console.log('per source:', Object.fromEntries([...perSource].sort((a, b) => b[1] - a[1])));
} else if (process.argv.includes('--write')) {
  const url = new URL('../README.md', import.meta.url);
  const readme = readFileSync(url, 'utf8');
  const start = readme.indexOf(COVERAGE_BEGIN);
  const end = readme.indexOf(COVERAGE_END);
  if (start < 0 || end < start) throw new Error('README.md has no coverage markers');
  writeFileSync(url, `${readme.slice(0, start + COVERAGE_BEGIN.length)}\n${table}\n${readme.slice(end)}`);
} else {
  console.log(table);
}
