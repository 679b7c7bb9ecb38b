// The registry of ingest adapters: an explicit typed array. A test fails when a folder is missing from it.
import type { IngestAdapter } from '../src/ingest/types.ts';
import { artifactory } from './artifactory/index.ts';
import { azureDevops } from './azure-devops/index.ts';
import { bitbucket } from './bitbucket/index.ts';
import { bitbucketServer } from './bitbucket-server/index.ts';
import { circleci } from './circleci/index.ts';
import { dockerDistribution } from './docker-distribution/index.ts';
import { gitea } from './gitea/index.ts';
import { github } from './github/index.ts';
import { githubAudit } from './github-audit/index.ts';
import { gitlab } from './gitlab/index.ts';
import { gitlabAudit } from './gitlab-audit/index.ts';
import { gitlabLogs } from './gitlab-logs/index.ts';
import { harbor } from './harbor/index.ts';
import { jenkins } from './jenkins/index.ts';
import { nexus } from './nexus/index.ts';

export const adapters = [
  github,
  githubAudit,
  gitlab,
  gitlabAudit,
  gitlabLogs,
  bitbucket,
  bitbucketServer,
  gitea,
  azureDevops,
  circleci,
  // Build servers and artefact stores (jenkins first: its line formats are tried before artifactory's).
  jenkins,
  artifactory,
  nexus,
  dockerDistribution,
  harbor,
] satisfies IngestAdapter[];
