// The registry of detectors: an explicit typed array. A test fails when a folder is missing from it.
import type { Detector } from '../src/detect/types.ts';
import { anonymousAccess } from './anonymous-access/index.ts';
import { buildServerHardening } from './build-server-hardening/index.ts';
import { deployWithoutTrace } from './deploy-without-trace/index.ts';
import { failedLogins } from './failed-logins/index.ts';
import { outOfHoursDeploys } from './out-of-hours-deploys/index.ts';
import { pipelineWeakening } from './pipeline-weakening/index.ts';
import { secretsInBuildLogs } from './secrets-in-build-logs/index.ts';
import { telemetryLoss } from './telemetry-loss/index.ts';

export const detectors: Detector<any>[] = [
  failedLogins,
  pipelineWeakening,
  anonymousAccess,
  outOfHoursDeploys,
  buildServerHardening,
  telemetryLoss,
  secretsInBuildLogs,
  deployWithoutTrace,
];
