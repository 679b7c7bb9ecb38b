// Secrets never live in the YAML file: the file names an environment variable (each has a documented
// default), and the value comes from that variable or from the file named by `<VAR>_FILE`.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Holds a secret without ever printing it: JSON, inspection and string conversion show only its origin. */
export class Secret {
  readonly #value: string;
  readonly origin: string;
  constructor(value: string, origin: string) {
    this.#value = value;
    this.origin = origin;
  }
  reveal(): string {
    return this.#value;
  }
  toJSON(): string {
    return `[secret from ${this.origin}]`;
  }
  toString(): string {
    return this.toJSON();
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toJSON();
  }
}

type Env = Record<string, string | undefined>;
let currentEnv: Env = process.env;

/** Runs a synchronous parse with `env` as the environment secrets are read from. */
export function withEnv<T>(env: Env, fn: () => T): T {
  const previous = currentEnv;
  currentEnv = env;
  try {
    return fn();
  } finally {
    currentEnv = previous;
  }
}

export function readSecret(name: string, env: Env = currentEnv): Secret | undefined {
  const direct = env[name];
  if (direct !== undefined && direct !== '') return new Secret(direct, `$${name}`);
  const file = env[`${name}_FILE`];
  if (file !== undefined && file !== '') {
    // A named file that cannot be read is an error, not an absent secret: say which file.
    const value = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    if (value === '') throw new Error(`secret file ${file} (from $${name}_FILE) is empty`);
    return new Secret(value, `$${name}_FILE`);
  }
  return undefined;
}

/**
 * A config field naming the environment variable that holds a secret. Parses to the Secret, or
 * undefined when neither the variable nor its _FILE twin is set. Units decide whether that is an error.
 */
export function secretRef(defaultEnv: string) {
  return z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/, 'must be the NAME of an environment variable (secrets never go in the file)')
    .default(defaultEnv)
    .transform((name, ctx): Secret | undefined => {
      try {
        return readSecret(name);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    });
}
