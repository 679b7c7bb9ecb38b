// The Kibana saved objects under deploy/kibana: well-formed, every reference resolves, and every field a
// visualisation or query names is mapped in the index templates the store creates.
import { readFileSync } from 'node:fs';
import type { estypes } from '@elastic/elasticsearch';
import { describe, expect, it } from 'vitest';
import { ALERT_MAPPINGS, EVENT_MAPPINGS } from '../../src/store/elasticsearch.ts';

interface SavedObject {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  references: Array<{ name: string; type: string; id: string }>;
}

const objects = readFileSync(new URL('../../deploy/kibana/pipewarden.ndjson', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as SavedObject);

function fieldsOf(mapping: estypes.MappingTypeMapping): Set<string> {
  const out = new Set<string>();
  const walk = (props: Record<string, estypes.MappingProperty> | undefined, prefix: string) => {
    for (const [name, p] of Object.entries(props ?? {})) {
      const path = prefix ? `${prefix}.${name}` : name;
      const sub = (p as { properties?: Record<string, estypes.MappingProperty> }).properties;
      if (sub) walk(sub, path);
      else out.add(path);
    }
  };
  walk(mapping.properties, '');
  return out;
}

const VIEWS: Record<string, Set<string>> = {
  'pipewarden-events': fieldsOf(EVENT_MAPPINGS),
  'pipewarden-alerts': fieldsOf(ALERT_MAPPINGS),
};

describe('Kibana saved objects', () => {
  const byId = new Map(objects.map((o) => [`${o.type}:${o.id}`, o]));

  it('has the two data views on @timestamp and the dashboard with its five panels', () => {
    const views = objects.filter((o) => o.type === 'index-pattern');
    expect(views.map((v) => v.attributes.title).sort()).toEqual(['pipewarden-alerts', 'pipewarden-events']);
    for (const v of views) expect(v.attributes.timeFieldName).toBe('@timestamp');
    const dash = objects.find((o) => o.type === 'dashboard')!;
    const panels = JSON.parse(dash.attributes.panelsJSON as string) as Array<{ panelRefName: string }>;
    expect(panels).toHaveLength(5);
    for (const p of panels) expect(dash.references.map((r) => r.name)).toContain(p.panelRefName);
  });

  it('resolves every reference to an object in the file', () => {
    for (const o of objects)
      for (const r of o.references)
        expect(byId.has(`${r.type}:${r.id}`), `${o.id} → ${r.type}:${r.id}`).toBe(true);
  });

  it('names only fields the index templates map', () => {
    for (const o of objects.filter((x) => x.type === 'visualization')) {
      const view = byId.get(`index-pattern:${o.references[0]!.id}`)!;
      const mapped = VIEWS[view.attributes.title as string]!;
      const vis = JSON.parse(o.attributes.visState as string) as {
        aggs: Array<{ params: { field?: string } }>;
      };
      const fields = vis.aggs.flatMap((a) => (a.params.field ? [a.params.field] : []));
      const search = JSON.parse(
        (o.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON,
      ) as { query: { query: string } };
      fields.push(...[...search.query.query.matchAll(/([\w.@]+)\s*:/g)].map((m) => m[1]!));
      expect(fields.length, o.id).toBeGreaterThan(0);
      for (const f of fields) expect(mapped.has(f), `${o.id}: ${f} is not mapped`).toBe(true);
    }
  });
});
