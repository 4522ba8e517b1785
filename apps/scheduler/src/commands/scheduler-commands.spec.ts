import { NatsBus } from '@trainyard/messaging';
import { readStored, TestService, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { schedulerEnv } from '../config/scheduler.config';
import { JobRepository } from '../repositories/job.repository';
import { etaMinutes } from './run-views';

jest.setTimeout(60_000);

describe('run ETA', () => {
  const now = new Date('2026-11-23T01:00:00Z');
  const job = (status: 'pending' | 'running' | 'succeeded', expectedSeconds: number, progress: { percent: number; etaSeconds?: number; at: string } | null = null) => ({
    status,
    expectedSeconds,
    progress,
  });

  it('spreads the remaining work over the slots, never below the longest job, from progress where reported', () => {
    expect(etaMinutes([job('pending', 600), job('pending', 600), job('succeeded', 600)], 2, now)).toBe(10);
    expect(etaMinutes([job('pending', 600), job('pending', 600), job('pending', 600), job('pending', 600)], 2, now)).toBe(20);
    expect(etaMinutes([job('pending', 60), job('pending', 1200)], 4, now)).toBe(20);
    expect(etaMinutes([job('running', 600, { percent: 50, at: now.toISOString() })], 1, now)).toBe(5);
    expect(etaMinutes([job('running', 600, { percent: 10, etaSeconds: 180, at: '2026-11-23T00:59:00Z' })], 1, now)).toBe(2);
    expect(etaMinutes([job('succeeded', 600)], 1, now)).toBe(0);
  });
});

/** The scheduler's bus commands and queries, on real NATS and PostgreSQL. */
describe('scheduler commands and queries over the bus', () => {
  const svc = new TestService({ env: schedulerEnv, module: AppModule.forRoot, prefix: 'scmd' });
  const { prefix } = svc;
  let bus: NatsBus;
  let jobs: JobRepository;

  beforeAll(async () => {
    const app = await svc.start({ SCHEDULER_TICK_MS: '100' });
    bus = app.get(NatsBus);
    jobs = app.get(JobRepository);
    await bus.publish('run.requested', { runId: 'ops', trigger: 'telegram', symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'], maxConcurrent: 1, promote: 'auto', canary: true, requestedBy: 'telegram:42' });
    await waitFor(async () => (await jobs.ofRun('ops')).some((j) => j.status === 'released'), 'the run stored and its first job released');
  });

  afterAll(() => svc.close());

  const result = (commandId: string) => waitFor(async () => (await readStored(prefix, 'command.result')).map((e) => e.data).find((d) => d.commandId === commandId), `the result of ${commandId}`);
  const jobIn = async (status: string) => (await jobs.ofRun('ops')).find((j) => j.status === status)!;

  it('reports runs in progress with job counts and an ETA, recent runs, and a run or a job by id', async () => {
    const active = await bus.query('runs.active', {});
    expect(active.runs).toEqual([
      expect.objectContaining({ runId: 'ops', status: 'running', trigger: 'telegram', requestedBy: 'telegram:42', totalJobs: 3, jobs: { released: 1, pending: 2 }, cost: 0 }),
    ]);
    // Three never-trained symbols of 10 expected minutes each, one at a time.
    expect(active.runs[0]?.etaMinutes).toBe(30);
    expect(active.slotsHeld).toBe(0);
    expect((await bus.query('runs.recent', { limit: 5 })).runs.map((r) => r.runId)).toEqual(['ops']);

    expect((await bus.query('runs.find', { id: 'ops' })).run).toMatchObject({ runId: 'ops' });
    expect((await bus.query('runs.find', { id: 'ops-ETHUSDT' })).job).toEqual({
      jobId: 'ops-ETHUSDT',
      runId: 'ops',
      symbol: 'ETHUSDT',
      status: expect.any(String),
      attempt: 1,
      maxAttempts: 3,
      errorType: null,
      errorMessage: null,
      // The run's promotion settings, which the promoter reads before registering the job's model.
      promote: 'auto',
      canary: true,
    });
    expect(await bus.query('runs.find', { id: 'nothing' })).toEqual({ run: null, job: null });
    // An asker that names the kind gets only that kind.
    expect((await bus.query('runs.find', { id: 'ops-ETHUSDT', kind: 'job' })).job).toMatchObject({ jobId: 'ops-ETHUSDT', promote: 'auto', canary: true });
    expect(await bus.query('runs.find', { id: 'ops-ETHUSDT', kind: 'run' })).toEqual({ run: null, job: null });
    expect(await bus.query('runs.find', { id: 'ops', kind: 'job' })).toEqual({ run: null, job: null });
    expect((await bus.query('runs.find', { id: 'ops', kind: 'run' })).run).toMatchObject({ runId: 'ops' });
    // Several jobs in one question (the promoter's): those that exist, as runs.find answers each.
    const { jobs } = await bus.query('runs.jobs', { ids: ['ops-ETHUSDT', 'nothing', 'ops-BTCUSDT'] });
    expect(jobs.map((j) => j.jobId).sort()).toEqual(['ops-BTCUSDT', 'ops-ETHUSDT']);
    expect(jobs.find((j) => j.jobId === 'ops-ETHUSDT')).toEqual((await bus.query('runs.find', { id: 'ops-ETHUSDT', kind: 'job' })).job);
    await expect(bus.query('runs.jobs', { ids: [] })).rejects.toThrow(/invalid runs.jobs request: ids/);
  });

  it('cancels a waiting job for an operator, retries it, refuses what cannot be done, and ignores its own cancels', async () => {
    const waiting = await jobIn('pending');
    const cancel = await bus.publish('job.cancel', { jobId: waiting.id, reason: 'not today', requestedBy: 'telegram:42' });
    expect(await result(cancel.id)).toMatchObject({ command: 'job.cancel', ok: true, message: `job ${waiting.id} cancelled`, requestedBy: 'telegram:42' });
    expect((await jobs.find(waiting.id))?.status).toBe('cancelled');

    const again = await bus.publish('job.cancel', { jobId: waiting.id, reason: 'twice', requestedBy: 'telegram:42' });
    expect(await result(again.id)).toMatchObject({ ok: false, message: `job ${waiting.id} is already cancelled` });

    const retry = await bus.publish('job.retry', { jobId: waiting.id, requestedBy: 'telegram:42' });
    expect(await result(retry.id)).toMatchObject({ command: 'job.retry', ok: true, message: `job ${waiting.id} will run again as attempt 2` });
    expect((await jobs.find(waiting.id))?.status).toBe('retry_wait');
    const unknown = await bus.publish('job.retry', { jobId: 'no-such-job', requestedBy: 'telegram:42' });
    expect(await result(unknown.id)).toMatchObject({ ok: false, message: 'no job no-such-job' });

    // A cancel of the scheduler's own (a timeout, say) names nobody: the agent acts on it, the scheduler does not.
    const other = await jobIn('pending');
    const own = await bus.publish('job.cancel', { jobId: other.id, reason: 'timeout after 45 min' });
    const marker = await bus.publish('job.retry', { jobId: 'marker', requestedBy: 'telegram:42' });
    await result(marker.id);
    expect((await readStored(prefix, 'command.result')).some((e) => e.data.commandId === own.id)).toBe(false);
    expect((await jobs.find(other.id))?.status).toBe('pending');
  });

  it('announces a job it gives up on', async () => {
    const running = await jobIn('released');
    await bus.publish('job.failed', { jobId: running.id, runId: 'ops', symbol: running.symbol, attempt: 1, errorType: 'bad_data', retryable: false, message: 'gap in candles at 2026-11-20T04:00Z' });
    const gaveUp = await waitFor(async () => (await readStored(prefix, 'job.gave_up')).find((e) => e.data.jobId === running.id), 'job.gave_up');
    expect(gaveUp.data).toMatchObject({ runId: 'ops', symbol: running.symbol, attempt: 1, errorType: 'bad_data', message: 'gap in candles at 2026-11-20T04:00Z' });
    expect((await readStored(prefix, 'job.retrying')).some((e) => e.data.jobId === running.id)).toBe(false);
  });

  it('cancels a whole run and counts the jobs that finished today', async () => {
    const cancel = await bus.publish('run.cancel', { runId: 'ops', reason: 'stop everything', requestedBy: 'telegram:42' });
    expect(await result(cancel.id)).toMatchObject({ command: 'run.cancel', ok: true, message: expect.stringMatching(/^run ops: cancelling \d unfinished jobs?$/) });
    const missing = await bus.publish('run.cancel', { runId: 'nope', reason: 'x', requestedBy: 'telegram:42' });
    expect(await result(missing.id)).toMatchObject({ ok: false, message: 'no run nope' });

    const costs = await bus.query('runs.costs', {});
    expect(costs.today.jobs).toBeGreaterThanOrEqual(2);
    expect(costs.week.jobs).toBeGreaterThanOrEqual(costs.today.jobs);
    expect(new Date(costs.week.since).getUTCDay()).toBe(1);
    expect(costs.today.since).toMatch(/T00:00:00\.000Z$/);
  });
});
