// What deploy/ ships must start with this version: the configurations it mounts pass the strict schema
// (with the secrets its manifests inject), the roles it runs exist, and probes and ports match the server.
// (No container engine runs here; this is the part that can be checked without one.)
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { ROLES } from '../../src/config/schema.ts';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

interface Container {
  args?: string[];
  command?: string[];
  env?: Array<{ name: string }>;
  ports?: Array<{ containerPort: number }>;
  readinessProbe?: { httpGet: { path: string } };
  livenessProbe?: { httpGet: { path: string } };
}

function roleOf(args: string[] | undefined): string | undefined {
  const i = args?.indexOf('--role') ?? -1;
  return i >= 0 ? args![i + 1] : undefined;
}

describe('deploy/k8s/pipewarden.yaml', () => {
  const docs = parseAllDocuments(read('deploy/k8s/pipewarden.yaml')).map((d) => d.toJS());
  const configMap = docs.find((d) => d?.kind === 'ConfigMap');
  const deployments = docs.filter((d) => d?.kind === 'Deployment');
  const containers: Container[] = deployments.flatMap((d) => d.spec.template.spec.containers);

  it('runs one Deployment per role, each a real role', () => {
    expect(containers.map((c) => roleOf(c.args)).sort()).toEqual([...ROLES].sort());
  });

  it('mounts a configuration the schema accepts, with the secrets the manifests inject', () => {
    const env = Object.fromEntries(
      containers.flatMap((c) => c.env ?? []).map((e) => [e.name, 'from-a-secret-0123456']),
    );
    const config = parseConfig(parseAllDocuments(configMap.data['pipewarden.yaml'])[0]!.toJS(), env);
    expect(config.mode).toBe('distributed');
    for (const c of containers) {
      expect(c.ports?.[0]?.containerPort).toBe(config.server.port);
      expect(c.readinessProbe?.httpGet.path).toBe('/readyz');
      expect(c.livenessProbe?.httpGet.path).toBe('/healthz');
    }
  });
});

describe('deploy/compose.yaml', () => {
  const compose = parseAllDocuments(read('deploy/compose.yaml'))[0]!.toJS();
  const services = Object.values(compose.services) as Array<{ command?: string[]; environment?: object }>;

  it('runs every role from the pipewarden image', () => {
    const roles = services.map((s) => roleOf(s.command)).filter(Boolean);
    expect(roles.sort()).toEqual([...ROLES].sort());
  });

  it('mounts a configuration the schema accepts, with the variables compose passes', () => {
    const names = services.flatMap((s) => Object.keys(s.environment ?? {}));
    const env = Object.fromEntries(names.map((n) => [n, 'set-by-the-operator']));
    const config = parseConfig(parseAllDocuments(read('deploy/pipewarden.compose.yaml'))[0]!.toJS(), env);
    expect(config.mode).toBe('distributed');
    expect(config.kafka?.brokers).toEqual(['kafka:9092']);
  });

  it("checks each role's readiness on /readyz at the configured port", () => {
    const merged = parseAllDocuments(read('deploy/compose.yaml'), { merge: true })[0]!.toJS();
    const config = parseConfig(parseAllDocuments(read('deploy/pipewarden.compose.yaml'))[0]!.toJS(), {
      PIPEWARDEN_GITHUB_WEBHOOK_SECRET: 'set-by-the-operator',
    });
    const roleServices = Object.values(
      merged.services as Record<string, { command?: string[]; healthcheck?: { test?: string[] } }>,
    ).filter((s) => roleOf(s.command));
    expect(roleServices).toHaveLength(ROLES.length);
    for (const s of roleServices) {
      const probe = (s.healthcheck?.test ?? []).join(' ');
      expect(probe).toContain(`http://127.0.0.1:${config.server.port}/readyz`);
      expect(probe).toMatch(/r\.ok \? 0 : 1/); // only a 2xx is healthy
    }
  });
});
