import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NatsBus } from '@trainyard/messaging';
import { readStored, TestService, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { schedulerEnv } from '../config/scheduler.config';

jest.setTimeout(60_000);

const OPERATOR = 'operator-token-for-the-specs-0001';
const READER = 'read-only-token-for-the-specs-0001';

/** The REST API over HTTP, on the scheduler running against real NATS and PostgreSQL. */
describe('scheduler REST API', () => {
  const svc = new TestService({ env: schedulerEnv, module: AppModule.forRoot, prefix: 'api', listen: true });
  const { prefix, dir: artifacts } = svc;
  let bus: NatsBus;
  let base: string;

  beforeAll(async () => {
    bus = (await svc.start({ SCHEDULER_TICK_MS: '100', API_OPERATOR_TOKENS: OPERATOR, API_READ_TOKENS: READER })).get(NatsBus);
    base = svc.url;
  });

  afterAll(() => svc.close());

  const call = async (method: string, path: string, body?: unknown, token: string | null = OPERATOR) => {
    const headers = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
    const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('answers only bearer tokens: a read token may look, an operator token may act; health, metrics and the document stay open', async () => {
    expect((await call('GET', '/runs', undefined, null)).status).toBe(401);
    expect((await call('GET', '/runs', undefined, null)).body.message).toBe('send Authorization: Bearer <token>');
    expect((await call('GET', '/runs', undefined, 'not-a-token-we-know-at-all')).body).toMatchObject({ statusCode: 401, message: 'unknown token' });
    expect((await call('GET', '/runs', undefined, READER)).status).toBe(200);
    const refused = await call('POST', '/runs', { runId: 'by-reader', symbols: ['BTCUSDT'] }, READER);
    expect(refused).toMatchObject({ status: 403, body: { message: 'a read token may only read; this needs an operator token' } });
    expect((await call('GET', '/runs/by-reader', undefined, READER)).status).toBe(404);
    for (const open of ['/health/live', '/openapi.json']) expect((await fetch(`${base}${open}`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
    const doc = (await call('GET', '/openapi.json', undefined, null)).body;
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('refuses bad bodies and queries with the field and the reason', async () => {
    const bad = await call('POST', '/runs', { symbols: ['BTCUSDT', '../etc'], mode: 'turbo', colour: 'red', ensureFeatures: 'yes' });
    expect(bad.status).toBe(400);
    const fields = bad.body.issues.map((i: { field: string }) => i.field);
    expect(fields).toEqual(expect.arrayContaining(['symbols.1', 'mode', 'ensureFeatures', '(root)']));
    expect(JSON.stringify(bad.body.issues)).toMatch(/colour/);
    expect((await call('POST', '/runs', {})).body.issues).toEqual([expect.objectContaining({ field: 'symbols' })]);
    // One symbol as a bare string: zod's "Invalid input" said nothing of what symbols takes.
    expect((await call('POST', '/runs', { symbols: 'BTCUSDT' })).body.issues).toEqual([{ field: 'symbols', reason: 'a list of symbols (["BTCUSDT","ETHUSDT"]) or {"topN": N}' }]);
    const query = await call('GET', '/jobs?status=bogus&limit=0');
    expect(query.status).toBe(400);
    expect(query.body.issues.map((i: { field: string }) => i.field).sort()).toEqual(['limit', 'status']);
    expect((await call('GET', '/runs/no-such-run')).status).toBe(404);
    expect((await call('GET', '/jobs/no-such-job')).status).toBe(404);
    expect((await call('GET', '/jobs/bad..id')).status).toBe(400);
  });

  it('refuses a path for symbols and a command line for a driver, reading and running nothing (security finding)', async () => {
    const secret = join(artifacts, 'secret.csv');
    writeFileSync(secret, 'symbol\nSECRETLINEUSDT\n');
    const csv = await call('POST', '/runs', { runId: 'csv-run', symbols: { csv: secret } });
    expect(csv.status).toBe(400);
    expect(csv.body.issues.map((i: { field: string }) => i.field)).toEqual(['symbols']);
    const command = await call('POST', '/runs', { runId: 'cmd-run', symbols: ['BTCUSDT'], driver: { kind: 'command', command: ['sh', '-c', 'id'] } });
    expect(command.status).toBe(400);
    expect(JSON.stringify(command.body.issues)).toMatch(/driver/);
    const badArg = await call('POST', '/runs', { runId: 'arg-run', symbols: ['BTCUSDT'], driver: { kind: 'command', trainer: 'pytorch', args: ['--data=../../etc/passwd'] } });
    expect(badArg.status).toBe(400);

    // The same over the bus: dead-lettered at once with a reason that echoes nothing of the file.
    await bus.publishRaw(
      bus.subject('run.requested'),
      JSON.stringify({ schemaVersion: 1, id: 'csv-by-bus', occurredAt: new Date().toISOString(), runId: 'csv-bus', trigger: 'event', symbols: { csv: secret } }),
      'csv-by-bus',
    );
    await bus.publishRaw(
      bus.subject('run.requested'),
      JSON.stringify({
        schemaVersion: 1,
        id: 'cmd-by-bus',
        occurredAt: new Date().toISOString(),
        runId: 'cmd-bus',
        trigger: 'event',
        symbols: ['BTCUSDT'],
        driver: { kind: 'command', command: ['sh', '-c', 'id'] },
      }),
      'cmd-by-bus',
    );
    const letters = await waitFor(async () => {
      const l = (await readStored(prefix, 'dlq.run.requested')).filter((x) => /csv-bus|cmd-bus/.test(x.data.data));
      return l.length === 2 ? l : null;
    }, 'two dead letters');
    expect(letters.map((l) => l.data.reason).join('\n')).not.toMatch(/SECRETLINE/);
    expect(letters.find((l) => /csv-bus/.test(l.data.data))!.data.reason).toMatch(/symbols/);
    expect(letters.find((l) => /cmd-bus/.test(l.data.data))!.data.reason).toMatch(/driver/);
    for (const runId of ['csv-run', 'cmd-run', 'arg-run', 'csv-bus', 'cmd-bus']) expect((await call('GET', `/runs/${runId}`)).status).toBe(404);
  });

  it('refuses dates that are not on the calendar', async () => {
    for (const date of ['2024-13-45', '0000-00-00', '2026-02-30']) {
      const r = await call('POST', '/runs', { symbols: ['BTCUSDT'], date });
      expect(r.status).toBe(400);
      expect(r.body.issues).toEqual([{ field: 'date', reason: 'not a calendar date (YYYY-MM-DD, from 1970)' }]);
    }
  });

  it('gives a repeated request its run, and refuses a run id reused for another request, over REST and the bus', async () => {
    const body = { runId: 'idem-run', symbols: ['BTCUSDT'], dryRun: true };
    expect((await call('POST', '/runs', body)).status).toBe(202);
    await waitFor(async () => (await call('GET', '/runs/idem-run')).status === 200, 'the run stored');
    expect((await call('POST', '/runs', body)).status).toBe(202);
    const reused = await call('POST', '/runs', { ...body, symbols: ['ETHUSDT'], mode: 'parallel' });
    expect(reused.status).toBe(409);
    expect(reused.body.message).toBe('run idem-run exists with a different request (mode, symbols differ); use another run id');
    await bus.publish('run.requested', { runId: 'idem-run', trigger: 'event', symbols: ['SOLUSDT'], dryRun: true }, { id: 'idem-by-bus' });
    const letter = await waitFor(async () => (await readStored(prefix, 'dlq.run.requested')).find((l) => /idem-by-bus/.test(l.data.data)), 'the dead letter');
    expect(letter.data.reason).toMatch(/run idem-run exists with a different request \(symbols differ\)/);
    expect((await call('GET', '/runs/idem-run')).body.request.symbols).toEqual(['BTCUSDT']);
  });

  it('starts a run, shows it with its jobs, pages and filters them, and reports progress', async () => {
    const started = await call('POST', '/runs', { runId: 'api-run', symbols: ['BTCUSDT', 'ETHUSDT'], maxConcurrent: 1, ensureFeatures: true });
    expect(started).toEqual({ status: 202, body: { runId: 'api-run', status: 'requested', location: '/runs/api-run' } });
    // The flag travels from the body to the job specs the agents get.
    const requested = await waitFor(async () => (await readStored(prefix, 'job.requested')).map((e) => e.data.spec).find((spec) => spec.runId === 'api-run'), 'a job requested');
    expect(requested.ensureFeatures).toBe(true);
    const run = await waitFor(async () => {
      const r = await call('GET', '/runs/api-run');
      return r.status === 200 ? r.body : null;
    }, 'the run stored');
    expect(run).toMatchObject({ id: 'api-run', trigger: 'api', status: 'running', jobCounts: { released: 1, pending: 1 } });

    const page = await call('GET', '/jobs?runId=api-run&limit=1');
    expect(page.body).toMatchObject({ total: 2, limit: 1, offset: 0 });
    expect(page.body.items).toHaveLength(1);
    expect((await call('GET', '/jobs?runId=api-run&status=pending')).body.total).toBe(1);
    expect((await call('GET', '/runs?trigger=api')).body.items.map((r: { id: string }) => r.id)).toContain('api-run');

    const released = (await call('GET', '/jobs?runId=api-run&status=released')).body.items[0];
    await bus.publish('job.progress', { jobId: released.id, runId: 'api-run', symbol: released.symbol, attempt: 1, percent: 40, epoch: 4, loss: 0.69 });
    const progress = await waitFor(async () => (await call('GET', `/jobs/${released.id}/progress`)).body.progress, 'progress recorded');
    expect(progress).toMatchObject({ percent: 40, epoch: 4, loss: 0.69 });
  });

  it('cancels a job on its agent, retries it as a new attempt, and cancels a whole run', async () => {
    const job = (await call('GET', '/jobs?runId=api-run&status=released')).body.items[0];
    expect((await call('POST', `/jobs/${job.id}/cancel`, { reason: 'operator' })).status).toBe(202);
    const cancel = await waitFor(async () => (await readStored(prefix, 'job.*.cancel')).find((e) => e.data.jobId === job.id), 'job.cancel sent');
    expect(cancel.data.reason).toBe('operator');
    await bus.publish('job.cancelled', { jobId: job.id, runId: 'api-run', symbol: job.symbol, attempt: 1, reason: 'operator' });
    await waitFor(async () => (await call('GET', `/jobs/${job.id}`)).body.status === 'cancelled', 'the job cancelled');
    expect((await call('POST', `/jobs/${job.id}/cancel`, {})).status).toBe(409);

    expect((await call('POST', `/jobs/${job.id}/retry`)).body).toEqual({ jobId: job.id, status: 'retry_wait', nextAttempt: 2 });
    // The run's one slot went to the other job meanwhile; the retry waits until it frees.
    const other = await waitFor(async () => (await call('GET', '/jobs?runId=api-run&status=released')).body.items[0], 'the other job released');
    await bus.publish('job.cancelled', { jobId: other.id, runId: 'api-run', symbol: other.symbol, attempt: 1, reason: 'agent stopped it' });
    await waitFor(async () => (await readStored(prefix, 'job.requested')).some((e) => e.data.spec.jobId === job.id && e.data.spec.attempt === 2), 'attempt 2 requested');
    const detail = (await call('GET', `/jobs/${job.id}`)).body;
    expect(detail.attempts.map((a: { attempt: number; status: string }) => [a.attempt, a.status])).toEqual([
      [1, 'cancelled'],
      [2, 'requested'],
    ]);

    const cancelRun = await call('POST', '/runs/api-run/cancel', { reason: 'stop everything' });
    expect(cancelRun.status).toBe(202);
    expect(cancelRun.body.cancelling.length).toBeGreaterThan(0);
  });

  it('serves statistics and its OpenAPI document', async () => {
    const stats = await call('GET', '/stats?days=30');
    expect(stats.status).toBe(200);
    expect(stats.body.jobsByStatus).toEqual(expect.any(Object));
    const doc = await call('GET', '/openapi.json');
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/runs', '/runs/{id}', '/jobs/{id}/retry', '/stats']));
    expect(doc.body.paths['/runs'].post.requestBody.content['application/json'].schema.properties.symbols).toBeDefined();
  });
});
