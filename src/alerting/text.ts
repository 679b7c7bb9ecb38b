// Alert text from events is attacker-controlled (an actor name, a repository, a job): every renderer
// passes each interpolated value through flatText, so a value can neither add a line (a forged
// "Severity: LOW" field), reorder what the reader sees (bidi overrides), nor fill the message.

/** Bidirectional controls: embeddings and overrides, isolates, LRM/RLM, the Arabic letter mark. */
const BIDI = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;
/** Anything that breaks or controls a line: C0 and C1 controls (CR, LF, NEL, tab), DEL, U+2028/2029. */
const BREAKS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/** Default cap for one interpolated value (characters). */
export const VALUE_MAX = 500;

/** One line, no bidi controls, at most `max` characters (an ellipsis marks a cut). */
export function flatText(value: string, max = VALUE_MAX): string {
  const s = value.replace(BIDI, '').replace(BREAKS, ' ').replace(/ {2,}/g, ' ').trim();
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
