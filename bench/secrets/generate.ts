// Writes two realistic CI logs (deterministic seed): `planted.log` with secrets of every rule type planted
// at random lines (recorded in `planted.manifest.json`: line and rule, never the value), and `benign.log`
// with ordinary build output only (commit SHAs, digests, integrity hashes, UUIDs, progress bars, ANSI).
// Usage: node bench/secrets/generate.ts [outDir] [megabytes]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RULES } from '../../src/secrets/rules.ts';
import {
  A62,
  A64,
  HEX,
  LOWER,
  pemBody,
  type Rng,
  rng,
  SAMPLES,
  str,
} from '../../test/support/secret-samples.ts';

export interface Planted {
  line: number;
  ruleId: string;
  encoding?: string;
}

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: Rng, a: number, b: number): number => a + Math.floor(r() * (b - a + 1));
const uuid = (r: Rng): string =>
  `${str(r, HEX, 8)}-${str(r, HEX, 4)}-4${str(r, HEX, 3)}-8${str(r, HEX, 3)}-${str(r, HEX, 12)}`;
const pkgs = [
  'lodash',
  'react',
  'typescript',
  'eslint',
  'webpack',
  'express',
  '@types/node',
  'jest',
  'vite',
  'zod',
  'axios',
];
const pyPkgs = [
  'requests',
  'numpy',
  'pandas',
  'pytest',
  'boto3',
  'urllib3',
  'certifi',
  'idna',
  'charset-normalizer',
];
const words = [
  'token',
  'refresh',
  'auth',
  'cache',
  'parser',
  'config',
  'login',
  'session',
  'key rotation',
  'password reset',
];
const ver = (r: Rng): string => `${int(r, 0, 9)}.${int(r, 0, 30)}.${int(r, 0, 20)}`;
const C = (code: number, s: string): string => `\x1b[${code}m${s}\x1b[0m`;

