import type { INestApplication } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NatsBus } from '@trainyard/messaging';
import { readStored, TestService, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { schedulerEnv } from '../config/scheduler.config';

jest.setTimeout(180_000);

/**
 * A run of the most symbols a request may name (5,000): its plan lists every job with two hashes,
 * about 1.2 MB, more than nats-server's default max_payload of 1 MiB. Before, run.planned failed to
 * publish, the request was dead-lettered and the run was never announced.
 */
describe('scheduler: a run of 5,000 symbols', () => {
  const svc = new TestService({ env: schedulerEnv, module: AppModule.forRoot, prefix: 'large' });
  const { prefix, dir: artifacts } = svc;
  let app: INestApplication;

  beforeAll(async () => {
    app = await svc.start({ SCHEDULER_TICK_MS: '200' });
  });
  afterAll(() => svc.close());

  it('announces its plan in one message, as many jobs as fit, and stores the whole plan', async () => {
    const symbols = Array.from({ length: 5000 }, (_, i) => `LARGE${i}USDT`);
    await app.get(NatsBus).publish('run.requested', { runId: 'large-5000', trigger: 'api', date: '2026-12-01', symbols, dryRun: true });
    const planned = await waitFor(async () => (await readStored(prefix, 'run.planned')).find((e) => e.data.runId === 'large-5000'), 'the plan', 120_000);
    const plan = planned.data;
    expect(plan.jobsOmitted).toBeGreaterThan(0);
    expect(plan.jobs.length + plan.jobsOmitted).toBe(5000);
    expect(plan.planUri).toMatch(/runs\/large-5000\/plan\.json$/);
    const stored = JSON.parse(readFileSync(join(artifacts, 'runs', 'large-5000', 'plan.json'), 'utf8'));
    expect(stored.jobs).toHaveLength(5000);
    // The message's jobs are the stored plan's first ones, in the same (release) order.
    expect(plan.jobs).toEqual(stored.jobs.slice(0, plan.jobs.length));
    expect(new Set(stored.jobs.map((j: { symbol: string }) => j.symbol))).toEqual(new Set(symbols));
  });
});
