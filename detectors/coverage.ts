// Every registered detector's OWASP coverage rows, in registry order (the README table is generated from
// this). A detector declares its rows beside its code (`export const coverage`); telemetry-loss's are
// declared here because that folder belongs to the engine work.
import { coverage as accountTakeover } from './account-takeover/index.ts';
import { coverage as anonymousAccess } from './anonymous-access/index.ts';
import { coverage as artifactIntegrity } from './artifact-integrity/index.ts';
import { coverage as buildServerHardening } from './build-server-hardening/index.ts';
import { coverage as deployWithoutTrace } from './deploy-without-trace/index.ts';
import { coverage as exfiltration } from './exfiltration/index.ts';
import { coverage as failedLogins } from './failed-logins/index.ts';
import { detectors } from './index.ts';
import { coverage as outOfHoursDeploys } from './out-of-hours-deploys/index.ts';
import type { CoverageRow, DetectorCoverage } from './owasp.ts';
import { coverage as pipelineWeakening } from './pipeline-weakening/index.ts';
import { coverage as poisonedPipelineExecution } from './poisoned-pipeline-execution/index.ts';
import { coverage as secretsInBuildLogs } from './secrets-in-build-logs/index.ts';
import { coverage as securityAlertTriage } from './security-alert-triage/index.ts';

/** Sources every push and poll adapter shares: silence, and rejected deliveries at ingest. */
const ALL_PUSH = [
  'github',
  'github-audit',
  'gitlab',
  'gitlab-audit',
  'gitlab-logs',
  'bitbucket',
  'bitbucket-server',
  'azure-devops',
  'circleci',
  'jenkins',
  'artifactory',
  'nexus',
  'harbor',
  'docker-distribution',
];

const telemetryLoss: CoverageRow[] = [
  {
    row: 'silent-source',
    what: 'a source silent longer than expected',
    owasp: ['CICD-SEC-10'],
    sources: ALL_PUSH,
  },
  {
    row: 'feed-deleted',
    what: 'a webhook or audit stream that feeds pipewarden deleted',
    owasp: ['CICD-SEC-10'],
    sources: ['github', 'github-audit', 'gitlab-audit'],
  },
  {
    row: 'bad-signatures',
    what: 'bursts of deliveries with bad signatures (probing, or a rotated secret)',
    owasp: ['CICD-SEC-10'],
    sources: ALL_PUSH,
  },
];

const BY_ID: ReadonlyMap<string, CoverageRow[]> = new Map([
  ['failed-logins', failedLogins],
  ['pipeline-weakening', pipelineWeakening],
  ['anonymous-access', anonymousAccess],
  ['deploy-without-trace', deployWithoutTrace],
  ['out-of-hours-deploys', outOfHoursDeploys],
  ['build-server-hardening', buildServerHardening],
  ['telemetry-loss', telemetryLoss],
  ['secrets-in-build-logs', secretsInBuildLogs],
  ['poisoned-pipeline-execution', poisonedPipelineExecution],
  ['security-alert-triage', securityAlertTriage],
  ['artifact-integrity', artifactIntegrity],
  ['exfiltration', exfiltration],
  ['account-takeover', accountTakeover],
]);

/** Coverage of every registered detector (a detector without rows has an empty list, which a test refuses). */
export const coverage: DetectorCoverage[] = detectors.map((d) => ({
  detector: d.id,
  rows: BY_ID.get(d.id) ?? [],
}));
