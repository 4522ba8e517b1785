import { performance } from 'node:perf_hooks';
import type { JobSpec } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { TestService, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { schedulerEnv } from '../config/scheduler.config';
import { StudyService } from '../studies/study.service';
import type { BenchResult } from './scheduler.bench';

/**
 * A 100-trial TPE study, 4 trials at a time, of a synthetic trainer that answers at once: the
 * scheduler's own throughput (sampling over the whole history, scoring, creating and releasing each
 * trial, tracking its points) on real NATS and PostgreSQL; the agent's side is a loop that reports
 * each trial's curve and result as soon as its request appears.
 */
export async function runStudyBench(): Promise<Record<string, BenchResult>> {
  const svc = new TestService({ env: schedulerEnv, module: AppModule.forRoot, prefix: 'bench-study' });
  const { prefix } = svc;
  const app = await svc.start({ SCHEDULER_TICK_MS: '100' });
  const bus = app.get(NatsBus);
  const answered = new Set<string>();
  const sub = bus.nc.subscribe(`${prefix}.job.requested`, {
    callback: (_err, msg) => {
      const spec = (JSON.parse(msg.string()) as { spec: JobSpec }).spec;
      if (answered.has(spec.jobId)) return;
      answered.add(spec.jobId);
      void answer(bus, spec);
    },
  });
  try {
    const started = performance.now();
    const space = {
      'model.learningRate': { type: 'float', low: 0.0001, high: 1, log: true },
      'model.epochs': { type: 'int', low: 1, high: 50 },
      lookbackCandles: { type: 'categorical', choices: [1000, 2000, 4000] },
    };
    const studies = app.get(StudyService);
    await studies.create({
      studyId: 'bench',
      symbol: 'BTCUSDT',
      space,
      trials: 100,
      parallel: 4,
      sampler: 'tpe',
      seed: 1,
      pruner: { type: 'none' },
      pruneMetric: 'validationMetric',
      objective: 'sharpe',
      featureset: 'fs1',
      driver: { kind: 'builtin' },
    });
    await waitFor(async () => (await studies.view('bench')).status === 'completed', 'the 100-trial study', 1_800_000, 250);
    const minutes = (performance.now() - started) / 60_000;
    return { study_100_trials_tpe_parallel_4: { value: Number((100 / minutes).toFixed(1)), unit: 'trials per minute (scheduler side, agent simulated)', target: '>= 60' } };
  } finally {
    sub.unsubscribe();
    await svc.close();
  }
}

/** The synthetic trainer: sharpe peaks at a learning rate of 0.01; five points of a validation curve, then the result. */
async function answer(bus: NatsBus, spec: JobSpec): Promise<void> {
  const ref = { jobId: spec.jobId, runId: spec.runId, symbol: spec.symbol, attempt: spec.attempt };
  const leaseId = `${spec.jobId}-a${spec.attempt}-lease`;
  const q = 1 - (Math.log10(spec.model.learningRate) + 2) ** 2 / 4;
  const now = () => new Date().toISOString();
  await bus.publish('job.started', { ...ref, agentId: 'bench', leaseId, workDir: '/w', artifactsPrefix: `models/${spec.symbol}/${spec.jobId}` });
  await bus.publish('job.progress', { ...ref, percent: 100, points: [1, 2, 3, 4, 5].map((step) => ({ step, at: now(), values: { validationMetric: q * step } })) });
  await bus.publish('job.succeeded', {
    ...ref,
    agentId: 'bench',
    leaseId,
    date: spec.date,
    featureset: spec.featureset,
    costs: spec.costs,
    artifactsPrefix: `models/${spec.symbol}/${spec.jobId}`,
    artifacts: [{ name: 'model.json', uri: 'file:///m', sha256: 'd'.repeat(64), bytes: 1 }],
    metrics: { directionalHitRate: 0.5, sharpe: q, maxDrawdown: 0.1, totalReturn: 0, mae: 0, rmse: 0, mape: 0, r2: 0 },
    evaluationWindow: { from: now(), to: now(), candles: 10 },
    trainSeconds: 0,
    startedAt: now(),
    finishedAt: now(),
  });
}
