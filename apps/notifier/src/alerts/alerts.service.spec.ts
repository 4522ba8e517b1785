import { DataSource } from 'typeorm';
import type { EventMessage } from '@trainyard/contracts';
import { TestService } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { notifierEnv } from '../config/notifier.config';
import { AlertsController } from './alerts.controller';
import { DigestService } from './digest.service';
import { NOTIFIER, type Notifier } from './notifier';

class FakeNotifier implements Notifier {
  readonly channel = 'a fake';
  readonly sent: string[] = [];
  failNext = false;

  async send(html: string): Promise<void> {
    // Slow enough that two deliveries of one event overlap.
    await new Promise((r) => setTimeout(r, 50));
    if (this.failNext) {
      this.failNext = false;
      throw new Error('chat service unavailable');
    }
    this.sent.push(html);
  }

  async sendPhoto(_png: Buffer, caption: string): Promise<void> {
    this.sent.push(caption);
  }
}

const completed = (runId: string, id: string): EventMessage<'run.completed'> => ({
  schemaVersion: 1,
  id,
  occurredAt: '2026-11-23T01:00:00.000Z',
  runId,
  date: '2026-11-22',
  status: 'succeeded',
  summaryUri: null,
  summary: {
    total_symbols: 1,
    succeeded: 1,
    failed: 0,
    skipped: 0,
    cancelled: 0,
    avg_train_minutes: 0.1,
    median_train_minutes: 0.1,
    total_wall_minutes: 0.2,
    cost: 0,
    by_symbol: { BTCUSDT: { status: 'succeeded', attempts: 1, trainMinutes: 0.1, metrics: null, error: null } },
  },
});

describe('alerts dedupe (real PostgreSQL, fake notifier)', () => {
  const fake = new FakeNotifier();
  // The test delivers each event itself, so no transport.
  const svc = new TestService({ env: notifierEnv, module: AppModule.forRoot, prefix: 'ntf', transport: false, overrides: [{ provide: NOTIFIER, useValue: fake }] });
  let alerts: AlertsController;
  let digest: DigestService;
  let ds: DataSource;

  beforeAll(async () => {
    const app = await svc.start();
    alerts = app.get(AlertsController);
    digest = app.get(DigestService);
    ds = app.get(DataSource);
  });

  afterAll(() => svc.close());

  beforeEach(() => {
    fake.sent.length = 0;
  });

  const logged = (key: string) => ds.query(`SELECT kind, text, sent_at FROM notifier.messages WHERE dedupe_key = $1`, [key]);

  it('sends an event delivered twice, even at once, one time; a later completion of the reopened run is sent too', async () => {
    await Promise.all([alerts.onRunCompleted(completed('daily-20261122', 'a')), alerts.onRunCompleted(completed('daily-20261122', 'a'))]);
    expect(fake.sent).toHaveLength(1);
    expect(fake.sent[0]).toMatch(/^✅ <b>Run daily-20261122 succeeded<\/b>/);
    const rows = await logged('run.completed:daily-20261122:a');
    expect(rows).toEqual([{ kind: 'run.completed', text: fake.sent[0], sent_at: expect.any(Date) }]);

    // A job retried after the run completed reopens it; its next completion is a new message.
    await alerts.onRunCompleted(completed('daily-20261122', 'b'));
    await alerts.onRunCompleted(completed('daily-20261122', 'b'));
    expect(fake.sent).toHaveLength(2);
  });

  it('records nothing when sending fails, so the redelivery sends it', async () => {
    fake.failNext = true;
    await expect(alerts.onRunCompleted(completed('daily-20261123', 'c'))).rejects.toThrow('chat service unavailable');
    expect(await logged('run.completed:daily-20261123:c')).toEqual([]);

    await alerts.onRunCompleted(completed('daily-20261123', 'c'));
    expect(fake.sent).toHaveLength(1);
    expect(await logged('run.completed:daily-20261123:c')).toHaveLength(1);
  });

  it('gathers the model decisions of a 300-symbol run into one message, each counted once', async () => {
    const decision = (i: number): EventMessage<'model.promoted'> => ({
      schemaVersion: 1,
      id: `S${i}USDT-v1-promoted`,
      occurredAt: '2026-11-23T01:00:00.000Z',
      symbol: `S${i}USDT`,
      version: 1,
      runId: 'daily-20261122',
      jobId: `daily-20261122-S${i}USDT`,
      metrics: { directionalHitRate: 0.55, sharpe: 1, maxDrawdown: 0.1, totalReturn: 0.1, mae: 0, rmse: 0, mape: 0, r2: 0 },
      productionMetrics: null,
      decision: { outcome: 'promote', rule: 'no_production', mode: 'auto', applied: true, reason: 'no production model yet' },
      productionUri: null,
    });
    for (let i = 0; i < 300; i++) await alerts.onModelPromoted(decision(i));
    await alerts.onModelPromoted(decision(7));
    expect(fake.sent).toHaveLength(0);

    fake.failNext = true;
    await expect(digest.flush()).rejects.toThrow('chat service unavailable');
    expect(await digest.flush()).toBe(300);
    expect(await digest.flush()).toBe(0);
    expect(fake.sent).toHaveLength(1);
    expect(fake.sent[0]).toMatch(/^📦 <b>Digest: 300 promoted<\/b>/);
    expect(fake.sent[0]).toMatch(/… and 275 more$/);
    expect(await ds.query(`SELECT count(*)::int AS n FROM notifier.messages WHERE kind = 'model.digest'`)).toEqual([{ n: 1 }]);
  });
});
