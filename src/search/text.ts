// Free text, tokenised the same way for both stores. SQLite's FTS5 (unicode61, remove_diacritics 2) splits
// on anything not a letter or digit and folds case and accents; Elasticsearch's standard analyser would
// keep `protected_branch.destroy` whole and `Café` accented (and a node without the analysis-common
// module has no other tokenizer). So Elasticsearch indexes, and is queried with, text normalised here:
// letters and digits only, folded, one space between words.
import type { PipewardenEvent } from '../event.ts';
import { ftsValues } from '../store/sqlite.ts';

// Printable ASCII and the usual whitespace: NFKD leaves it as it is, it has no marks, and once lower-cased
// its letters and digits are a-z and 0-9 (most of what is indexed; about twice as fast as the general way).
const PLAIN_ASCII = /^[\t\n\r -~]*$/;

export function normalizeText(s: string): string {
  if (PLAIN_ASCII.test(s))
    return (
      s
        .toLowerCase()
        .match(/[a-z0-9]+/g)
        ?.join(' ') ?? ''
    );
  return normalizeAnyText(s);
}

/** The general way, for any text (normalizeText takes a direct way for plain ASCII; exported for its test). */
export function normalizeAnyText(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .join(' ');
}

/** The event's searchable text (the same fields as the SQLite FTS row), normalised. */
export function searchText(e: PipewardenEvent): string {
  return ftsValues(e).map(normalizeText).filter(Boolean).join('\n');
}
