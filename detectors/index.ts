// The registry of detectors: an explicit typed array. A test fails when a folder is missing from it.
import type { Detector } from '../src/detect/types.ts';
import { failedLogins } from './failed-logins/index.ts';
import { pipelineWeakening } from './pipeline-weakening/index.ts';

export const detectors: Detector<any>[] = [failedLogins, pipelineWeakening];
