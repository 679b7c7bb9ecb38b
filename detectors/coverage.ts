// Every registered detector's OWASP coverage rows, in registry order: each detector declares them in its
// own `coverage` field (src/detect/types.ts); the README table is generated from this list.
import { detectors } from './index.ts';
import type { DetectorCoverage } from './owasp.ts';

/** Coverage of every registered detector (a detector without rows has an empty list, which a test refuses). */
export const coverage: DetectorCoverage[] = detectors.map((d) => ({
  detector: d.id,
  rows: d.coverage ?? [],
}));
