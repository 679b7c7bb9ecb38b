// pipewarden.example.yaml documents every key of the root config schema (the README says so): the keys
// are walked from the schema itself, so a key added to any unit without its line in the example fails.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { configSchema } from '../../src/config/schema.ts';

const EXAMPLE = readFileSync(new URL('../../pipewarden.example.yaml', import.meta.url), 'utf8');

interface Def {
  type: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
  element?: unknown;
  options?: unknown[];
  getter?: () => unknown;
}
const defOf = (s: unknown) => (s as { _zod: { def: Def } })._zod.def;

const walkedLazy = new Set<unknown>();

/** Every key path of the schema; a list's item keys sit under the list's key; a record's keys are the user's. */
function schemaPaths(schema: unknown, path: string[] = [], out = new Map<string, Set<string>>()) {
  const d = defOf(schema);
  switch (d.type) {
    case 'object': {
      const parent = path.join('.');
      for (const [k, v] of Object.entries(d.shape ?? {})) {
        if (!out.has(parent)) out.set(parent, new Set());
        out.get(parent)!.add(k);
        schemaPaths(v, [...path, k], out);
      }
      break;
    }
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      schemaPaths(d.innerType, path, out);
      break;
    case 'pipe':
      schemaPaths(d.in, path, out);
      break;
    case 'array':
      schemaPaths(d.element, path, out);
      break;
    case 'union':
      for (const o of d.options ?? []) schemaPaths(o, path, out);
      break;
    case 'lazy': {
      // a recursive schema (alerting.route.routes) is walked once: its keys repeat at every depth
      const inner = d.getter?.();
      if (walkedLazy.has(inner)) break;
      walkedLazy.add(inner);
      schemaPaths(inner, path, out);
      break;
    }
  }
  return out;
}

/** Key paths the example shows, commented out or not, by indentation; keys of inline `{ a: 1 }` maps too. */
function examplePaths(text: string): Set<string> {
  const paths = new Set<string>();
  const stack: Array<{ indent: number; key: string }> = [];
  for (const line of text.split('\n')) {
    // `key:` or `# key:`, optionally as a list item (`- key:`)
    const m = /^(\s*)(?:#\s?)?(\s*)(-\s+)?([A-Za-z][\w-]*):(.*)$/.exec(line);
    if (!m) continue;
    const indent = m[1]!.length + m[2]!.length;
    while (stack.length && stack.at(-1)!.indent >= indent) stack.pop();
    const path = [...stack.map((s) => s.key), m[4]!];
    paths.add(path.join('.'));
    stack.push({ indent: m[3] ? indent + m[3].length : indent, key: m[4]! });
    for (const f of (m[5] ?? '').matchAll(/[{,]\s*([A-Za-z][\w-]*):/g)) paths.add([...path, f[1]!].join('.'));
  }
  return paths;
}

describe('pipewarden.example.yaml', () => {
  const schema = schemaPaths(configSchema);
  const shown = examplePaths(EXAMPLE);

  it('shows every key of the root config schema (a key every unit of a section has, under one of them)', () => {
    const missing: string[] = [];
    for (const [parent, keys] of schema) {
      for (const key of keys) {
        const path = parent ? `${parent}.${key}` : key;
        if (shown.has(path)) continue;
        // e.g. sources.*.previousSecretEnv, detectors.*.enabled: documented once, for every unit alike
        const [section, ...rest] = parent.split('.');
        const units = rest.length === 1 ? [...(schema.get(section ?? '') ?? [])] : [];
        const everyUnitHasIt =
          units.length > 1 && units.every((u) => schema.get(`${section}.${u}`)?.has(key));
        if (everyUnitHasIt && units.some((u) => shown.has(`${section}.${u}.${key}`))) continue;
        missing.push(path);
      }
    }
    expect(missing, 'keys of the schema missing from pipewarden.example.yaml').toEqual([]);
  });

  it('shows no key the schema does not have', () => {
    const known = new Set(
      [...schema].flatMap(([parent, keys]) => [...keys].map((k) => (parent ? `${parent}.${k}` : k))),
    );
    const isUserKey = (p: string) =>
      /^detectors\.out-of-hours-deploys\.calendars\./.test(p) ||
      /^detectors\.telemetry-loss\.silence\.sources\./.test(p);
    // commented prose such as "# embedded: one process" is not a key line: only active lines, comments cut
    const active = examplePaths(EXAMPLE.replace(/^\s*#.*$/gm, '').replace(/\s+#\s.*$/gm, ''));
    expect([...active].filter((p) => !known.has(p) && !isUserKey(p))).toEqual([]);
  });

  it('parses as it stands (its active keys are a valid config)', () => {
    expect(() => parseConfig(parse(EXAMPLE), {})).not.toThrow();
  });
});
