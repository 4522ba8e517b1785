import type { INestApplication } from '@nestjs/common';
import type { JobSpec } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { readStored, TestService, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { schedulerEnv } from '../config/scheduler.config';

jest.setTimeout(400_000);

const TOKEN = 'operator-token-for-the-specs-0001';

/** A trial's quality from its learning rate: best at 0.01 (sharpe 1), worse the further away on a log scale. */
const quality = (lr: number) => 1 - (Math.log10(lr) + 2) ** 2 / 4;

/**
 * Studies on the scheduler alone, on real NATS and PostgreSQL; the test plays the broker and an
 * agent that trains each trial as its params say, reporting a validation curve step by step.
 */
describe('hyperparameter studies', () => {
  const svc = new TestService({ env: schedulerEnv, module: AppModule.forRoot, prefix: 'study', listen: true });
  const { prefix } = svc;
  let app: INestApplication;
  let base: string;
  let stopAgent = false;
  let agentLoop: Promise<void> = Promise.resolve();

  /** Answers every trial's request: started, the curve one step at a time (stopping when cancelled), then succeeded. */
  const agent = async () => {
    const handled = new Set<string>();
    while (!stopAgent) {
      const requests = (await readStored(prefix, 'job.requested').catch(() => [])).map((e) => e.data.spec as JobSpec).filter((s) => s.purpose === 'search');
      for (const spec of requests) {
        const key = `${spec.jobId}#${spec.attempt}`;
        if (handled.has(key) || stopAgent) continue;
        handled.add(key);
        // Cut short (the scheduler restarting under it): trained again, as an agent would retry a report.
        await train(spec).catch(() => handled.delete(key));
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const train = async (spec: JobSpec) => {
    const bus = app.get(NatsBus);
    const ref = { jobId: spec.jobId, runId: spec.runId, symbol: spec.symbol, attempt: spec.attempt };
    const leaseId = `${spec.jobId}-a${spec.attempt}-lease`;
    await bus.publish('job.started', { ...ref, agentId: 'sim', leaseId, workDir: '/w', artifactsPrefix: `models/${spec.symbol}/${spec.jobId}` });
    const q = quality(spec.model.learningRate);
    for (let step = 1; step <= 5; step++) {
      await bus.publish('job.progress', { ...ref, percent: step * 20, points: [{ step, at: new Date().toISOString(), values: { validationMetric: q * step } }] });
      await waitFor(async () => (await get(`/experiments/runs/${spec.jobId}-a${spec.attempt}/metrics/validationMetric`)).body.points?.length >= step, `${spec.jobId} step ${step} stored`);
      if ((await readStored(prefix, 'job.*.cancel')).some((e) => e.data.jobId === spec.jobId)) {
        await bus.publish('job.cancelled', { ...ref, reason: 'pruned' });
        return;
      }
    }
    const now = new Date().toISOString();
    await bus.publish('job.succeeded', {
      ...ref,
      agentId: 'sim',
      leaseId,
      date: spec.date,
      featureset: spec.featureset,
      costs: spec.costs,
      artifactsPrefix: `models/${spec.symbol}/${spec.jobId}`,
      artifacts: [{ name: 'model.json', uri: 'file:///m', sha256: 'c'.repeat(64), bytes: 1 }],
      metrics: { directionalHitRate: 0.5, sharpe: q, maxDrawdown: 0.1, totalReturn: 0, mae: 0, rmse: 0, mape: 0, r2: 0 },
      evaluationWindow: { from: now, to: now, candles: 10 },
      trainSeconds: 1,
      startedAt: now,
      finishedAt: now,
    });
  };

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const get = (path: string) => call('GET', path);

  beforeAll(async () => {
    app = await svc.start({ SCHEDULER_TICK_MS: '100', API_OPERATOR_TOKENS: TOKEN });
    base = svc.url;
    agentLoop = agent();
  });

  afterAll(async () => {
    stopAgent = true;
    await agentLoop;
    await svc.close();
  });

  const space = { 'model.learningRate': { type: 'float', low: 0.0001, high: 1, log: true }, 'model.epochs': { type: 'int', low: 1, high: 5 } };

  it('runs a study trial by trial, low-priority search jobs with their params, through a scheduler restart, repeating no finished trial', async () => {
    const created = await call('POST', '/studies', { studyId: 'st-random', symbol: 'BTCUSDT', space, trials: 6, parallel: 2, sampler: 'random', seed: 7, objective: 'sharpe' });
    expect(created).toMatchObject({ status: 201, body: { id: 'st-random', status: 'running', direction: 'maximize', trialsPlanned: 6 } });
    // The same request again is the same study; another under its id is refused.
    expect((await call('POST', '/studies', { studyId: 'st-random', symbol: 'BTCUSDT', space, trials: 6, parallel: 2, sampler: 'random', seed: 7, objective: 'sharpe' })).status).toBe(201);
    expect((await call('POST', '/studies', { studyId: 'st-random', symbol: 'BTCUSDT', space, trials: 7, parallel: 2, sampler: 'random', seed: 7 })).status).toBe(409);

    await waitFor(async () => (await get('/studies/st-random')).body.trials.filter((t: { state: string }) => t.state === 'complete').length >= 3, 'three trials done', 120_000);
    // The scheduler stops mid-study and comes back on the same database.
    app = await svc.restart();
    base = svc.url;
    const done = await waitFor(
      async () => {
        const s = (await get('/studies/st-random')).body;
        return s.status === 'completed' ? s : null;
      },
      'the study completed',
      240_000,
    );
    expect(done.trials.map((t: { number: number }) => t.number)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(done.trials.every((t: { state: string }) => t.state === 'complete')).toBe(true);
    // Each trial was asked for once: one attempt of one job, none created again after the restart.
    const asked = (await readStored(prefix, 'job.requested')).map((e) => e.data.spec as JobSpec).filter((s) => s.runId === 'st-random');
    for (const t of done.trials) expect(new Set(asked.filter((s) => s.jobId === t.jobId).map((s) => s.attempt))).toEqual(new Set([1]));
    expect(new Set(asked.map((s) => s.jobId)).size).toBe(6);
    const values = done.trials.map((t: { value: number }) => t.value);
    expect(done.best.value).toBe(Math.max(...values));
    expect(done.history.at(-1).best).toBe(done.best.value);
    expect(Object.keys(done.importance).sort()).toEqual(['model.epochs', 'model.learningRate']);

    const specs = (await readStored(prefix, 'job.requested')).map((e) => e.data.spec as JobSpec).filter((s) => s.runId === 'st-random');
    expect(specs.every((s) => s.purpose === 'search' && s.priority === 'low')).toBe(true);
    // What the promoter learns of a trial before registering it: never promoted.
    expect((await app.get(NatsBus).query('runs.find', { id: done.trials[0].jobId })).job).toMatchObject({ promote: 'off', canary: false });
    for (const t of done.trials) expect(specs.find((s) => s.jobId === t.jobId)?.model.learningRate).toBe(t.params['model.learningRate']);
    // An empty list is truthy: wait for the event itself, not for the read.
    const completed = await waitFor(async () => {
      const events = (await readStored(prefix, 'run.completed')).filter((e) => e.data.runId === 'st-random');
      return events.length ? events : null;
    }, 'the run completed');
    expect(completed).toHaveLength(1);
    expect(Object.keys(completed[0]?.data.summary.by_symbol).sort()).toEqual(done.trials.map((t: { jobId: string }) => t.jobId).sort());

    for (const chart of ['history', 'importance']) {
      const res = await fetch(`${base}/studies/st-random/${chart}.png`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.headers.get('content-type')).toBe('image/png');
      expect(
        Buffer.from(await res.arrayBuffer())
          .subarray(1, 4)
          .toString(),
      ).toBe('PNG');
    }

    // Its trials are tracked runs in an experiment of their own.
    const tracked = (await get('/experiments/runs?studyId=st-random&limit=50')).body;
    expect(tracked.total).toBe(6);
    expect(tracked.runs.every((r: { experiment: string; tags: Record<string, string> }) => r.experiment === 'BTCUSDT/search/st-random' && r.tags['trainyard.study'] === 'st-random')).toBe(true);
    expect((await get('/experiments')).body).toContainEqual(expect.objectContaining({ experiment: 'BTCUSDT/search/st-random', studyId: 'st-random', runs: 6 }));

    // The best trial, trained for production: a run of its own that the promoter will judge.
    const best = await call('POST', '/studies/st-random/promote-best', { promote: 'auto' });
    expect(best).toMatchObject({ status: 202, body: { runId: 'st-random-best', trial: done.best.trial } });
    const job = await waitFor(
      async () => (await readStored(prefix, 'job.requested')).find((e) => e.data.spec.jobId === 'st-random-best-BTCUSDT')?.data.spec as JobSpec | undefined,
      'the best trial requested for production',
    );
    expect(job).toMatchObject({ purpose: 'production', model: { learningRate: done.best.params['model.learningRate'], epochs: done.best.params['model.epochs'] } });
    expect((await app.get(NatsBus).query('runs.find', { id: job.jobId })).job).toMatchObject({ promote: 'auto', canary: false });
    expect((await call('POST', '/studies/st-random/promote-best', { promote: 'dry' })).status).toBe(409);
  });

  it('prunes with the median pruner the trials whose curve is clearly worse, never the best', async () => {
    const choices = [0.01, 0.0001, 0.012, 0.0002, 0.011, 0.00015];
    await call('POST', '/studies', {
      studyId: 'st-median',
      symbol: 'ETHUSDT',
      space: { 'model.learningRate': { type: 'categorical', choices } },
      trials: 6,
      parallel: 1,
      sampler: 'grid',
      seed: 3,
      pruner: { type: 'median', nStartupTrials: 2 },
      pruneMetric: 'validationMetric',
      objective: 'sharpe',
    });
    const done = await waitFor(
      async () => {
        const s = (await get('/studies/st-median')).body;
        return s.status === 'completed' ? s : null;
      },
      'the study completed',
      240_000,
    );
    // One at a time, so what each trial was judged against is known: the trials completed before it.
    const completedBefore: number[] = [];
    let pruned = 0;
    let expected = 0;
    for (const t of done.trials) {
      const q = quality(t.params['model.learningRate']);
      const sorted = [...completedBefore].sort((a, b) => a - b);
      const [lower, upper] = [sorted[Math.floor((sorted.length - 1) / 2)], sorted[Math.ceil((sorted.length - 1) / 2)]];
      const median = lower !== undefined && upper !== undefined ? (lower + upper) / 2 : NaN;
      if (completedBefore.length >= 2 && q < median) {
        expected++;
        if (t.state === 'pruned') pruned++;
        expect(t.prunedStep).toBeGreaterThanOrEqual(1);
      } else {
        expect(t.state).toBe('complete');
        completedBefore.push(q);
      }
    }
    expect(done.best.params['model.learningRate']).toBe(0.01);
    expect(done.trials.find((t: { params: Record<string, number> }) => t.params['model.learningRate'] === 0.01).state).toBe('complete');
    // This seed's grid order puts two good rates first, so the poor ones after them are judged.
    expect(expected).toBeGreaterThanOrEqual(1);
    expect(pruned).toBe(expected);
  });

  it('refuses a study it cannot run, naming the field and the reason', async () => {
    const bad = await call('POST', '/studies', { symbol: 'BTCUSDT', space: { 'model.learningRate': { type: 'float', low: 0, high: 1, log: true } }, trials: 3 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/log scale needs low > 0/);
    const foreign = await call('POST', '/studies', { symbol: 'BTCUSDT', space: { dropout: { type: 'float', low: 0, high: 0.5 } }, trials: 3 });
    expect(JSON.stringify(foreign.body)).toMatch(/the built-in trainer takes/);
    expect((await call('POST', '/studies', { symbol: '../etc', space, trials: 3 })).status).toBe(400);
    expect((await get('/studies/nope')).status).toBe(404);
  });

  it('takes a study from the bus (study.requested), and dead-letters one it cannot run with the reason', async () => {
    const bus = app.get(NatsBus);
    await bus.publish('study.requested', { studyId: 'st-bus', symbol: 'SOLUSDT', space, trials: 2, sampler: 'random', seed: 1, requestedBy: 'research-pipeline' });
    const done = await waitFor(
      async () => {
        const s = (await get('/studies/st-bus')).body;
        return s.status === 'completed' ? s : null;
      },
      'the study from the bus completed',
      240_000,
    );
    expect(done.trials).toHaveLength(2);
    // The bot's question about it, answered over the bus.
    const { study } = await bus.query('studies.find', { id: 'st-bus' });
    expect(study).toMatchObject({ id: 'st-bus', symbol: 'SOLUSDT', status: 'completed', trialsPlanned: 2, trials: { complete: 2, running: 0 }, best: { value: done.best.value } });
    expect((await bus.query('studies.find', { id: 'nope' })).study).toBeNull();
    await bus.publish('study.requested', { studyId: 'st-bad', symbol: 'SOLUSDT', space: { 'model.learningRate': { type: 'float', low: 0, high: 1, log: true } }, trials: 2 });
    const letter = await waitFor(async () => (await readStored(prefix, 'dlq.study.requested')).map((e) => e.data).find((l) => l.data.includes('st-bad')), 'the dead letter');
    expect(letter.reason).toMatch(/study st-bad refused: space: model.learningRate.low: log scale needs low > 0/);
    expect((await get('/studies/st-bad')).status).toBe(404);
  });
});
