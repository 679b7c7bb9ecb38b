// Globs from config run on attacker-controlled fields (environment, repository names). A glob compiled
// to a RegExp backtracks: `**-prod-**-eu` became /^.*-prod-.*-eu$/ and one 190 KB field froze the process
// for 9 s. This matcher simulates the glob as a small NFA, one step per input character over at most
// (pattern length + 1) states: time is linear in the input by construction, whatever the pattern.

/** `*` any run within one path segment (no '/'), `**` any run across segments, `?` one character but '/'. */
type Token = { k: 'lit'; c: string } | { k: 'one' } | { k: 'seg' } | { k: 'all' };

export interface GlobMatcher {
  readonly pattern: string;
  test(value: string): boolean;
}

/** Work counter for tests: state visits of the last `test` call of this module (any matcher). */
export const globWork = { steps: 0 };

export function compileGlob(pattern: string, opts: { ignoreCase?: boolean } = {}): GlobMatcher {
  const fold = opts.ignoreCase ? (s: string) => s.toLowerCase() : (s: string) => s;
  const tokens: Token[] = [];
  const p = fold(pattern);
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*' && p[i + 1] === '*') {
      i++;
      // `**` after a `*` or `**` adds nothing: collapse, so runs of stars never multiply the states
      if (tokens.at(-1)?.k === 'seg') tokens[tokens.length - 1] = { k: 'all' };
      else if (tokens.at(-1)?.k !== 'all') tokens.push({ k: 'all' });
    } else if (c === '*') {
      if (tokens.at(-1)?.k !== 'seg' && tokens.at(-1)?.k !== 'all') tokens.push({ k: 'seg' });
    } else if (c === '?') tokens.push({ k: 'one' });
    else tokens.push({ k: 'lit', c });
  }
  const n = tokens.length;
  const star = (i: number) => i < n && (tokens[i]!.k === 'seg' || tokens[i]!.k === 'all');

  return {
    pattern,
    test(value: string): boolean {
      const s = fold(value);
      let steps = 0;
      // current[i] = 1: the first i tokens can match the input read so far.
      let current = new Uint8Array(n + 1);
      let next = new Uint8Array(n + 1);
      const close = (set: Uint8Array) => {
        // a star matches the empty run: its state also stands at the token after it
        for (let i = 0; i < n; i++) if (set[i] && star(i)) set[i + 1] = 1;
      };
      current[0] = 1;
      close(current);
      for (let j = 0; j < s.length; j++) {
        const c = s[j]!;
        next.fill(0);
        let any = false;
        for (let i = 0; i < n; i++) {
          if (!current[i]) continue;
          steps++;
          const t = tokens[i]!;
          if (t.k === 'all' || (t.k === 'seg' && c !== '/')) {
            next[i] = 1;
            any = true;
          } else if ((t.k === 'lit' && t.c === c) || (t.k === 'one' && c !== '/')) {
            next[i + 1] = 1;
            any = true;
          }
        }
        globWork.steps = steps;
        if (!any) return false;
        close(next);
        [current, next] = [next, current];
      }
      globWork.steps = steps;
      return current[n] === 1;
    },
  };
}
