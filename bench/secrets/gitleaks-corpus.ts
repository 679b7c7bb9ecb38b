// The "not ours" corpus, part 1: gitleaks's own true- and false-positive test strings, extracted at bench
// time from the gitleaks Go module (never committed). In gitleaks every rule generator
// (cmd/generate/config/rules/*.go) ends with `utils.Validate(rule, tps, fps)` — the cases are built in
// the function bodies, many with helpers (GenerateSampleSecrets, secrets.NewSecret). We copy the module
// from the Go module cache into .run/, add a recorder in front of `Validate` / `ValidateWithPaths`, and
// run the module's own config generator, which calls every rule function: each case is written out as
// one JSON line `{rule, kind: 'tp' | 'fp', text}`. Secrets built with `secrets.NewSecret` are random
// strings generated from the rule's regex, so the case set changes slightly from run to run.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const GITLEAKS_MODULE = 'github.com/zricethezav/gitleaks/v8';
export const GITLEAKS_VERSION = 'v8.30.1';

export interface GitleaksCase {
  rule: string;
  kind: 'tp' | 'fp';
  text: string;
}

const RECORDER = `package utils

import (
	"encoding/json"
	"os"
)

func pipewardenRecord(id string, tps []string, fps []string) {
	f, err := os.OpenFile(os.Getenv("PIPEWARDEN_CORPUS_OUT"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	e := json.NewEncoder(f)
	for _, t := range tps {
		_ = e.Encode(map[string]string{"rule": id, "kind": "tp", "text": t})
	}
	for _, t := range fps {
		_ = e.Encode(map[string]string{"rule": id, "kind": "fp", "text": t})
	}
}

func pipewardenRecordPaths(id string, tps map[string]string, fps map[string]string) {
	a := []string{}
	b := []string{}
	for _, t := range tps {
		a = append(a, t)
	}
	for _, t := range fps {
		b = append(b, t)
	}
	pipewardenRecord(id, a, b)
}
`;

/** Extract (or reuse) the gitleaks test cases. Throws when Go is missing or the module layout changed. */
export function gitleaksCases(outDir: string): GitleaksCase[] {
  const cache = join(outDir, `gitleaks-cases-${GITLEAKS_VERSION}.jsonl`);
  if (!existsSync(cache)) {
    const info = JSON.parse(
      execFileSync('go', ['mod', 'download', '-json', `${GITLEAKS_MODULE}@${GITLEAKS_VERSION}`], {
        encoding: 'utf8',
      }),
    ) as { Dir: string };
    const src = join(outDir, 'gitleaks-src');
    rmSync(src, { recursive: true, force: true });
    mkdirSync(outDir, { recursive: true });
    cpSync(info.Dir, src, { recursive: true });
    execFileSync('chmod', ['-R', 'u+w', src]);
    const gen = join(src, 'cmd/generate/config');
    const vPath = join(gen, 'utils/validate.go');
    let v = readFileSync(vPath, 'utf8');
    const hook = (loop: string, call: string): void => {
      const anchor = `r := &rule\n\td := createSingleRuleDetector(r)\n\tfor ${loop}`;
      if (!v.includes(anchor)) throw new Error(`gitleaks ${GITLEAKS_VERSION}: Validate changed shape`);
      v = v.replace(anchor, `r := &rule\n\t${call}\n\td := createSingleRuleDetector(r)\n\tfor ${loop}`);
    };
    hook('_, tp', 'pipewardenRecord(r.RuleID, truePositives, falsePositives)');
    hook('path, tp', 'pipewardenRecordPaths(r.RuleID, truePositives, falsePositives)');
    writeFileSync(vPath, v);
    writeFileSync(join(gen, 'utils/zz_pipewarden_record.go'), RECORDER);
    const tmp = `${cache}.tmp`;
    rmSync(tmp, { force: true });
    execFileSync('go', ['run', '.', join(src, 'generated-gitleaks.toml')], {
      cwd: gen,
      env: { ...process.env, PIPEWARDEN_CORPUS_OUT: tmp, GOFLAGS: '-mod=mod' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    cpSync(tmp, cache);
    rmSync(tmp);
    rmSync(src, { recursive: true, force: true });
  }
  return readFileSync(cache, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as GitleaksCase);
}
