// The pollers the configuration asks for: one explicit list of factories, one per polling source.
import type { GithubAuditConfig } from '../../../ingest-adapters/github-audit/index.ts';
import { githubAuditPoller } from '../../../ingest-adapters/github-audit/poller.ts';
import type { Poller } from './types.ts';

export function createPollers(sources: Record<string, unknown>): Poller[] {
  const pollers: Poller[] = [];
  const githubAudit = sources['github-audit'] as GithubAuditConfig | undefined;
  if (githubAudit?.poll) pollers.push(githubAuditPoller(githubAudit.poll));
  return pollers;
}