/** One line of ordinary build output; includes the shapes that fool naive scanners. */
function noise(r: Rng): string {
  switch (int(r, 0, 27)) {
    case 0:
      return `npm WARN deprecated ${pick(r, pkgs)}@${ver(r)}: This module is not supported, and leaks memory.`;
    case 1:
      return `      "integrity": "sha512-${str(r, A64, 86)}==",`;
    case 2:
      return `      "resolved": "https://registry.npmjs.org/${pick(r, pkgs)}/-/${pick(r, pkgs)}-${ver(r)}.tgz",`;
    case 3:
      return `commit ${str(r, HEX, 40)}`;
    case 4:
      return `HEAD is now at ${str(r, HEX, 7)} Fix ${pick(r, words)} handling in ${pick(r, words)} module`;
    case 5:
      return `#${int(r, 1, 20)} [${int(r, 1, 9)}/9] RUN npm ci --no-audit --prefer-offline`;
    case 6:
      return `${str(r, HEX, 12)}: Pull complete`;
    case 7:
      return `Digest: sha256:${str(r, HEX, 64)}`;
    case 8:
      return `Status: Downloaded newer image for node:20-alpine@sha256:${str(r, HEX, 64)}`;
    case 9:
      return `[INFO] Downloading from central: https://repo.maven.apache.org/maven2/org/apache/${pick(r, ['commons', 'maven', 'logging'])}/${pick(r, pyPkgs)}/${ver(r)}/${pick(r, pyPkgs)}-${ver(r)}.pom`;
    case 10:
      return `[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/org/slf4j/slf4j-api/${ver(r)}/slf4j-api-${ver(r)}.jar (${int(r, 1, 900)} kB at ${int(r, 1, 9)}.${int(r, 0, 9)} MB/s)`;
    case 11:
      return `src/main/java/com/acme/${pick(r, ['auth', 'token', 'api'])}/TokenService.java:[${int(r, 1, 400)},${int(r, 1, 80)}] warning: [deprecation] getPassword() in Credentials has been deprecated`;
    case 12:
      return `gcc -O2 -Wall -Wextra -I/usr/include/openssl -c src/crypto/${pick(r, ['hmac', 'aes', 'sha256'])}.c -o build/${pick(r, ['hmac', 'aes'])}.o`;
    case 13:
      return `${C(32, '  ✓')} ${pick(r, words)} ${pick(r, ['is rejected when expired', 'refreshes before expiry', 'rotates the signing key', 'hashes the password'])} (${int(r, 1, 300)} ms)`;
    case 14:
      return `tests/test_${pick(r, pyPkgs)}.py::test_${pick(r, ['login', 'token_refresh', 'secret_rotation', 'password_hash'])} ${C(32, 'PASSED')} [${int(r, 1, 99)}%]`;
    case 15: {
      const p = pick(r, pyPkgs);
      const steps = Array.from(
        { length: 4 },
        (_, i) =>
          `   ${'━'.repeat(i * 10)}${' '.repeat(40 - i * 10)} ${(i * 1.7).toFixed(1)}/6.8 MB ${int(r, 1, 30)}.${int(r, 0, 9)} MB/s eta 0:00:0${3 - i}`,
      );
      return `Downloading ${p}-${ver(r)}-py3-none-any.whl (6.8 MB)\r${steps.join('\r')}`;
    }
    case 16:
      return `Request ID: ${uuid(r)}  trace_id=${str(r, HEX, 32)} span_id=${str(r, HEX, 16)}`;
    case 17:
      return `Cache restored from key: node-cache-Linux-x64-npm-${str(r, HEX, 64)}`;
    case 18:
      return `go: downloading github.com/${pick(r, ['spf13', 'stretchr', 'google'])}/${pick(r, ['cobra', 'testify', 'uuid'])} v${ver(r)}`;
    case 19:
      return `github.com/${pick(r, ['spf13', 'google'])}/${pick(r, ['cobra', 'uuid'])} v${ver(r)} h1:${str(r, A64, 43)}=`;
    case 20:
      return `  GITHUB_TOKEN: ***\n  NPM_TOKEN: ***\n  AWS_SECRET_ACCESS_KEY: ***`;
    case 21:
      return `##[group]Run actions/checkout@${str(r, HEX, 40)}`;
    case 22:
      return `deployment.apps/${pick(r, ['api', 'web', 'worker'])} configured; image=registry.acme.io/app@sha256:${str(r, HEX, 64)}`;
    case 23:
      return `  token_endpoint: https://login.acme.io/oauth2/v2.0/token\n  password_policy: min_length=12 require_digit=true`;
    case 24:
      return `added ${int(r, 100, 2000)} packages, and audited ${int(r, 100, 2000)} packages in ${int(r, 2, 90)}s`;
    case 25:
      return `src/${pick(r, ['auth', 'api'])}/${pick(r, ['token', 'secret'])}.ts(${int(r, 1, 300)},${int(r, 1, 60)}): error TS2345: Argument of type 'string | undefined' is not assignable to parameter of type 'string'.`;
    case 26:
      return `Uploading artifact ${str(r, LOWER, 8)}.tar.gz: ${int(r, 1, 100)}% (${int(r, 1, 900)} MB) run_id=${int(r, 1e9, 9e9)} key=${str(r, A62, 6)}`;
    default:
      return `Step ${int(r, 1, 30)}/${int(r, 30, 40)} : ${pick(r, ['COPY . .', 'RUN make build', 'ENV NODE_ENV=production', 'EXPOSE 8080'])}`;
  }
}

/**
 * One line of plain build output with none of the words secret rules look for (no token, key, password,
 * hash or digest): the common case of a real CI log, where a scanner's keyword prefilter decides speed.
 */
function plain(r: Rng): string {
  switch (int(r, 0, 7)) {
    case 0:
      return `npm WARN deprecated ${pick(r, pkgs)}@${ver(r)}: This module is not supported, and leaks memory.`;
    case 1:
      return `#${int(r, 1, 20)} [${int(r, 1, 9)}/9] RUN npm ci --no-audit --prefer-offline`;
    case 2:
      return `[INFO] Compiling ${int(r, 2, 400)} source files to /build/target/classes`;
    case 3:
      return `${C(32, '  ✓')} ${pick(r, words)} ${pick(r, ['renders the list', 'sorts by date', 'handles an empty page'])} (${int(r, 1, 300)} ms)`;
    case 4:
      return `go: downloading github.com/${pick(r, ['spf13', 'stretchr'])}/${pick(r, ['cobra', 'testify'])} v${ver(r)}`;
    case 5:
      return `added ${int(r, 100, 2000)} packages, and audited ${int(r, 100, 2000)} packages in ${int(r, 2, 90)}s`;
    case 6:
      return `Step ${int(r, 1, 30)}/${int(r, 30, 40)} : ${pick(r, ['COPY . .', 'RUN make build', 'EXPOSE 8080'])}`;
    default:
      return `ok  \tgithub.com/acme/${pick(r, words)}/${pick(r, words)}\t${int(r, 0, 9)}.${int(r, 100, 999)}s`;
  }
}

