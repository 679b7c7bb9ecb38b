// CircleCI pipelines of GitLab / GitHub App / Bitbucket DC projects: trigger_parameters, no vcs (issue 11).
import { describe, expect, it } from 'vitest';
import { bodyEvents, fixtureEvent } from '../../detectors/fixtures.ts';

/**
 * CircleCI's outbound webhooks reference (circleci/circleci-docs, webhooks-reference), section
 * "workflow-completed for Gitlab", as documented: `pipeline.trigger_parameters.gitlab / git / circleci`, no
 * `vcs` block. Kept here rather than in fixtures/ because the fixture-wide test expects one delivery.
 */
const GITLAB_WORKFLOW_COMPLETED = {
  type: 'workflow-completed',
  id: 'cbabbb40-6084-4f91-8311-a326c0f4963a',
  happened_at: '2022-05-27T16:20:13.954328Z',
  webhook: {
    id: 'e4da0d23-31cf-4047-8a7e-8ffb14cd0100',
    name: 'test',
  },
  workflow: {
    id: 'c2006ece-778d-49fc-9e6e-b9965f72bee9',
    name: 'build',
    created_at: '2022-05-27T16:20:07.631Z',
    stopped_at: '2022-05-27T16:20:13.812Z',
    url: 'https://app.circleci.com/pipelines/circleci/DdaVtNusHqi24D4YT3X4eu/6EkDPZoN4ZdMKKZtBkRodt/1/workflows/c2006ece-778d-49fc-9e6e-b9965f72bee9',
    status: 'failed',
  },
  pipeline: {
    id: '37c74cb7-d64d-4032-8731-1cb95bfef921',
    number: 1,
    created_at: '2022-04-13T11:10:18.804Z',
    trigger: {
      type: 'gitlab',
    },
    trigger_parameters: {
      gitlab: {
        web_url: 'https://gitlab.com/circleci/hello-world',
        commit_author_name: 'Commit Author',
        user_id: '9534789',
        user_name: 'User name',
        user_username: 'username',
        branch: 'main',
        commit_title: 'Update README.md',
        commit_message: 'Update README.md',
        total_commits_count: '1',
        repo_url: 'git@gitlab.com:circleci/hello-world.git',
        user_avatar: 'https://secure.gravatar.com/avatar',
        type: 'push',
        project_id: '33852820',
        ref: 'refs/heads/main',
        repo_name: 'hello-world',
        commit_author_email: 'committer.email@example.com',
        checkout_sha: '850a1519f25d14e968649cc420d1bd381715c05c',
        commit_timestamp: '2022-04-13T11:10:16+00:00',
        commit_sha: '850a1519f25d14e968649cc420d1bd381715c05c',
      },
      git: {
        tag: '',
        checkout_sha: '850a1519f25d14e968649cc420d1bd381715c05c',
        ref: 'refs/heads/main',
        branch: 'main',
        checkout_url: 'git@gitlab.com:circleci/hello-world.git',
      },
      circleci: {
        event_time: '2022-04-13T11:10:18.349Z',
        actor_id: '6a19122c-40e0-4d56-a875-aac6ccc27700',
        event_type: 'push',
        trigger_type: 'gitlab',
      },
    },
  },
  project: {
    id: '2a68fe5f-2fe5-4d4f-91e1-15f111116743',
    name: 'hello-world',
    slug: 'circleci/DdaVtNusHqi24D4YT3X4eu/6EkDPZoN4ZdMKKZtBkRodt',
  },
  organization: {
    id: '66491562-90a9-4065-9249-4b0ce3b77452',
    name: 'circleci',
  },
};

const gitlabPipeline = (b: Record<string, any> = GITLAB_WORKFLOW_COMPLETED) =>
  bodyEvents('circleci', b, { 'circleci-event-type': 'workflow-completed' })[0]!;

describe('circleci', () => {
  it('takes actor, branch and commit from pipeline.trigger_parameters (documented GitLab example)', () => {
    const e = gitlabPipeline();
    expect(e.user?.name).toBe('username');
    expect(e.pipewarden.branch).toBe('main');
    expect(e.pipewarden.commit).toBe('850a1519f25d14e968649cc420d1bd381715c05c');
    expect(e.pipewarden.kind).toBe('build');
  });

  it('reads a GitHub App block and a tag ref when git has no branch', () => {
    const b = structuredClone(GITLAB_WORKFLOW_COMPLETED) as Record<string, any>;
    b.pipeline.trigger_parameters = {
      github_app: { user_login: 'octocat', ref: 'refs/tags/v2.0.0', commit_sha: 'abc123' },
      circleci: { trigger_type: 'github_app' },
    };
    const e = gitlabPipeline(b);
    expect(e?.user?.name).toBe('octocat');
    expect(e?.pipewarden.branch).toBe('v2.0.0');
    expect(e?.pipewarden.commit).toBe('abc123');
  });

  it('keeps the vcs block first for GitHub OAuth and Bitbucket Cloud pipelines', () => {
    const e = fixtureEvent('circleci', 'workflow-completed__github-oauth-bitbucket-cloud.json');
    expect(e.pipewarden.branch).toBe('main');
    expect(e.user?.name).toBe('Author Name');
  });
});
