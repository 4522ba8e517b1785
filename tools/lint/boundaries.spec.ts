import { join, resolve } from 'node:path';
import { ESLint } from 'eslint';

const ROOT = resolve(__dirname, '../..');
// The workspace's configuration itself, handed over rather than found: Jest's module sandbox cannot run ESLint's dynamic import of it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const config = require('../../eslint.config.js');

/** Lints a made-up file at a real place in the workspace with the workspace's own configuration. */
async function boundaryErrors(path: string, code: string): Promise<string[]> {
  const [result] = await new ESLint({ cwd: ROOT, overrideConfigFile: true, overrideConfig: config }).lintText(code, { filePath: join(ROOT, path) });
  return result!.messages.filter((m) => m.ruleId === 'trainyard/boundaries').map((m) => m.message);
}

describe('lint keeps the boundaries (npm run lint)', () => {
  jest.setTimeout(60_000);

  it('refuses an app reaching into another app, or importing one by name', async () => {
    expect(await boundaryErrors('apps/scheduler/src/runs/probe.ts', `import { LeaseService } from '../../../gpu-broker/src/leases/lease.service';\nexport const x = LeaseService;\n`)).toEqual([
      'apps/scheduler reaches into apps/gpu-broker by a relative path: import a library by its package name (@trainyard/…)',
    ]);
    expect(await boundaryErrors('apps/notifier/src/probe.ts', `import { AppModule } from '@trainyard/promoter';\nexport const x = AppModule;\n`)).toEqual([
      '@trainyard/promoter is not a library: apps are never imported',
    ]);
  });

  it('refuses a library reaching into an app', async () => {
    expect(await boundaryErrors('libs/messaging/src/probe.ts', `export { RunsController } from '../../../apps/scheduler/src/runs/runs.controller';\n`)).toHaveLength(1);
  });

  it('keeps the contracts free of Nest, the database, the bus client and the other libraries', async () => {
    const code = `import { Injectable } from '@nestjs/common';\nimport { Entity } from 'typeorm';\nimport { NatsBus } from '@trainyard/messaging';\nexport const x = [Injectable, Entity, NatsBus];\n`;
    expect(await boundaryErrors('libs/contracts/src/probe.ts', code)).toEqual([
      'libs/contracts stays plain schemas and types: no @nestjs/common',
      'libs/contracts stays plain schemas and types: no typeorm',
      'libs/contracts imports no other library (@trainyard/messaging)',
    ]);
  });

  it('lets apps use libraries, files of their own project, and the harnesses load anything', async () => {
    expect(
      await boundaryErrors(
        'apps/scheduler/src/runs/probe.ts',
        `import { NatsBus } from '@trainyard/messaging';\nimport { RunEntity } from '../repositories/run.entity';\nexport const x = [NatsBus, RunEntity];\n`,
      ),
    ).toEqual([]);
    expect(await boundaryErrors('test/e2e/probe.spec.ts', `import { AppModule } from '../../apps/scheduler/src/app.module';\nexport const x = AppModule;\n`)).toEqual([]);
  });
});