const stamp = (i: number): string =>
  `2024-05-01T10:${String(Math.floor(i / 6000) % 60).padStart(2, '0')}:${String(Math.floor(i / 100) % 60).padStart(2, '0')}.${String(i % 10_000_000).padStart(7, '0')}Z `;

function build(
  r: Rng,
  targetBytes: number,
  plant: boolean,
  line: (r: Rng) => string = noise,
): { text: string; planted: Planted[] } {
  const out: string[] = [];
  const planted: Planted[] = [];
  let bytes = 0;
  let lineNo = 0;
  const push = (s: string): void => {
    for (const l of s.split('\n')) {
      lineNo++;
      const line = stamp(lineNo) + l;
      out.push(line);
      bytes += line.length + 1;
    }
  };
  // Plant roughly evenly: every rule 4 times, plus encoded and multi-line variants.
  const plan: Array<() => void> = [];
  if (plant) {
    for (const rule of RULES) {
      for (let k = 0; k < 4; k++) {
        plan.push(() => {
          const s = SAMPLES[rule.id]!.positive(r);
          planted.push({ line: lineNo + 1, ruleId: rule.id });
          push(s.line);
        });
      }
    }
    for (let k = 0; k < 20; k++) {
      plan.push(() => {
        const rule = pick(
          r,
          RULES.filter((x) => x.tier === 'high' && !x.id.startsWith('auth-header')),
        );
        const s = SAMPLES[rule.id]!.positive(r);
        planted.push({ line: lineNo + 1, ruleId: rule.id, encoding: 'base64' });
        push(`  config.json: ${Buffer.from(`${s.line}\n`).toString('base64')}`);
      });
    }
    for (let k = 0; k < 10; k++) {
      plan.push(() => {
        const kind = pick(r, ['RSA PRIVATE KEY', 'OPENSSH PRIVATE KEY', 'EC PRIVATE KEY', 'PRIVATE KEY']);
        planted.push({ line: lineNo + 2, ruleId: 'private-key' });
        push(
          [
            '+ cat deploy_key',
            `-----BEGIN ${kind}-----`,
            ...pemBody(r, int(r, 6, 25)),
            `-----END ${kind}-----`,
          ].join('\n'),
        );
      });
    }
    // Shuffle (Fisher–Yates) so that types interleave.
    for (let i = plan.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [plan[i], plan[j]] = [plan[j]!, plan[i]!];
    }
  }
  const every = plan.length > 0 ? Math.floor(targetBytes / 110 / (plan.length + 1)) : Infinity;
  let next = 0;
  let sinceLast = 0;
  while (bytes < targetBytes || next < plan.length) {
    if (next < plan.length && sinceLast >= every) {
      plan[next++]!();
      sinceLast = 0;
    } else {
      push(line(r));
      sinceLast++;
    }
  }
  void A62;
  return { text: `${out.join('\n')}\n`, planted };
}

export function generate(
  outDir: string,
  megabytes = 8,
): { planted: string; benign: string; sparse: string; manifest: Planted[] } {
  mkdirSync(outDir, { recursive: true });
  const p = build(rng(20240501), megabytes * 1024 * 1024, true);
  const b = build(rng(19700101), megabytes * 1024 * 1024, false);
  const q = build(rng(20000229), megabytes * 1024 * 1024, false, plain);
  const planted = join(outDir, 'planted.log');
  const benign = join(outDir, 'benign.log');
  const sparse = join(outDir, 'sparse.log');
  writeFileSync(planted, p.text);
  writeFileSync(benign, b.text);
  writeFileSync(sparse, q.text);
  writeFileSync(join(outDir, 'planted.manifest.json'), JSON.stringify(p.planted, null, 1));
  return { planted, benign, sparse, manifest: p.planted };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2] ?? '.run/bench-secrets';
  const mb = Number(process.argv[3] ?? 8);
  const g = generate(dir, mb);
  console.log(`Wrote ${g.planted} (${g.manifest.length} planted secrets) and ${g.benign}.`);
}
