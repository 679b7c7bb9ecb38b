// Reads the YAML file (or nothing), validates it, and reports every error with its path at once.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { type Config, configSchema } from './schema.ts';
import { withEnv } from './secrets.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length ? issue.path.map(String).join('.') : '(root)';
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${path === '(root)' ? k : `${path}.${k}`}: unknown key`).join('\n  - ');
  }
  return `${path}: ${issue.message}`;
}

/** Validates an already-read object. `env` supplies the secrets named by the file. */
export function parseConfig(
  raw: unknown,
  env: Record<string, string | undefined> = process.env,
  source = 'config',
): Config {
  const result = withEnv(env, () => configSchema.safeParse(raw ?? {}));
  if (!result.success) throw new ConfigError(source, result.error.issues.map(formatIssue));
  return result.data;
}

/** `file` undefined: no file at all, safe defaults (embedded mode on loopback). */
export function loadConfig(
  file: string | undefined,
  env: Record<string, string | undefined> = process.env,
): Config {
  if (!file) return parseConfig({}, env, 'defaults');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(file, [`not valid YAML: ${(err as Error).message}`]);
  }
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError(file, ['(root): must be a mapping of settings']);
  }
  return parseConfig(raw, env, file);
}
