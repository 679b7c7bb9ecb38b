// The search text's normalisation (src/search/text.ts): its fast way for plain ASCII must give exactly
// what the general way (NFKD, marks dropped, case folded, split on anything not a letter or digit) gives.
import { describe, expect, it } from 'vitest';
import { normalizeAnyText, normalizeText } from '../../src/search/text.ts';

/** The general way, as a reference. */
const general = normalizeAnyText;

describe('normalizeText', () => {
  it('splits plain ASCII on anything not a letter or digit, lower-cased', () => {
    expect(normalizeText('Alice pushed to refs/heads/main (#42)')).toBe('alice pushed to refs heads main 42');
    expect(normalizeText('protected_branch.destroy')).toBe('protected branch destroy');
    expect(normalizeText('  \t--  ')).toBe('');
    expect(normalizeText('')).toBe('');
  });

  it('folds accents and keeps letters of any script', () => {
    expect(normalizeText('Café Ñandú')).toBe('cafe nandu');
    expect(normalizeText('デプロイ—完了 ①')).toBe(general('デプロイ—完了 ①'));
  });

  it('gives what the general way gives, for any printable ASCII text', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let n = 0; n < 2000; n++) {
      const length = Math.floor(random() * 40);
      const s = Array.from({ length }, () => String.fromCharCode(32 + Math.floor(random() * 95))).join('');
      expect(normalizeText(s)).toBe(general(s));
    }
    expect(normalizeText('a\tb\nc\rd')).toBe(general('a\tb\nc\rd'));
  });
});
