import { Logger } from '@nestjs/common';
import { connect } from '@nats-io/transport-node';
import type { QueryResponseInput } from '@trainyard/contracts';
import { deleteTestStream, testNatsUrl, testPrefix } from '@trainyard/testing';
import { NatsBus, QueryError } from './index';

const costs = (cost: number): QueryResponseInput<'runs.costs'> => {
  const window = { since: '2026-11-23T00:00:00.000Z', cost, jobs: 3, trainHours: 0.5, runs: 1 };
  return { today: window, week: { ...window, since: '2026-11-23T00:00:00.000Z' } };
};

describe('queries over NATS request/reply (real NATS)', () => {
  const prefix = testPrefix('qry');
  let asker: NatsBus;
  let answerer: NatsBus;
  let replica: NatsBus;

  beforeAll(async () => {
    // The broken-answer case logs an error by design.
    Logger.overrideLogger(false);
    const options = { natsUrl: testNatsUrl(), prefix };
    asker = await NatsBus.connect({ ...options, serviceName: 'asker' });
    answerer = await NatsBus.connect({ ...options, serviceName: 'scheduler' });
    replica = await NatsBus.connect({ ...options, serviceName: 'scheduler' });
  });

  afterAll(async () => {
    for (const bus of [asker, answerer, replica]) await bus.onApplicationShutdown();
    await deleteTestStream(prefix);
  });

  it('answers once per question across a queue group, with the validated result', async () => {
    let asked = 0;
    const subs = await Promise.all(
      [answerer, replica].map((bus) =>
        bus.answer('runs.costs', async () => {
          asked++;
          return costs(1.25);
        }),
      ),
    );
    try {
      await expect(asker.query('runs.costs', {})).resolves.toEqual(costs(1.25));
      await asker.query('runs.costs', {});
      expect(asked).toBe(2);
    } finally {
      for (const s of subs) await s.drain();
    }
  });

  it('fills request defaults before asking', async () => {
    const seen: unknown[] = [];
    const sub = await answerer.answer('runs.recent', async (req) => {
      seen.push(req);
      return { runs: [] };
    });
    try {
      await asker.query('runs.recent', {});
      expect(seen).toEqual([{ limit: 10 }]);
    } finally {
      await sub.drain();
    }
  });

  it('says who does not answer when nobody listens, and when the answer is late', async () => {
    const none = await asker.query('models.versions', { symbol: 'BTCUSDT' }).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(QueryError);
    expect(none).toMatchObject({ reason: 'no_responders', unanswered: true, message: 'the promoter does not answer models.versions (is it running?)' });

    const sub = await answerer.answer('runs.costs', () => new Promise((r) => setTimeout(() => r(costs(0)), 500)));
    try {
      const late = await asker.query('runs.costs', {}, 100).catch((e: unknown) => e);
      expect(late).toMatchObject({ reason: 'timeout', unanswered: true, message: 'the scheduler did not answer runs.costs within 0.1 s' });
    } finally {
      await sub.drain();
    }
  });

  it('passes a refusal on, and refuses answers and requests that break their schema', async () => {
    const sub = await answerer.answer('runs.find', async ({ id }) => {
      if (id === 'boom') throw new Error('database is down');
      return { run: null, job: { jobId: id } } as never;
    });
    try {
      await expect(asker.query('runs.find', { id: 'boom' })).rejects.toMatchObject({ reason: 'refused', unanswered: false, message: 'the scheduler refused runs.find: database is down' });
      await expect(asker.query('runs.find', { id: 'job-1' })).rejects.toThrow(/refused runs.find: the answer broke its schema/);
      await expect(asker.query('runs.find', { id: '../etc' })).rejects.toThrow(/invalid runs.find request: id: an id is/);

      // Another client that skips the schema still gets a reasoned refusal.
      const raw = await connect({ servers: testNatsUrl() });
      try {
        const reply = await raw.request(`query.${prefix}.runs.find`, JSON.stringify({ id: 'a b' }), { timeout: 2000 });
        expect(JSON.parse(reply.string())).toEqual({ ok: false, error: expect.stringMatching(/^invalid request: id: /) });
      } finally {
        await raw.close();
      }
    } finally {
      await sub.drain();
    }
  });

  it('refuses an answer larger than the server takes, saying so, instead of leaving the asker to time out', async () => {
    // 2,000 runs of about 1 KB each: 2 MB, over nats-server's default 1 MiB max_payload.
    const run = (i: number): QueryResponseInput<'runs.recent'>['runs'][number] => ({
      runId: `run-${i}`,
      date: '2026-11-23',
      trigger: 'api',
      status: 'succeeded',
      mode: 'parallel',
      maxConcurrent: 4,
      requestedBy: 'x'.repeat(1000),
      createdAt: '2026-11-23T00:00:00.000Z',
      startedAt: null,
      completedAt: null,
      totalJobs: 1,
      jobs: { succeeded: 1 },
      cost: 0,
      etaMinutes: null,
    });
    const sub = await answerer.answer('runs.recent', async () => ({ runs: Array.from({ length: 2000 }, (_, i) => run(i)) }));
    try {
      const refused = await asker.query('runs.recent', { limit: 10 }, 5000).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(QueryError);
      expect(refused).toMatchObject({ reason: 'refused', message: expect.stringMatching(/the answer is \d+ bytes, over the \d+ the bus takes/) });
      // The answering side is still there.
      await expect(asker.query('runs.recent', { limit: 10 }, 5000)).rejects.toMatchObject({ reason: 'refused' });
    } finally {
      await sub.drain();
    }
  });

  it('keeps questions out of the stream', async () => {
    const sub = await answerer.answer('runs.costs', async () => costs(0));
    try {
      await asker.query('runs.costs', {});
      const info = await asker.jsm.streams.info(asker.streamName);
      expect(info.state.messages).toBe(0);
    } finally {
      await sub.drain();
    }
  });
});
