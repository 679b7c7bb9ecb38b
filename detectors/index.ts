// The registry of detectors: an explicit typed array. A test fails when a folder is missing from it.
import type { Detector } from '../src/detect/types.ts';
import { accountTakeover } from './account-takeover/index.ts';
import { anonymousAccess } from './anonymous-access/index.ts';
import { artifactIntegrity } from './artifact-integrity/index.ts';
import { buildServerHardening } from './build-server-hardening/index.ts';
import { deployWithoutTrace } from './deploy-without-trace/index.ts';
import { exfiltration } from './exfiltration/index.ts';
import { failedLogins } from './failed-logins/index.ts';
import { outOfHoursDeploys } from './out-of-hours-deploys/index.ts';
import { pipelineWeakening } from './pipeline-weakening/index.ts';
import { poisonedPipelineExecution } from './poisoned-pipeline-execution/index.ts';
import { secretsInBuildLogs } from './secrets-in-build-logs/index.ts';
import { securityAlertTriage } from './security-alert-triage/index.ts';
import { telemetryLoss } from './telemetry-loss/index.ts';

export const detectors = [
  failedLogins,
  pipelineWeakening,
  anonymousAccess,
  outOfHoursDeploys,
  buildServerHardening,
  telemetryLoss,
  secretsInBuildLogs,
  poisonedPipelineExecution,
  securityAlertTriage,
  artifactIntegrity,
  exfiltration,
  accountTakeover,
  deployWithoutTrace,
] satisfies Detector[];
