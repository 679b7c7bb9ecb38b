// How each source signs or authenticates a delivery, for tests that send bodies of their own making.
// One entry per registered adapter id: given the raw body and a secret, the headers that authenticate it.
import { createHmac } from 'node:crypto';

export type Signer = (raw: string, secret: string, now: Date) => Record<string, string>;

const hex = (alg: 'sha1' | 'sha256', secret: string, raw: string) =>
  createHmac(alg, secret).update(raw).digest('hex');

export const signers: Record<string, Signer> = {
  github: (raw, secret) => ({ 'x-hub-signature-256': `sha256=${hex('sha256', secret, raw)}` }),
  gitlab: (_raw, secret) => ({ 'x-gitlab-token': secret }),
  'gitlab-audit': (_raw, secret) => ({ 'x-gitlab-event-streaming-token': secret }),
  'gitlab-logs': (_raw, secret) => ({ authorization: `Bearer ${secret}` }),
  'github-audit': (_raw, secret) => ({ authorization: `Splunk ${secret}` }),
  bitbucket: (raw, secret) => ({ 'x-hub-signature': `sha256=${hex('sha256', secret, raw)}` }),
  'bitbucket-server': (raw, secret) => ({ 'x-hub-signature': `sha256=${hex('sha256', secret, raw)}` }),
  'azure-devops': (_raw, secret) => ({
    authorization: `Basic ${Buffer.from(`sample:${secret}`).toString('base64')}`,
  }),
  circleci: (raw, secret) => ({ 'circleci-signature': `v1=${hex('sha256', secret, raw)}` }),
  jenkins: (_raw, secret) => ({
    authorization: `Basic ${Buffer.from(`sample:${secret}`).toString('base64')}`,
  }),
  artifactory: (_raw, secret) => ({ 'x-jfrog-event-auth': secret }),
  nexus: (raw, secret) => ({ 'x-nexus-webhook-signature': hex('sha1', secret, raw) }),
  'docker-distribution': (_raw, secret) => ({ authorization: `Bearer ${secret}` }),
  harbor: (_raw, secret) => ({ authorization: `Bearer ${secret}` }),
  // Adapters add their entry here.
};
