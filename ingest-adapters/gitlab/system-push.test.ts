// GitLab push and tag-push system hooks in their documented form (event_name, no object_kind): issue 11.
import { describe, expect, it } from 'vitest';
import { fixtureEvent } from '../../detectors/fixtures.ts';

describe('gitlab', () => {
  it('reads a push system hook (event_name push, no object_kind) as a push with actor, branch, commit, files', () => {
    const e = fixtureEvent('gitlab', 'system__push.json');
    expect(e.pipewarden.kind).toBe('code.push');
    expect(e.event.action).toBe('push');
    expect(e.event.dataset).toBe('gitlab.system_hook');
    expect(e.user?.name).toBe('jsmith');
    expect(e.pipewarden.repository).toBe('jsmith/example');
    expect(e.pipewarden.branch).toBe('master');
    expect(e.pipewarden.ref_type).toBe('branch');
    expect(e.pipewarden.commit).toBe('da1560886d4f094c3e6c9ef40349f7d38b5d27d7');
    expect(e.pipewarden.files).toEqual(['.gitlab-ci.yml']);
    expect(e.event.type).toEqual(['change']);
  });

  it('reads a tag-push system hook as a tag created', () => {
    const e = fixtureEvent('gitlab', 'system__tag_push.json');
    expect(e.pipewarden.kind).toBe('code.push');
    expect(e.event.action).toBe('tag_push');
    expect(e.pipewarden.ref_type).toBe('tag');
    expect(e.pipewarden.branch).toBe('v1.0.0');
    expect(e.event.type).toEqual(['creation']);
  });
});
