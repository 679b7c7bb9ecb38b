// Secret-scanner benchmark: our StreamScanner vs gitleaks on the same generated logs, in the same run.
// Throughput: median of 5 runs (ours: scan time of the whole file fed in 64 KiB chunks; gitleaks: wall
// time of `gitleaks dir`, median of 3). Recall: planted secrets whose line has a finding. False
// positives: findings on the benign log, and findings on planted-log lines where nothing was planted.
// Usage: node bench/secrets/run.ts [--mb 8] [--no-gitleaks]; updates the "Secret scanner" section of
// BENCHMARKS.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Finding, SecretEngine, StreamScanner } from '../../src/secrets/scanner.ts';
import { generate, type Planted } from './generate.ts';

const args = process.argv.slice(2);
const mb = Number(args[args.indexOf('--mb') + 1] || 8) || 8;
const outDir = '.run/bench-secrets';
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Result {
  name: string;
  mbPerSec: number;
  seconds: number;
  recall: number;
  found: number;
  missedByRule: Map<string, number>;
  fpBenign: number;
  fpPlanted: number;
}

function score(
  name: string,
  findingLines: number[],
  benignLines: number[],
  manifest: Planted[],
  bytes: number,
  secs: number,
): Result {
  const hit = new Set(findingLines);
  const plantedLines = new Set(manifest.map((p) => p.line));
  const missedByRule = new Map<string, number>();
  let found = 0;
  for (const p of manifest) {
    if (hit.has(p.line)) found++;
    else {
      const k = p.encoding ? `${p.ruleId} (${p.encoding})` : p.ruleId;
      missedByRule.set(k, (missedByRule.get(k) ?? 0) + 1);
    }
  }
  // Lines inside a planted multi-line key are not false positives.
  const keyLines = new Set<number>();
  for (const p of manifest)
    if (p.ruleId === 'private-key') for (let i = 0; i < 30; i++) keyLines.add(p.line + i);
  const fpPlanted = [...hit].filter((l) => !plantedLines.has(l) && !keyLines.has(l)).length;
  return {
    name,
    mbPerSec: bytes / 1024 / 1024 / secs,
    seconds: secs,
    recall: found / manifest.length,
    found,
    missedByRule,
    fpBenign: new Set(benignLines).size,
    fpPlanted,
  };
}

function runOurs(file: string, engine: SecretEngine): { findings: Finding[]; secs: number } {
  const text = readFileSync(file, 'utf8');
  const t0 = process.hrtime.bigint();
  const s = new StreamScanner({ fingerprintKey: 'bench-fingerprint-key-0123456789', job: 'bench', engine });
  const findings: Finding[] = [];
  for (let i = 0; i < text.length; i += 65_536) findings.push(...s.push(text.slice(i, i + 65_536)));
  findings.push(...s.end());
  return { findings, secs: Number(process.hrtime.bigint() - t0) / 1e9 };
}

function gitleaksBin(): string | undefined {
  for (const p of [process.env.GITLEAKS, join(homedir(), 'go/bin/gitleaks'), 'gitleaks']) {
    if (p === undefined) continue;
    const r = spawnSync(p, ['version'], { encoding: 'utf8' });
    if (r.status === 0) return p;
  }
  // Not installed: build the pinned peer from the Go module proxy (a benchmark peer only, never a dependency).
  const go = spawnSync('go', ['install', 'github.com/zricethezav/gitleaks/v8@v8.30.1'], { stdio: 'inherit' });
  const built = join(homedir(), 'go/bin/gitleaks');
  return go.status === 0 && spawnSync(built, ['version']).status === 0 ? built : undefined;
}

function runGitleaks(
  bin: string,
  file: string,
): { lines: number[]; secs: number; rules: Map<string, number> } {
  const report = `${file}.gitleaks.json`;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(
    bin,
    [
      'dir',
      file,
      '--no-banner',
      '--exit-code',
      '0',
      '--log-level',
      'error',
      '--report-format',
      'json',
      '--report-path',
      report,
      '--redact',
    ],
    { encoding: 'utf8' },
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`gitleaks failed: ${r.stderr}`);
  const items = JSON.parse(readFileSync(report, 'utf8')) as Array<{ StartLine: number; RuleID: string }>;
  const rules = new Map<string, number>();
  for (const i of items) rules.set(i.RuleID, (rules.get(i.RuleID) ?? 0) + 1);
  return { lines: items.map((i) => i.StartLine), secs, rules };
}

