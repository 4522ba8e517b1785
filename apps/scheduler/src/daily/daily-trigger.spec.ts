import type { INestApplication } from '@nestjs/common';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trainingHash } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { readStored, TestService, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { schedulerEnv } from '../config/scheduler.config';
import { JobRepository } from '../repositories/job.repository';
import { RunRepository } from '../repositories/run.repository';

jest.setTimeout(60_000);

describe('the daily run from a CSV file in the configuration', () => {
  const svc = new TestService({ env: schedulerEnv, module: AppModule.forRoot, prefix: 'daily' });
  const { prefix, dir } = svc;
  let app: INestApplication;

  beforeAll(async () => {
    writeFileSync(join(dir, 'universe.csv'), 'rank,symbol\n1,BTCUSDT\n2,ETHUSDT\n3,not a symbol\n');
    app = await svc.start({ ARTIFACTS_DIR: join(dir, 'artifacts'), SCHEDULER_DAILY_AT: '00:00', SCHEDULER_DAILY_SYMBOLS: join(dir, 'universe.csv') });
  });

  afterAll(() => svc.close());

  it('reads the file on the scheduler and requests the run with its symbols, never the path', async () => {
    const request = await waitFor(async () => (await readStored(prefix, 'run.requested'))[0] ?? null, 'the daily run.requested');
    expect(request.data).toMatchObject({ trigger: 'cron', symbols: ['BTCUSDT', 'ETHUSDT'] });
    expect(JSON.stringify(request.data)).not.toContain(dir);
  });

  it('trains the daily set for a request that names no symbols, with the lookback and timeframe the request asks', async () => {
    const bus = app.get(NatsBus);
    for (const runId of ['no-symbols-a', 'no-symbols-b']) {
      await bus.publish('run.requested', { runId, trigger: 'cli', date: '2026-11-28', dryRun: true, lookbackCandles: 500, timeframe: '4h' });
    }
    const plans = await waitFor(async () => {
      const p = (await readStored(prefix, 'run.planned')).map((m) => m.data).filter((d) => d.runId.startsWith('no-symbols-'));
      return p.length === 2 ? p : null;
    }, 'both plans');
    const jobs = await app.get(JobRepository).ofRun('no-symbols-a');
    expect(jobs.map((j) => j.symbol).sort()).toEqual(['BTCUSDT', 'ETHUSDT']);
    for (const j of jobs) expect(j.definition).toMatchObject({ lookbackCandles: 500, timeframe: '4h' });
    // The plan shows what the resume ledger keys on: the same inputs give the same hash in another run.
    const hashes = (runId: string) => Object.fromEntries(plans.find((p) => p.runId === runId)!.jobs.map((j: { symbol: string; trainingHash: string }) => [j.symbol, j.trainingHash]));
    expect(hashes('no-symbols-a')).toEqual(Object.fromEntries(jobs.map((j) => [j.symbol, trainingHash(j.definition)])));
    expect(hashes('no-symbols-b')).toEqual(hashes('no-symbols-a'));
  });
});

describe('a request that names no symbols where no daily set is configured', () => {
  const svc = new TestService({ env: schedulerEnv, module: AppModule.forRoot, prefix: 'nosym' });
  const { prefix } = svc;
  let app: INestApplication;

  beforeAll(async () => {
    app = await svc.start();
  });

  afterAll(() => svc.close());

  it('is refused once, with the reason on command.result for its requester and in one dead letter', async () => {
    await app.get(NatsBus).publish('run.requested', { runId: 'nosym-run', trigger: 'cli', requestedBy: 'alice' }, { id: 'nosym-run-request' });
    const result = await waitFor(async () => (await readStored(prefix, 'command.result'))[0] ?? null, 'the refusal');
    expect(result.data).toMatchObject({
      commandId: 'nosym-run-request',
      command: 'run.requested',
      ok: false,
      message: 'the request names no symbols and SCHEDULER_DAILY_SYMBOLS is not set: give symbols',
      requestedBy: 'alice',
    });
    const letters = await waitFor(async () => {
      const l = await readStored(prefix, 'dlq.run.requested');
      return l.length ? l : null;
    }, 'the dead letter');
    expect(letters).toHaveLength(1);
    expect(letters[0]?.data.reason).toMatch(/SCHEDULER_DAILY_SYMBOLS is not set/);
    expect(await app.get(RunRepository).find('nosym-run')).toBeNull();
  });
});
