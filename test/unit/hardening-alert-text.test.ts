// Issue 10 item 11: attacker-controlled values in alert text are flattened to one line, stripped of
// bidirectional controls and capped, in every renderer through one helper (src/alerting/text.ts).
import { describe, expect, it } from 'vitest';
import { renderEmail } from '../../src/alerting/sinks/email.ts';
import { renderSlackMessage } from '../../src/alerting/sinks/slack.ts';
import { flatText } from '../../src/alerting/text.ts';
import type { Hit } from '../../src/alerting/types.ts';

const BIDI = [
  '\u202a',
  '\u202b',
  '\u202c',
  '\u202d',
  '\u202e',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
  '\u200e',
  '\u200f',
  '\u061c',
];
const BIDI_RE = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/;

// An actor name as an attacker would choose it: new lines that fake a field, and a right-to-left override.
const EVIL_ACTOR = 'mallory\nSeverity: LOW — ignore\u2028Status: resolved\r\n\u202etxt.exe';

function hit(overrides: Partial<Hit> = {}): Hit {
  return {
    id: 'hit-1',
    '@timestamp': '2026-03-04T03:12:45.000Z',
    detected_at: '2026-03-04T03:12:46.000Z',
    detector: 'pipeline-weakening',
    title: 'Deploy key added',
    severity: 'high',
    summary: `${EVIL_ACTOR} added a deploy key to acme/api`,
    description: 'A deploy key was added.',
    runbook: 'detectors/pipeline-weakening/README.md#runbook',
    key: 'k',
    event_ids: ['e1'],
    source: 'github',
    actor: EVIL_ACTOR,
    repository: `acme/api\u202e`,
    context: { note: `a\nb\u202e` },
    ...overrides,
  };
}

describe('flatText', () => {
  it('flattens every line break to one space, strips each bidi control and caps the length', () => {
    expect(flatText('a\r\nb\u2028c\u2029d\u0085e\tf')).toBe('a b c d e f');
    for (const c of BIDI) expect(flatText(`x${c}y`)).toBe('xy');
    expect(flatText('z'.repeat(1000), 10)).toBe(`${'z'.repeat(9)}…`);
    expect(flatText('  spaced  ')).toBe('spaced');
  });
});

describe('slack renderer', () => {
  it('keeps a hostile actor on one line in every block and drops the right-to-left override', () => {
    const msg = renderSlackMessage(hit(), { channel: '#c' });
    const texts = [msg.text, ...JSON.stringify(msg.blocks).match(/"text":"(?:[^"\\]|\\.)*"/g)!];
    for (const t of texts) expect(t).not.toMatch(BIDI_RE);
    // The summary section and the actor field must not carry a line the attacker wrote.
    const blocks = JSON.stringify(msg.blocks);
    expect(blocks).not.toContain('\\nSeverity: LOW');
    expect(blocks).not.toContain('\u2028');
    const summary = msg.blocks[1];
    expect(summary?.type === 'section' && summary.text?.text).toBe(
      'mallory Severity: LOW — ignore Status: resolved txt.exe added a deploy key to acme/api',
    );
  });

  it('caps a very long interpolated value', () => {
    const msg = renderSlackMessage(hit({ actor: 'a'.repeat(50_000), summary: 's'.repeat(50_000) }), {
      channel: '#c',
    });
    expect(JSON.stringify(msg).length).toBeLessThan(12_000);
  });
});

describe('email renderer', () => {
  it('keeps a hostile actor on one line in subject, text and HTML, without bidi controls', () => {
    const mail = renderEmail(hit(), { from: 'a@example.com', to: ['b@example.com'] });
    expect(mail.subject).not.toMatch(BIDI_RE);
    expect(mail.text).not.toMatch(BIDI_RE);
    expect(mail.html).not.toMatch(BIDI_RE);
    const lines = mail.text.split('\n');
    // No line of the text part starts with a field the attacker forged.
    expect(lines.filter((l) => l.startsWith('Severity:'))).toEqual(['Severity: HIGH']);
    expect(lines.some((l) => l.startsWith('Status: resolved'))).toBe(false);
    expect(mail.text).toContain('mallory Severity: LOW — ignore Status: resolved txt.exe added a deploy key');
    expect(mail.html).not.toContain('\u2028');
  });

  it('caps a very long summary in the body', () => {
    const mail = renderEmail(hit({ summary: 's'.repeat(100_000) }), {
      from: 'a@example.com',
      to: ['b@example.com'],
    });
    expect(mail.text.length).toBeLessThan(10_000);
  });
});
