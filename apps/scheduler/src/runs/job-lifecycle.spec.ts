import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CAPACITY_KEY, capacityBucket } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { readStored, TestService, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { schedulerEnv } from '../config/scheduler.config';
import { JobRepository } from '../repositories/job.repository';

jest.setTimeout(60_000);

/** The scheduler alone on real NATS and PostgreSQL; the test plays the broker and the agents. */
describe('scheduler job lifecycle', () => {
  const svc = new TestService({ env: schedulerEnv, module: AppModule.forRoot, prefix: 'sched' });
  const { prefix, dir: artifacts } = svc;
  let bus: NatsBus;
  let jobs: JobRepository;

  beforeAll(async () => {
    writeFileSync(join(artifacts, 'costs.json'), JSON.stringify({ symbols: { BTCUSDT: { feeBps: 4, spreadBps: 1 } } }));
    const app = await svc.start({
      SCHEDULER_TICK_MS: '100',
      SCHEDULER_RETRY_BASE_SECONDS: '0.2',
      SCHEDULER_MAX_RETRIES: '1',
      SCHEDULER_DAILY_AT: '00:00',
      SCHEDULER_DAILY_SYMBOLS: 'top2',
      SCHEDULER_COSTS_FILE: join(artifacts, 'costs.json'),
    });
    bus = app.get(NatsBus);
    jobs = app.get(JobRepository);
  });

  afterAll(() => svc.close());

  const requests = async (jobId: string) => (await readStored(prefix, 'job.requested')).filter((e) => e.data.spec.jobId === jobId).map((e) => e.data.spec);
  const ref = (jobId: string, runId: string, attempt: number) => ({ jobId, runId, symbol: 'BTCUSDT', attempt });

  it('retries a retryable failure as a new attempt, ignores the stale repeat, and fails for good on a deterministic error', async () => {
    await bus.publish('run.requested', { runId: 'retry-run', trigger: 'api', symbols: ['BTCUSDT'] });
    const jobId = 'retry-run-BTCUSDT';
    await waitFor(async () => (await requests(jobId)).length === 1, 'the first job request');
    expect((await requests(jobId))[0].costs).toEqual({ feeBps: 4, spreadBps: 1 });
    expect(JSON.parse(readFileSync(join(artifacts, 'runs/retry-run/costs.json'), 'utf8')).costs).toEqual({ BTCUSDT: { feeBps: 4, spreadBps: 1 } });

    const oom = { ...ref(jobId, 'retry-run', 1), errorType: 'oom' as const, retryable: true, message: 'CUDA out of memory', stackSummary: 'at train (train.py:10)' };
    await bus.publish('job.failed', oom);
    const second = await waitFor(async () => (await requests(jobId)).find((s) => s.attempt === 2), 'the retry');
    expect(second.specHash).toBe((await requests(jobId))[0].specHash);
    // The attempt after running out of memory trains with half the batch.
    expect(second.batchSizeFactor).toBe(0.5);
    expect((await requests(jobId))[0].batchSizeFactor).toBeUndefined();
    expect((await readStored(prefix, 'job.retrying')).map((e) => e.data)).toEqual([expect.objectContaining({ jobId, attempt: 1, nextAttempt: 2, errorType: 'oom' })]);

    await bus.publish('job.failed', oom);
    await bus.publish('job.failed', { ...ref(jobId, 'retry-run', 2), errorType: 'bad_data', retryable: false, message: 'gap in candles' });
    const completed = await waitFor(async () => (await readStored(prefix, 'run.completed')).find((e) => e.data.runId === 'retry-run'), 'run.completed');
    expect(completed.data.status).toBe('failed');
    expect(completed.data.summary.by_symbol.BTCUSDT).toMatchObject({ status: 'failed', attempts: 2, error: 'bad_data: gap in candles' });

    const attempts = await jobs.attempts(jobId);
    expect(attempts.map((a) => [a.attempt, a.status, a.errorType, a.message])).toEqual([
      [1, 'failed', 'oom', 'CUDA out of memory'],
      [2, 'failed', 'bad_data', 'gap in candles'],
    ]);
    expect(attempts[0]?.stackSummary).toBe('at train (train.py:10)');
  });

  it('hands a retry its latest checkpoint and the ones before it, newest first, to fall back to', async () => {
    await bus.publish('run.requested', { runId: 'fallback-run', trigger: 'api', symbols: ['BTCUSDT'] });
    const jobId = 'fallback-run-BTCUSDT';
    await waitFor(async () => (await requests(jobId)).length === 1, 'the first request');
    const ckpt = (epoch: number) => ({ uri: `file:///ckpt/epoch-${epoch}.pt`, key: `models/BTCUSDT/a1/checkpoints/epoch-${epoch}.pt`, sha256: String(epoch).repeat(64) });
    for (let epoch = 1; epoch <= 6; epoch++) {
      await bus.publish('job.checkpointed', { ...ref(jobId, 'fallback-run', 1), checkpoint: ckpt(epoch) });
      await waitFor(async () => (await jobs.find(jobId))?.checkpoint?.sha256 === ckpt(epoch).sha256, `checkpoint ${epoch} recorded`);
    }
    await bus.publish('job.failed', { ...ref(jobId, 'fallback-run', 1), errorType: 'agent_lost', retryable: true, message: 'the agent was killed' });
    const retry = await waitFor(async () => (await requests(jobId)).find((s) => s.attempt === 2), 'the retry');
    expect(retry.resumeFrom).toEqual(ckpt(6));
    expect(retry.earlierCheckpoints).toEqual([ckpt(5), ckpt(4), ckpt(3), ckpt(2)]);
    expect((await requests(jobId))[0].earlierCheckpoints).toBeUndefined();
  });

  it('releases no more than maxConcurrent jobs at once, and the next as one finishes', async () => {
    await bus.publish('run.requested', { runId: 'wide-run', trigger: 'api', symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT'], maxConcurrent: 2 });
    const released = async () => (await readStored(prefix, 'job.requested')).map((e) => e.data.spec).filter((s) => s.runId === 'wide-run');
    await waitFor(async () => (await released()).length === 2, 'two releases');
    await new Promise((r) => setTimeout(r, 500));
    expect(await released()).toHaveLength(2);
    const first = (await released())[0];
    await bus.publish('job.started', { ...ref(first.jobId, 'wide-run', 1), symbol: first.symbol, agentId: 'a1', leaseId: 'l1', workDir: '/tmp/x' });
    await bus.publish('job.cancelled', { ...ref(first.jobId, 'wide-run', 1), symbol: first.symbol, reason: 'operator' });
    await waitFor(async () => (await released()).length === 3, 'the third release');
  });

  it('skips what the ledger says was trained, unless forced, and resumes a failed training from its checkpoint', async () => {
    const succeed = async (runId: string, symbol: string) => {
      const jobId = `${runId}-${symbol}`;
      await waitFor(async () => (await requests(jobId)).length === 1, `the request of ${jobId}`);
      const now = new Date().toISOString();
      await bus.publish('job.succeeded', {
        jobId,
        runId,
        symbol,
        attempt: 1,
        agentId: 'a1',
        leaseId: `${jobId}-lease`,
        date: '2026-11-01',
        featureset: 'fs1',
        costs: { feeBps: 10, spreadBps: 2 },
        artifactsPrefix: `models/${symbol}/20261102_000000Z`,
        artifacts: [{ name: 'model.bin', uri: 'file:///m', sha256: 'b'.repeat(64), bytes: 1 }],
        metrics: { directionalHitRate: 0.55, sharpe: 1, maxDrawdown: 0.1, totalReturn: 0.1, mae: 0, rmse: 0, mape: 0, r2: 0 },
        evaluationWindow: { from: now, to: now, candles: 100 },
        trainSeconds: 1,
        startedAt: now,
        finishedAt: now,
      });
    };
    const completion = (runId: string) => waitFor(async () => (await readStored(prefix, 'run.completed')).find((e) => e.data.runId === runId)?.data, `${runId} completed`);

    await bus.publish('run.requested', { runId: 'ledger-1', trigger: 'api', date: '2026-11-01', symbols: ['BTCUSDT', 'ETHUSDT'] });
    await succeed('ledger-1', 'BTCUSDT');
    const ethId = 'ledger-1-ETHUSDT';
    await waitFor(async () => (await requests(ethId)).length === 1, 'the ETH request');
    await bus.publish('job.checkpointed', { ...ref(ethId, 'ledger-1', 1), symbol: 'ETHUSDT', checkpoint: { uri: 'file:///ckpt/epoch-7', sha256: 'c'.repeat(64) } });
    await waitFor(async () => (await jobs.find(ethId))?.checkpoint, 'the checkpoint recorded');
    await bus.publish('job.failed', { ...ref(ethId, 'ledger-1', 1), symbol: 'ETHUSDT', errorType: 'bad_data', retryable: false, message: 'gap' });
    await completion('ledger-1');

    await bus.publish('run.requested', { runId: 'ledger-2', trigger: 'api', date: '2026-11-01', symbols: ['BTCUSDT', 'ETHUSDT'] });
    const retrain = await waitFor(async () => (await requests('ledger-2-ETHUSDT'))[0], 'ETH trained again');
    expect(retrain.resumeFrom).toEqual({ uri: 'file:///ckpt/epoch-7', sha256: 'c'.repeat(64) });
    expect(await requests('ledger-2-BTCUSDT')).toHaveLength(0);
    const planned = (await readStored(prefix, 'run.planned')).find((e) => e.data.runId === 'ledger-2')!.data;
    expect(planned.skipped).toEqual([{ symbol: 'BTCUSDT', reason: expect.stringMatching(/already trained by ledger-1-BTCUSDT/) }]);
    await succeed('ledger-2', 'ETHUSDT');
    const second = await completion('ledger-2');
    expect(second.summary).toMatchObject({ succeeded: 1, skipped: 1 });
    expect(second.status).toBe('succeeded');

    await bus.publish('run.requested', { runId: 'ledger-3', trigger: 'api', date: '2026-11-01', symbols: ['BTCUSDT'], force: true });
    await waitFor(async () => (await requests('ledger-3-BTCUSDT')).length === 1, 'BTC trained again when forced');

    await bus.publish('run.requested', { runId: 'ledger-4', trigger: 'api', date: '2026-11-01', symbols: ['BTCUSDT', 'ETHUSDT'] });
    const allSkipped = await completion('ledger-4');
    expect(allSkipped.summary).toMatchObject({ skipped: 2, succeeded: 0 });
  });

  it('requests the daily run once its slot has passed, with an id derived from the date', async () => {
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const runId = `daily-${yesterday.replaceAll('-', '')}`;
    const planned = await waitFor(async () => (await readStored(prefix, 'run.planned')).find((e) => e.data.runId === runId)?.data, 'the daily run planned');
    expect(planned.jobs.map((j: { symbol: string }) => j.symbol)).toEqual(['BTCUSDT', 'ETHUSDT']);
    const request = (await readStored(prefix, 'run.requested')).filter((e) => e.data.runId === runId);
    expect(request).toHaveLength(1);
    expect(request[0]?.data).toMatchObject({ trigger: 'cron', date: yesterday, symbols: { topN: 2 } });
  });

  it('treats a second trigger of the same daily run as the same run: no new jobs', async () => {
    const request = { trigger: 'cron' as const, date: '2026-10-05', symbols: ['SOLUSDT', 'XRPUSDT'] };
    await bus.publish('run.requested', request, { id: 'first-trigger' });
    await waitFor(async () => (await jobs.ofRun('daily-20261005')).length === 2, 'the daily run stored');
    await bus.publish('run.requested', request, { id: 'second-trigger' });
    await waitFor(async () => (await readStored(prefix, 'run.requested')).filter((e) => e.data.date === '2026-10-05').length === 2, 'both triggers on the bus');
    await new Promise((r) => setTimeout(r, 500));
    expect(await jobs.ofRun('daily-20261005')).toHaveLength(2);
    expect((await readStored(prefix, 'run.planned')).filter((e) => e.data.runId === 'daily-20261005')).toHaveLength(1);
  });

  it('releases longest-expected first under a concurrency cap, from past durations', async () => {
    const seconds = { AAAUSDT: 60, BBBUSDT: 900, CCCUSDT: 300, DDDUSDT: 30 };
    const symbols = Object.keys(seconds);
    await bus.publish('run.requested', { runId: 'history', trigger: 'api', date: '2026-10-01', symbols, mode: 'parallel' });
    for (const [symbol, trainSeconds] of Object.entries(seconds)) {
      const jobId = `history-${symbol}`;
      await waitFor(async () => (await requests(jobId)).length === 1, `request of ${jobId}`);
      const t = new Date().toISOString();
      await bus.publish('job.succeeded', {
        jobId,
        runId: 'history',
        symbol,
        attempt: 1,
        agentId: 'a1',
        leaseId: `${jobId}-l`,
        date: '2026-10-01',
        featureset: 'fs1',
        costs: { feeBps: 10, spreadBps: 2 },
        artifactsPrefix: `models/${symbol}/x`,
        artifacts: [{ name: 'model.bin', uri: 'file:///m', sha256: 'd'.repeat(64), bytes: 1 }],
        metrics: { directionalHitRate: 0.5, sharpe: 0, maxDrawdown: 0, totalReturn: 0, mae: 0, rmse: 0, mape: 0, r2: 0 },
        evaluationWindow: { from: t, to: t, candles: 10 },
        trainSeconds,
        startedAt: t,
        finishedAt: t,
      });
    }
    await waitFor(async () => (await readStored(prefix, 'run.completed')).some((e) => e.data.runId === 'history'), 'history completed');

    await bus.publish('run.requested', { runId: 'ordered', trigger: 'api', date: '2026-10-02', symbols: [...symbols, 'NEWUSDT'], mode: 'sequential' });
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      const next = await waitFor(
        async () => {
          const released = (await readStored(prefix, 'job.requested')).map((e) => e.data.spec).filter((sp) => sp.runId === 'ordered');
          return released.length === i + 1 ? released[i] : null;
        },
        `release ${i + 1}`,
      );
      order.push(next.symbol);
      await bus.publish('job.cancelled', { jobId: next.jobId, runId: 'ordered', symbol: next.symbol, attempt: 1, reason: 'next please' });
    }
    // A symbol never trained gets the default of 10 minutes.
    expect(order).toEqual(['BBBUSDT', 'NEWUSDT', 'CCCUSDT', 'AAAUSDT', 'DDDUSDT']);
  });

  it('plans a dry run with its forecast and launches nothing', async () => {
    await bus.publish('run.requested', { runId: 'dry', trigger: 'api', date: '2026-10-03', symbols: ['QQQUSDT', 'RRRUSDT', 'SSSUSDT'], dryRun: true, maxConcurrent: 2 });
    const plan = await waitFor(async () => (await readStored(prefix, 'run.planned')).find((e) => e.data.runId === 'dry')?.data, 'the plan');
    expect(plan.dryRun).toBe(true);
    expect(plan.jobs.map((j: { symbol: string }) => j.symbol)).toHaveLength(3);
    expect(plan.forecast.wallMinutes).toBeCloseTo((3 * 10) / 2, 5);
    await new Promise((r) => setTimeout(r, 500));
    expect((await readStored(prefix, 'job.requested')).filter((e) => e.data.spec.runId === 'dry')).toHaveLength(0);
    expect((await readStored(prefix, 'run.started')).filter((e) => e.data.runId === 'dry')).toHaveLength(0);
  });

  it('forecasts rented capacity with the boot and bootstrap each instance bills before it works', async () => {
    const kv = await bus.keyValue(capacityBucket(prefix));
    const rental = { provisionSeconds: 240, maxInstances: 2, pricePerHour: 0.5 };
    await kv.put(CAPACITY_KEY, JSON.stringify({ agents: 0, gpus: 0, cpuSlots: 0, pricePerHour: 0.5, rental, updatedAt: new Date().toISOString() }));
    try {
      await bus.publish('run.requested', { runId: 'dry-rented', trigger: 'api', date: '2026-10-04', symbols: ['QQQUSDT', 'RRRUSDT', 'SSSUSDT'], dryRun: true, maxConcurrent: 3 });
      const plan = await waitFor(async () => (await readStored(prefix, 'run.planned')).find((e) => e.data.runId === 'dry-rented')?.data, 'the plan');
      // Three 10-minute jobs on at most two instances, each billing 4 minutes of boot first.
      expect(plan.forecast.cost).toBeCloseTo((3 * 600 * 0.5) / 3600 + (2 * 240 * 0.5) / 3600, 9);
      expect(plan.forecast.wallMinutes).toBeCloseTo((3 * 10) / 3 + 4, 5);
    } finally {
      await kv.delete(CAPACITY_KEY);
    }
  });
});