const { planted, benign, sparse, manifest } = generate(outDir, mb);
const plantedBytes = readFileSync(planted).length;
const benignBytes = readFileSync(benign).length;
const sparseBytes = readFileSync(sparse).length;
console.log(
  `planted.log ${(plantedBytes / 1048576).toFixed(1)} MiB, ${manifest.length} planted; benign.log ${(benignBytes / 1048576).toFixed(1)} MiB`,
);

const engine = new SecretEngine();
runOurs(planted, engine); // warm-up (JIT)
const oursTimes: number[] = [];
let oursPlanted: Finding[] = [];
for (let i = 0; i < 5; i++) {
  const r = runOurs(planted, engine);
  oursTimes.push(r.secs);
  oursPlanted = r.findings;
}
const oursBenignRun = runOurs(benign, engine);
const benignTimes = [oursBenignRun.secs];
for (let i = 0; i < 4; i++) benignTimes.push(runOurs(benign, engine).secs);
const ours = score(
  'pipewarden',
  oursPlanted.map((f) => f.line),
  oursBenignRun.findings.map((f) => f.line),
  manifest,
  plantedBytes,
  median(oursTimes),
);
const oursBenignMBs = benignBytes / 1048576 / median(benignTimes);
// The keyword-sparse log: what most of a real CI log looks like.
const sparseRuns = Array.from({ length: 5 }, () => runOurs(sparse, engine));
const oursSparseMBs = sparseBytes / 1048576 / median(sparseRuns.map((x) => x.secs));
const oursSparseFps = new Set(sparseRuns[0]!.findings.map((f) => f.line)).size;

let gl: Result | undefined;
let glBenignMBs = 0;
let glSparseMBs = 0;
let glSparseFps = 0;
let glVersion = '';
let glNote = '';
let glBenignRules = new Map<string, number>();
const bin = args.includes('--no-gitleaks') ? undefined : gitleaksBin();
if (bin === undefined) {
  glNote = 'gitleaks not found (install: go install github.com/zricethezav/gitleaks/v8@latest)';
} else {
  glVersion =
    execFileSync('go', ['version', '-m', bin], { encoding: 'utf8' }).match(/mod\s+\S+\s+(v\S+)/)?.[1] ??
    'unknown';
  const times: number[] = [];
  let last: ReturnType<typeof runGitleaks> | undefined;
  for (let i = 0; i < 3; i++) {
    last = runGitleaks(bin, planted);
    times.push(last.secs);
  }
  const bTimes: number[] = [];
  let lastB: ReturnType<typeof runGitleaks> | undefined;
  for (let i = 0; i < 3; i++) {
    lastB = runGitleaks(bin, benign);
    bTimes.push(lastB.secs);
  }
  gl = score(`gitleaks ${glVersion}`, last!.lines, lastB!.lines, manifest, plantedBytes, median(times));
  glBenignMBs = benignBytes / 1048576 / median(bTimes);
  const sTimes: number[] = [];
  let lastS: ReturnType<typeof runGitleaks> | undefined;
  for (let i = 0; i < 3; i++) {
    lastS = runGitleaks(bin, sparse);
    sTimes.push(lastS.secs);
  }
  glSparseMBs = sparseBytes / 1048576 / median(sTimes);
  glSparseFps = new Set(lastS!.lines).size;
  glBenignRules = lastB!.rules;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
const rows = [ours, ...(gl ? [gl] : [])];
const table = [
  '| scanner | MB/s planted log | MB/s benign log | MB/s sparse log | recall (planted) | FPs benign log | FPs sparse log | FPs planted log (unplanted lines) |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r, i) =>
      `| ${r.name} | ${r.mbPerSec.toFixed(1)} | ${(i === 0 ? oursBenignMBs : glBenignMBs).toFixed(1)} | ${(i === 0 ? oursSparseMBs : glSparseMBs).toFixed(1)} | ${pct(r.recall)} (${r.found}/${manifest.length}) | ${r.fpBenign} | ${i === 0 ? oursSparseFps : glSparseFps} | ${r.fpPlanted} |`,
  ),
];
const ratio = gl
  ? `Throughput ratio ours/gitleaks: ${(ours.mbPerSec / gl.mbPerSec).toFixed(2)}× (planted), ${(oursBenignMBs / glBenignMBs).toFixed(2)}× (benign), ${(oursSparseMBs / glSparseMBs).toFixed(2)}× (sparse).`
  : glNote;
