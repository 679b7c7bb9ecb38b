// Operator regexes from config (ticketPattern, deployJobs, ignoreActions, …) run on attacker-controlled
// fields. At config load each is checked with safe-regex2 (fastify's star-height check: a nested
// quantifier such as (a+)+ backtracks exponentially) and refused with a config error naming its path;
// at match time the field is cut to MATCH_MAX characters first, which bounds the polynomial cases
// (.*a.*b) that a star-height check cannot see.
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
