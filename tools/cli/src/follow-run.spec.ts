import type { EventInput, QueryResponseInput, RunStatus } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { deleteTestStream, testNatsUrl, testPrefix, waitFor } from '@trainyard/testing';
import { existingRunStart, followRun } from './follow-run';

const completed = (runId: string, status: RunStatus): EventInput<'run.completed'> => ({
  runId,
  date: '2026-11-20',
  status,
  summary: { total_symbols: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0, avg_train_minutes: 0, median_train_minutes: 0, total_wall_minutes: 0, cost: 0, by_symbol: {} },
  summaryUri: null,
});

const runView = (runId: string, createdAt: string): NonNullable<QueryResponseInput<'runs.find'>['run']> => ({
  runId,
  date: '2026-11-20',
  trigger: 'api',
  status: 'succeeded',
  mode: 'parallel',
  maxConcurrent: 1,
  requestedBy: 'cli',
  createdAt,
  startedAt: createdAt,
  completedAt: createdAt,
  totalJobs: 0,
  jobs: {},
  cost: 0,
  etaMinutes: null,
});

describe('followRun (real NATS)', () => {
  const prefix = testPrefix('follow');
  let cli: NatsBus;
  let scheduler: NatsBus;
  const nextSeq = async () => (await cli.jsm.streams.info(cli.streamName)).state.last_seq + 1;
  const follow = (runId: string, fromSeq: number, since: Date | null) =>
    followRun(cli, { runId, requestId: `${runId}-request`, fromSeq, since, dryRun: false, timeoutMs: 20_000, onEvent: () => undefined });

  beforeAll(async () => {
    const options = { natsUrl: testNatsUrl(), prefix };
    scheduler = await NatsBus.connect({ ...options, serviceName: 'scheduler' });
    cli = await NatsBus.connect({ ...options, serviceName: 'cli' });
  });

  afterAll(async () => {
    for (const bus of [cli, scheduler]) await bus.onApplicationShutdown();
    await deleteTestStream(prefix);
  });

  it('reads from the request on: an earlier run.completed of the same id is not taken for this run', async () => {
    await scheduler.publish('run.completed', completed('again', 'failed'));
    const fromSeq = await nextSeq();
    const outcome = follow('again', fromSeq, null);
    await scheduler.publish('run.completed', completed('again', 'succeeded'));
    await expect(outcome).resolves.toMatchObject({ kind: 'completed', message: { status: 'succeeded' } });
  });

  it('finds a run that completed before the request from the creation time the scheduler reports', async () => {
    const createdAt = new Date().toISOString();
    await scheduler.publish('run.completed', completed('done-before', 'partial'));
    const sub = await scheduler.answer('runs.find', async ({ id }) => ({ run: id === 'done-before' ? runView(id, createdAt) : null, job: null }));
    try {
      const since = await existingRunStart(cli, 'done-before');
      expect(since?.getTime()).toBeLessThan(Date.parse(createdAt));
      await expect(follow('done-before', await nextSeq(), since)).resolves.toMatchObject({ kind: 'completed', message: { status: 'partial' } });
      // A run the scheduler does not know starts after the request.
      await expect(existingRunStart(cli, 'unknown-run')).resolves.toBeNull();
    } finally {
      await sub.drain();
    }
  });

  it('says once that no scheduler has answered, and goes on following (a run requested while the stack was down waited its 12 hours in silence)', async () => {
    let notices = 0;
    const fromSeq = await nextSeq();
    // As the CLI does: the request first, on the stream the run is followed on.
    await cli.publish('run.requested', { runId: 'unanswered', trigger: 'cli', symbols: ['BTCUSDT'] }, { id: 'unanswered-request' });
    const outcome = followRun(cli, {
      runId: 'unanswered',
      requestId: 'unanswered-request',
      fromSeq,
      dryRun: false,
      timeoutMs: 20_000,
      onEvent: () => undefined,
      onUnanswered: () => notices++,
      unansweredMs: 200,
    });
    await waitFor(() => notices > 0, 'the notice');
    // The request waited on the bus: a scheduler that starts later still runs it, and it is followed to the end.
    await scheduler.publish('run.completed', completed('unanswered', 'succeeded'));
    await expect(outcome).resolves.toMatchObject({ kind: 'completed', message: { status: 'succeeded' } });
    expect(notices).toBe(1);
  });

  it('reads from the start of the stream when no scheduler answers whether the run exists', async () => {
    await expect(existingRunStart(cli, 'anything')).resolves.toEqual(new Date(0));
  });
});
