import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICES } from '../../tools/cli/src/local-stack';

const root = join(__dirname, '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** Every trainyard_* series the services define, from their metrics sources. */
function definedSeries(): string[] {
  const files = [
    ...readdirSync(join(root, 'libs/runtime/src/metrics')).map((f) => `libs/runtime/src/metrics/${f}`),
    ...readdirSync(join(root, 'apps')).flatMap((app) => {
      try {
        return readdirSync(join(root, 'apps', app, 'src/metrics')).map((f) => `apps/${app}/src/metrics/${f}`);
      } catch {
        return [];
      }
    }),
  ].filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'));
  const names = new Set<string>();
  for (const f of files) for (const [, name] of read(f).matchAll(/'(trainyard_[a-z0-9_]+)'/g)) if (name) names.add(name);
  return [...names].sort();
}

describe('deployment of the observability stack (deploy/, docker-compose.yml)', () => {
  const dashboard = JSON.parse(read('deploy/grafana/dashboards/trainyard.json'));
  const panels: { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string; datasource?: { uid: string } }[] }[] = dashboard.panels;
  const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

  it('has a panel for every trainyard_* series the services expose', () => {
    const series = definedSeries();
    expect(series.length).toBeGreaterThanOrEqual(15);
    expect(series.filter((name) => !exprs.some((e) => e.includes(name)))).toEqual([]);
  });

  it('takes its data source from a variable, by uid, on every panel and query', () => {
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
    for (const p of panels.filter((x) => x.type !== 'row')) {
      expect({ panel: p.title, uid: p.datasource?.uid }).toEqual({ panel: p.title, uid: '${datasource}' });
      for (const t of p.targets ?? []) expect({ panel: p.title, uid: t.datasource?.uid }).toEqual({ panel: p.title, uid: '${datasource}' });
    }
    expect(new Set(panels.map((p) => (p as { id?: number }).id)).size).toBe(panels.length);
  });

  it('scrapes the five services at the names and ports docker-compose.yml gives them, and provisions Grafana', () => {
    const prometheus = read('deploy/prometheus/prometheus.yml');
    const targets = [...prometheus.matchAll(/targets: \["([^"]+)"\]/g)].map((m) => m[1]).sort();
    expect(targets).toEqual(SERVICES.map((s) => `${s.name}:${s.port}`).sort());
    const compose = read('docker-compose.yml');
    for (const s of SERVICES) {
      const block = compose.slice(compose.indexOf(`\n  ${s.name}:\n`));
      expect(block.indexOf(`PORT: "${s.port}"`)).toBeGreaterThan(0);
    }
    expect(compose).toMatch(/\.\/deploy\/prometheus\/prometheus\.yml:\/etc\/prometheus\/prometheus\.yml/);
    expect(compose).toMatch(/\.\/deploy\/grafana\/dashboards:\/var\/lib\/grafana\/dashboards/);
    expect(read('deploy/grafana/provisioning/datasources/prometheus.yml')).toMatch(/uid: prometheus\n[\s\S]*url: http:\/\/prometheus:9090/);
  });
});