const missed = (r: Result): string =>
  [...r.missedByRule]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ') || 'none';
console.log(table.join('\n'));
console.log(ratio);
console.log(`ours missed: ${missed(ours)}`);
if (gl) {
  console.log(`gitleaks missed: ${missed(gl)}`);
  console.log(
    `gitleaks benign FPs by rule: ${[...glBenignRules].map(([k, n]) => `${k} ×${n}`).join(', ') || 'none'}`,
  );
}
const oursFpRules = new Map<string, number>();
for (const f of oursBenignRun.findings) oursFpRules.set(f.ruleId, (oursFpRules.get(f.ruleId) ?? 0) + 1);
console.log(
  `ours benign FPs by rule: ${[...oursFpRules].map(([k, n]) => `${k} ×${n}`).join(', ') || 'none'}`,
);

// ── BENCHMARKS.md
const section = [
  '## Secret scanner',
  '',
  `\`node bench/secrets/run.ts\` (${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${glVersion ? `gitleaks ${glVersion}` : 'no gitleaks'}; 2 shared cores).`,
  '',
  'Method: `bench/secrets/generate.ts` writes, from a fixed seed, a ' +
    `${(plantedBytes / 1048576).toFixed(1)} MiB GitHub-Actions-style log (timestamps, ANSI colours, \`\\r\` progress bars, npm/pip/maven/go/docker/compiler/test output, commit SHAs, image digests, npm integrity hashes, go.sum hashes, UUIDs, CI-masked env dumps) with ${manifest.length} planted fake secrets ` +
    `(every rule ×4, 20 base64-wrapped, 10 multi-line private keys), a ${(benignBytes / 1048576).toFixed(1)} MiB benign log of the same kind with no secret, and a ${(sparseBytes / 1048576).toFixed(1)} MiB sparse log of plain build output with none of the words secret rules look for (how most of a real CI log reads; keyword prefilters decide speed there). ` +
    'Ours: `StreamScanner` fed 64 KiB chunks, scan time only, median of 5 after a warm-up. gitleaks: `gitleaks dir <file> --report-format json --redact`, process wall time, median of 3. ' +
    'Recall: planted secrets whose line carries a finding. False positives: findings on the benign log; findings on planted-log lines where nothing was planted.',
  '',
  ...table,
  '',
  ratio,
  '',
  `- Missed by ours: ${missed(ours)}.`,
  ...(gl
    ? [
        `- Missed by gitleaks: ${missed(gl)}.`,
        `- gitleaks false positives on the benign log by rule: ${[...glBenignRules].map(([k, n]) => `${k} ×${n}`).join(', ') || 'none'}.`,
      ]
    : []),
  `- Our false positives on the benign log by rule: ${[...oursFpRules].map(([k, n]) => `${k} ×${n}`).join(', ') || 'none'}.`,
  '- The planted set is generated from our own rule samples, so recall of ours is an upper bound on real-world recall; gitleaks misses mostly what it has no rule for.',
  '',
].join('\n');
const mdPath = 'BENCHMARKS.md';
const md = existsSync(mdPath) ? readFileSync(mdPath, 'utf8') : '# Benchmarks\n';
const re = /## Secret scanner\n[\s\S]*?(?=\n## |$)/;
writeFileSync(mdPath, re.test(md) ? md.replace(re, section) : `${md.trimEnd()}\n\n${section}`);
console.log(`Updated ${mdPath}.`);
