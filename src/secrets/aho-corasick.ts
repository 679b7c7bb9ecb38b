// A case-insensitive Aho–Corasick automaton over ASCII keywords, compiled to a dense DFA table so that
// the hot loop is one array read per character (no failure-link chasing, no lowercasing of the input).

const ALPHABET = 128;

export class KeywordAutomaton {
  /** delta[state * 128 + charCode] -> next state; uppercase columns mirror lowercase ones. */
  readonly delta: Int32Array;
  /** For each state, the payload ids (e.g. rule indices) of every keyword ending there; empty if none. */
  readonly outputs: ReadonlyArray<readonly number[]>;
  /** 1 when outputs[state] is non-empty: a byte test in the hot loop instead of an array length. */
  readonly hasOutput: Uint8Array;
  readonly stateCount: number;

  /** keywords[i] is reported as payload[i]; keywords must be printable ASCII (they are lowercased). */
  constructor(keywords: readonly string[], payload: readonly number[]) {
    const goto: Array<Map<number, number>> = [new Map()];
    const out: number[][] = [[]];
    keywords.forEach((raw, i) => {
      const kw = raw.toLowerCase();
      if (kw.length === 0) throw new Error('Empty keyword.');
      let s = 0;
      for (let j = 0; j < kw.length; j++) {
        const c = kw.charCodeAt(j);
        if (c >= ALPHABET) throw new Error(`Keyword is not ASCII: ${raw}`);
        let next = goto[s]!.get(c);
        if (next === undefined) {
          next = goto.length;
          goto.push(new Map());
          out.push([]);
          goto[s]!.set(c, next);
        }
        s = next;
      }
      const p = payload[i]!;
      if (!out[s]!.includes(p)) out[s]!.push(p);
    });

    const n = goto.length;
    const delta = new Int32Array(n * ALPHABET);
    const fail = new Int32Array(n);
    // Breadth-first: a state's failure target is always finished before the state itself.
    const queue: number[] = [];
    for (let c = 0; c < ALPHABET; c++) {
      const t = goto[0]!.get(c) ?? 0;
      delta[c] = t;
      if (t !== 0) queue.push(t);
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi]!;
      const f = fail[s]!;
      for (const p of out[f]!) if (!out[s]!.includes(p)) out[s]!.push(p);
      for (let c = 0; c < ALPHABET; c++) {
        const t = goto[s]!.get(c);
        if (t === undefined) {
          delta[s * ALPHABET + c] = delta[f * ALPHABET + c]!;
        } else {
          fail[t] = delta[f * ALPHABET + c]!;
          delta[s * ALPHABET + c] = t;
          queue.push(t);
        }
      }
    }
    // Case folding: 'A'..'Z' behave exactly like 'a'..'z'.
    for (let s = 0; s < n; s++) {
      for (let c = 65; c <= 90; c++) delta[s * ALPHABET + c] = delta[s * ALPHABET + c + 32]!;
    }
    this.delta = delta;
    this.outputs = out;
    this.hasOutput = Uint8Array.from(out, (o) => (o.length > 0 ? 1 : 0));
    this.stateCount = n;
  }

  /** Every payload id whose keyword occurs in text (each once), in order of first occurrence. */
  match(text: string): number[] {
    const { delta, hasOutput, outputs } = this;
    const seen = new Set<number>();
    const hits: number[] = [];
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      s = c < ALPHABET ? delta[(s << 7) | c]! : 0;
      if (hasOutput[s] === 1) {
        for (const p of outputs[s]!) {
          if (!seen.has(p)) {
            seen.add(p);
            hits.push(p);
          }
        }
      }
    }
    return hits;
  }
}
