import type { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EventMessage } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { readStored, TestService, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { schedulerEnv } from '../config/scheduler.config';
import { jobRequestId } from './dispatcher.service';
import { JobLifecycleService } from './job-lifecycle.service';
import { ReconcilerService } from './reconciler.service';
import { JobRepository } from '../repositories/job.repository';

jest.setTimeout(60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Timeouts and stale attempts (issue 13, F5), the scheduler alone on real NATS and PostgreSQL; the
 * test plays the broker and the agents. A 0.01 min timeout is 0.6 s; retries wait 1 to 3 s.
 */
describe('scheduler job timeouts', () => {
  const svc = new TestService({ env: schedulerEnv, module: AppModule.forRoot, prefix: 'schedto' });
  const { prefix } = svc;
  let app: INestApplication;
  let bus: NatsBus;
  let jobs: JobRepository;
  /** job.cancelled messages the scheduler has finished handling. */
  const handledCancelled: EventMessage<'job.cancelled'>[] = [];

  beforeAll(async () => {
    app = await svc.start({ SCHEDULER_TICK_MS: '100', SCHEDULER_RETRY_BASE_SECONDS: '2', SCHEDULER_MAX_RETRIES: '1' });
    bus = app.get(NatsBus);
    jobs = app.get(JobRepository);
    const lifecycle = app.get(JobLifecycleService);
    const cancelled = lifecycle.cancelled.bind(lifecycle);
    jest.spyOn(lifecycle, 'cancelled').mockImplementation(async (m) => {
      await cancelled(m);
      handledCancelled.push(m);
    });
  });

  afterAll(() => svc.close());

  const requests = async (jobId: string) => (await readStored(prefix, 'job.requested')).filter((e) => e.data.spec.jobId === jobId).map((e) => e.data.spec);
  const cancels = async (jobId: string) => (await readStored(prefix, 'job.*.cancel')).map((e) => e.data).filter((c) => c.jobId === jobId);
  const ref = (runId: string, attempt: number) => ({ jobId: `${runId}-BTCUSDT`, runId, symbol: 'BTCUSDT', attempt });
  const started = (runId: string, attempt: number) => bus.publish('job.started', { ...ref(runId, attempt), agentId: 'a1', leaseId: `${runId}-a${attempt}-lease`, workDir: '/tmp/x' });
  const answerCancel = async (runId: string, attempt: number, reason: string) => {
    const before = handledCancelled.length;
    await bus.publish('job.cancelled', { ...ref(runId, attempt), reason });
    await waitFor(() => handledCancelled.slice(before).some((m) => m.jobId === `${runId}-BTCUSDT` && m.attempt === attempt), `job.cancelled of ${runId} attempt ${attempt} handled`);
  };
  const completion = (runId: string) => waitFor(async () => (await readStored(prefix, 'run.completed')).find((e) => e.data.runId === runId)?.data, `${runId} completed`, 30_000);
  const attemptRows = async (jobId: string) => (await jobs.attempts(jobId)).map((a) => [a.attempt, a.status, a.errorType]);

  it('retries a timed-out attempt as a new attempt; the stopped attempt answering job.cancelled is recorded and does not cancel the job', async () => {
    const runId = 'to-retry';
    const jobId = `${runId}-BTCUSDT`;
    await bus.publish('run.requested', { runId, trigger: 'api', symbols: ['BTCUSDT'], timeoutMinutes: 0.01 });
    await waitFor(async () => (await requests(jobId)).length === 1, 'attempt 1 requested');
    await started(runId, 1);

    const cancel = await waitFor(async () => (await cancels(jobId))[0], "the timeout's job.cancel");
    expect(cancel.reason).toMatch(/timeout/);
    expect(cancel.requestedBy).toBeUndefined();
    // The attempt is fenced off (failed, to be retried) before its agent is asked to stop it.
    expect((await jobs.find(jobId))!.status).toBe('retry_wait');

    // The agent stops the attempt and says so, as for any cancel: recorded, the job still waits for its retry.
    await answerCancel(runId, 1, cancel.reason);
    expect((await jobs.find(jobId))!.status).not.toBe('cancelled');
    const second = await waitFor(async () => (await requests(jobId)).find((s) => s.attempt === 2), 'attempt 2 requested', 10_000);
    expect(second.specHash).toBe((await requests(jobId))[0].specHash);

    // A repeat of the old attempt's answer, now that attempt 2 is current, changes nothing either.
    await answerCancel(runId, 1, 'late repeat');
    expect(await jobs.find(jobId)).toMatchObject({ status: 'released', attempt: 2 });
    expect(await attemptRows(jobId)).toEqual([
      [1, 'timed_out', 'timeout'],
      [2, 'requested', null],
    ]);
    expect((await readStored(prefix, 'job.retrying')).map((e) => e.data).filter((r) => r.jobId === jobId)).toEqual([expect.objectContaining({ attempt: 1, nextAttempt: 2, errorType: 'timeout' })]);

    // Attempt 2 can still cancel the job: its own job.cancelled is current.
    await started(runId, 2);
    await answerCancel(runId, 2, 'stopped on its agent');
    expect((await completion(runId)).summary.by_symbol.BTCUSDT).toMatchObject({ status: 'cancelled', attempts: 2 });
  });

  it('counts the timeout from the attempt starting: a job released or leased but not started is not timed out', async () => {
    const runId = 'to-queued';
    const jobId = `${runId}-BTCUSDT`;
    await bus.publish('run.requested', { runId, trigger: 'api', symbols: ['BTCUSDT'], timeoutMinutes: 0.01 });
    await waitFor(async () => (await requests(jobId)).length === 1, 'attempt 1 requested');

    // Queued at the broker for well past the timeout.
    await sleep(1500);
    expect((await jobs.find(jobId))!.status).toBe('released');
    const now = new Date().toISOString();
    const lease = { leaseId: `${jobId}-a1-lease`, agentId: 'a1', provider: 'local' as const, device: 'cpu', gpuMemoryGb: 0, pricePerHour: 0, startedAt: now, endsBy: now };
    await bus.publish('job.leased', { jobId, runId, attempt: 1, lease });
    await waitFor(async () => (await jobs.find(jobId))?.status === 'leased', 'leased');
    await sleep(1000);
    expect((await jobs.find(jobId))!.status).toBe('leased');
    expect(await cancels(jobId)).toHaveLength(0);

    const startedAt = Date.now();
    await started(runId, 1);
    await waitFor(async () => (await cancels(jobId)).length === 1, 'timed out once started');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(600);

    // The last attempt times out too: the job fails for good with the timeout as its error.
    await waitFor(async () => (await requests(jobId)).some((s) => s.attempt === 2), 'attempt 2 requested', 10_000);
    await started(runId, 2);
    const completed = await completion(runId);
    expect(completed.status).toBe('failed');
    expect(completed.summary.by_symbol.BTCUSDT).toMatchObject({ status: 'failed', attempts: 2, error: expect.stringMatching(/^timeout/) });
    expect(await cancels(jobId)).toHaveLength(2);
    expect(await attemptRows(jobId)).toEqual([
      [1, 'timed_out', 'timeout'],
      [2, 'timed_out', 'timeout'],
    ]);
  });

  it("still cancels on an operator's cancel: a running job once its agent stops it, a job waiting for its retry at once", async () => {
    const running = 'to-op-running';
    await bus.publish('run.requested', { runId: running, trigger: 'api', symbols: ['BTCUSDT'], timeoutMinutes: 10 });
    await waitFor(async () => (await requests(`${running}-BTCUSDT`)).length === 1, 'requested');
    await started(running, 1);
    await waitFor(async () => (await jobs.find(`${running}-BTCUSDT`))?.status === 'running', 'running');
    await bus.publish('job.cancel', { jobId: `${running}-BTCUSDT`, reason: 'operator says stop', requestedBy: 'test' });
    await waitFor(async () => (await cancels(`${running}-BTCUSDT`)).length === 2, "the scheduler's job.cancel to the agent");
    await answerCancel(running, 1, 'operator says stop');
    expect((await completion(running)).status).toBe('cancelled');

    const waiting = 'to-op-waiting';
    const jobId = `${waiting}-BTCUSDT`;
    await bus.publish('run.requested', { runId: waiting, trigger: 'api', symbols: ['BTCUSDT'], timeoutMinutes: 0.01 });
    await waitFor(async () => (await requests(jobId)).length === 1, 'requested');
    await started(waiting, 1);
    await waitFor(async () => (await jobs.find(jobId))?.status === 'retry_wait', 'timed out, waiting for its retry');
    await bus.publish('run.cancel', { runId: waiting, reason: 'operator cancels the run', requestedBy: 'test' });
    const completed = await completion(waiting);
    expect(completed.status).toBe('cancelled');
    expect(await jobs.find(jobId)).toMatchObject({ status: 'cancelled', attempt: 1 });
    expect(await requests(jobId)).toHaveLength(1);
  });

  it('asks the broker again about a release it has not leased after 30 s, under an id of its own so the stream keeps it: no second attempt', async () => {
    const runId = 'to-stale';
    const jobId = `${runId}-BTCUSDT`;
    await bus.publish('run.requested', { runId, trigger: 'api', symbols: ['BTCUSDT'], timeoutMinutes: 0.01 });
    await waitFor(async () => (await requests(jobId)).length === 1, 'attempt 1 requested');
    await app.get(DataSource).query(`UPDATE scheduler.jobs SET released_at = released_at - interval '1 minute' WHERE id = $1`, [jobId]);
    const publish = jest.spyOn(bus, 'publish');
    try {
      // The reconciler's last republish is long past: its next tick republishes stale releases.
      (app.get(ReconcilerService) as unknown as { lastRepublish: number | null }).lastRepublish = 0;
      const republished = await waitFor(() => publish.mock.calls.find(([subject, data]) => subject === 'job.requested' && (data as { spec: { jobId: string } }).spec.jobId === jobId), 'the republish');
      expect(republished[1]).toMatchObject({ spec: { jobId, attempt: 1 } });
      expect(republished[2]!.id).toMatch(new RegExp(`^${jobRequestId(jobId, 1)}-r\\d+$`));
    } finally {
      publish.mockRestore();
    }
    await waitFor(async () => (await requests(jobId)).length === 2, 'the repeated request stored');
    expect(await jobs.find(jobId)).toMatchObject({ status: 'released', attempt: 1 });
    expect(await attemptRows(jobId)).toEqual([[1, 'requested', null]]);
  });

  it("sends a timed-out attempt's job.cancel again when its first publish failed, ahead of the next attempt's request", async () => {
    const runId = 'to-cancel-lost';
    const jobId = `${runId}-BTCUSDT`;
    await bus.publish('run.requested', { runId, trigger: 'api', symbols: ['BTCUSDT'], timeoutMinutes: 0.01 });
    await waitFor(async () => (await requests(jobId)).length === 1, 'attempt 1 requested');
    // JetStream refuses the timeout's cancel once, after the attempt was fenced off.
    const publish = bus.publish.bind(bus);
    let refused = 0;
    const spy = jest.spyOn(bus, 'publish').mockImplementation(((name: string, input: unknown, opts?: { id?: string }) => {
      if (name === 'job.cancel' && (input as { jobId: string }).jobId === jobId && refused === 0) {
        refused++;
        return Promise.reject(new Error('503 no responders: JetStream not available'));
      }
      return publish(name as never, input as never, opts);
    }) as typeof bus.publish);
    try {
      await started(runId, 1);
      await waitFor(() => refused === 1, 'the first cancel refused');
      const stored = await waitFor(
        async () => {
          const all = await readStored(prefix, '>');
          return all.some((e) => e.data.spec?.jobId === jobId && e.data.spec.attempt === 2) ? all : null;
        },
        'attempt 2 requested',
        30_000,
      );
      const cancelAt = stored.findIndex((e) => e.subject.endsWith('.cancel') && e.data.jobId === jobId);
      const secondAt = stored.findIndex((e) => e.data.spec?.jobId === jobId && e.data.spec.attempt === 2);
      expect(cancelAt).toBeGreaterThanOrEqual(0);
      expect(cancelAt).toBeLessThan(secondAt);
      expect(await cancels(jobId)).toEqual([expect.objectContaining({ reason: 'timeout after 0.01 min' })]);
    } finally {
      spy.mockRestore();
    }
  });
});
