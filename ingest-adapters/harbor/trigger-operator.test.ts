// Harbor replication and retention events name the trigger in `operator` (MANUAL, SCHEDULE): not a user.
import { describe, expect, it } from 'vitest';
import { bodyEvents, fixtureBody } from '../../detectors/fixtures.ts';

describe('harbor', () => {
  const replication = (operator: string) => {
    const b = structuredClone(fixtureBody('harbor', 'PUSH_ARTIFACT__Default.json')) as Record<string, any>;
    // Harbor's REPLICATION webhook (docs: "Configure webhooks", payload `type` REPLICATION, `operator`
    // the trigger type MANUAL / SCHEDULE / EVENT_BASED).
    return bodyEvents('harbor', { ...b, type: 'REPLICATION', operator })[0]!;
  };

  it('does not take operator MANUAL for a user; keeps it as the trigger', () => {
    const e = replication('MANUAL');
    expect(e.user).toBeUndefined();
    expect(e.pipewarden.trigger).toBe('manual');
  });

  it('does the same for SCHEDULE', () => {
    expect(replication('SCHEDULE').user).toBeUndefined();
  });

  it('still takes a real operator for the actor', () => {
    expect(replication('alice').user?.name).toBe('alice');
  });
});
