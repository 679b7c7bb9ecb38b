// Operator regexes from config (ticketPattern, deployJobs, ignoreActions, …) run on attacker-controlled
// fields. They are matched by re2js (a JavaScript port of RE2: time linear in the field, whatever the
// pattern), not by the backtracking RegExp: a star-height check (safe-regex2) sees nested quantifiers
// such as (a+)+, but not the polynomial cases, and `.*a.*b` took 6.7 s on one 1,024-character field
// here (`.*.*.*y`, 35 s on 300). At config load each is checked for RE2 syntax (no backreferences or
// lookaround) and, as before, for nested quantifiers, and refused with a config error naming its path;
// at match time the field is still cut to MATCH_MAX characters first.
import { RE2JS } from 're2js';
import safeRegex from 'safe-regex2';
import { z } from 'zod';

/** Longest field a config regex or glob is run on (characters); the rest is not looked at. */
export const MATCH_MAX = 1024;

/** A field cut to what a config pattern may look at. */
export const capped = (s: string, max = MATCH_MAX): string => (s.length <= max ? s : s.slice(0, max));

/** Why a config regex is refused, or undefined when it is valid and safe. */
export function regexProblem(source: string, flags = ''): string | undefined {
  try {
    new RegExp(source, flags);
  } catch (err) {
    return `must be a valid regular expression (${(err as Error).message})`;
  }
  if (source.length > 500) return 'must be at most 500 characters';
  try {
    compileRe2(source, flags);
  } catch (err) {
    return `must be a regular expression RE2 accepts, which matches in linear time (no backreferences or lookaround): ${(err as Error).message}`;
  }
  if (!safeRegex(source))
    return 'may take exponential time (nested quantifiers such as (a+)+, or over 25 repetitions): rewrite it without a quantifier inside a quantified group';
  return undefined;
}

/** A zod string that is a valid, safe regex; the error names the problem (and zod the path). */
export function safeRegexString(flags = '') {
  return z
    .string()
    .min(1)
    .superRefine((s, ctx) => {
      const problem = regexProblem(s, flags);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}

/** An operator regex compiled for linear-time matching (re2js). */
export interface LinearRegex {
  test(s: string): boolean;
  /** The first match, or undefined. */
  match(s: string): string | undefined;
}

function compileRe2(source: string, flags: string): RE2JS {
  let f = 0;
  for (const flag of flags) {
    if (flag === 'i') f |= RE2JS.CASE_INSENSITIVE;
    else if (flag === 'm') f |= RE2JS.MULTILINE;
    else if (flag === 's') f |= RE2JS.DOTALL;
    else throw new Error(`flag ${flag} is not supported`);
  }
  return RE2JS.compile(source, f);
}

// Compiled once per pattern (patterns come from config: few, and fixed while the process runs).
const compiled = new Map<string, LinearRegex>();
const COMPILED_MAX = 1_000;

/** `source` (checked by `regexProblem` at config load) as a linear-time matcher (callers still cut fields). */
export function linearRegex(source: string, flags = ''): LinearRegex {
  const key = `${flags}/${source}`;
  let re = compiled.get(key);
  if (!re) {
    const r = compileRe2(source, flags);
    re = {
      test: (s) => r.matcher(s).find(),
      match: (s) => {
        const m = r.matcher(s);
        return m.find() ? (m.group() ?? undefined) : undefined;
      },
    };
    if (compiled.size >= COMPILED_MAX) compiled.clear();
    compiled.set(key, re);
  }
  return re;
}
