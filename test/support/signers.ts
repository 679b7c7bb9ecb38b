// How each source signs or authenticates a delivery, for tests that send bodies of their own making:
// derived from the registry (each adapter's `testing.sign`, kept beside its verify).
import { adapters } from '../../ingest-adapters/index.ts';
import type { AdapterTesting } from '../../src/ingest/types.ts';

export type Signer = AdapterTesting['sign'];

export const signers: Record<string, Signer> = Object.fromEntries(
  adapters.map((a) => [a.id, a.testing.sign]),
);

/** The environment that gives every registered source `secret` (as its sign expects it to be held). */
export function sourceSecretsEnv(secret: string): Record<string, string> {
  return Object.fromEntries(
    adapters.map((a) => [a.secretEnv, a.testing.secretValue ? a.testing.secretValue(secret) : secret]),
  );
}
