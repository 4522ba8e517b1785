import type { INestApplication } from '@nestjs/common';
import { TestService } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { schedulerEnv } from '../config/scheduler.config';
import { JobRepository } from './job.repository';
import { RunRepository } from './run.repository';
import { storedRun } from './stored-run.fixture';

jest.setTimeout(120_000);

describe('RunRepository', () => {
  const svc = new TestService({ env: schedulerEnv, module: AppModule.forRoot, prefix: 'runrepo', transport: false });
  let app: INestApplication;

  beforeAll(async () => {
    app = await svc.start({});
  });

  afterAll(() => svc.close());

  // PostgreSQL takes at most 65,535 parameters in one statement: one INSERT of a run's jobs would fail
  // from about 5,500 jobs (12 parameters each).
  it('stores a run of 8,000 jobs, more than one statement could carry', async () => {
    const { run, jobs } = storedRun(
      'repo-8000',
      Array.from({ length: 8000 }, (_, i) => `R${i}USDT`),
      { status: 'planned', jobStatus: 'planned' },
    );
    expect(await app.get(RunRepository).create(run, jobs)).toBe(true);
    expect(await app.get(JobRepository).countsByStatus(run.id)).toEqual({ planned: 8000 });
    // A duplicate request stores nothing more.
    expect(await app.get(RunRepository).create(run, jobs)).toBe(false);
  });

  it('tells the reconciler when there is nothing to look at: only planned (dry) runs, or decided ones announced', async () => {
    const runs = app.get(RunRepository);
    expect(await runs.needsReconciling()).toBe(false);
    const base = { date: '2026-12-01', trigger: 'api' as const, mode: 'parallel' as const, maxConcurrent: 1, priority: 'normal' as const, request: {} as never, totalJobs: 0, skipped: [] };
    await runs.create({ ...base, id: 'repo-owed', status: 'succeeded' }, []);
    // Decided, its run.completed not yet on the bus.
    expect(await runs.needsReconciling()).toBe(true);
    await runs.markCompletionPublished('repo-owed', null);
    expect(await runs.needsReconciling()).toBe(false);
    await runs.create({ ...base, id: 'repo-running', status: 'running' }, []);
    expect(await runs.needsReconciling()).toBe(true);
  });
});
