// Prints the README's OWASP coverage table from the detectors' declared rows; --write puts it into
// README.md between the markers (a unit test fails when the README's copy is stale).
// Run: node scripts/owasp-coverage.ts [--write]
import { readFileSync, writeFileSync } from 'node:fs';
import { coverage } from '../detectors/coverage.ts';
import { COVERAGE_BEGIN, COVERAGE_END, coverageTable } from '../detectors/owasp.ts';

const table = coverageTable(coverage);
if (process.argv.includes('--write')) {
  const url = new URL('../README.md', import.meta.url);
  const readme = readFileSync(url, 'utf8');
  const start = readme.indexOf(COVERAGE_BEGIN);
  const end = readme.indexOf(COVERAGE_END);
  if (start < 0 || end < start) throw new Error('README.md has no coverage markers');
  writeFileSync(url, `${readme.slice(0, start + COVERAGE_BEGIN.length)}\n${table}\n${readme.slice(end)}`);
} else {
  console.log(table);
}
