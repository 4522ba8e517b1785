import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentBundler } from './agent-bundle';

jest.setTimeout(120_000);

/** The bundle a bootstrap copies to a rented machine, built from this workspace's build. */
describe('AgentBundler', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ty-bundle-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves out what Node never loads, and the agent loads whole from it in an empty folder', async () => {
    const bundle = await new AgentBundler().bundle(join(dir, 'out'));
    const entries = execFileSync('tar', ['-tzf', bundle.path], { encoding: 'utf8', maxBuffer: 1 << 26 })
      .split('\n')
      .filter(Boolean);
    expect(entries).toContain(bundle.entry);
    expect(entries.filter((e) => /\.(map|ts|mts|cts|md)$/.test(e) || /^node_modules\/(.+\/)?(test|tests|__tests__)\//.test(e))).toEqual([]);
    expect(statSync(bundle.path).size).toBeLessThan(10e6);
    const unpacked = join(dir, 'machine');
    mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', bundle.path, '-C', unpacked]);
    // Loading the app module requires every module the agent runs with; a file left out fails it.
    const loaded = execFileSync(process.execPath, ['-e', `require('./${bundle.instrumentation}'); require('./apps/trainer-agent/dist/app.module'); console.log('loaded')`], {
      cwd: unpacked,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, OTEL_SDK_DISABLED: 'true' },
    });
    expect(loaded.trim()).toBe('loaded');
  });
});
