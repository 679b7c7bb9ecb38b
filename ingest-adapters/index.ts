// The registry of ingest adapters: an explicit typed array. A test fails when a folder is missing from it.
import type { IngestAdapter } from '../src/ingest/types.ts';
import { github } from './github/index.ts';
import { githubAudit } from './github-audit/index.ts';
import { gitlab } from './gitlab/index.ts';
import { gitlabAudit } from './gitlab-audit/index.ts';
import { gitlabLogs } from './gitlab-logs/index.ts';

export const adapters: IngestAdapter<any>[] = [github, githubAudit, gitlab, gitlabAudit, gitlabLogs];
