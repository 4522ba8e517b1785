import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scrapeMetrics, seriesValue, startOtlpReceiver, waitFor, type OtlpReceiver } from '@trainyard/testing';
import { SystemUnderTest } from './system-under-test';

jest.setTimeout(180_000);

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];

describe('a daily run through all five services (real NATS and PostgreSQL)', () => {
  const sut = new SystemUnderTest();
  let traces: OtlpReceiver;
  /** The daily run's trace, found by the trace test; its log lines must carry it. */
  let runTraceId: string | undefined;
  const url = (name: 'scheduler' | 'promoter' | 'notifier') => `http://127.0.0.1:${sut.stack.portOf({ name })}`;

  beforeAll(async () => {
    traces = await startOtlpReceiver();
    await sut.start({ OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: traces.url, OTEL_BSP_SCHEDULE_DELAY: '200' });
  });
  afterAll(async () => {
    await sut.stop();
    await traces.close();
  });

  it('trains three symbols, stores checked artifacts, registers and promotes them, and reports the summary', async () => {
    const before = await scrapeMetrics(url('scheduler'));
    await sut.bus.publish('run.requested', { runId: 'daily-e2e', trigger: 'cron', date: '2026-11-22', symbols: SYMBOLS, promote: 'auto' });
    const completed = await sut.completion('daily-e2e');

    expect(completed.status).toBe('succeeded');
    expect(completed.summary).toMatchObject({ total_symbols: 3, succeeded: 3, failed: 0, skipped: 0 });
    expect(Object.keys(completed.summary.by_symbol).sort()).toEqual([...SYMBOLS].sort());
    expect(completed.summary.median_train_minutes).toBeGreaterThan(0);

    const summaryFile = JSON.parse(readFileSync(fileURLToPath(completed.summaryUri), 'utf8'));
    expect(summaryFile).toMatchObject({ run_id: 'daily-e2e', status: 'succeeded', succeeded: 3 });

    const succeeded = (await sut.events('job.succeeded')).map((e) => e.data).filter((d) => d.runId === 'daily-e2e');
    expect(succeeded).toHaveLength(3);
    for (const job of succeeded) {
      const names = job.artifacts.map((a: { name: string }) => a.name);
      expect(names).toEqual(expect.arrayContaining(['model.bin', 'config.json', 'metrics.json', 'runtime.json', 'job.json', 'sha256.txt']));
      expect(job.artifactsPrefix).toMatch(new RegExp(`^models/${job.symbol}/\\d{8}_\\d{6}Z_a\\d+-[0-9a-f]{8}$`));
      for (const a of job.artifacts) {
        const bytes = readFileSync(fileURLToPath(a.uri));
        expect(sha256(bytes)).toBe(a.sha256);
        expect(bytes.length).toBe(a.bytes);
      }
      const manifest = readFileSync(fileURLToPath(job.artifacts.find((a: { name: string }) => a.name === 'sha256.txt').uri), 'utf8');
      for (const a of job.artifacts.filter((x: { name: string }) => x.name !== 'sha256.txt')) expect(manifest).toContain(`${a.sha256}  ${a.name}`);
      expect(job.metrics.directionalHitRate).toBeGreaterThan(0);
    }

    const scheduler = `http://127.0.0.1:${sut.stack.portOf({ name: 'scheduler' })}`;
    const logs = (await (await fetch(`${scheduler}/jobs/daily-e2e-BTCUSDT/logs`, { headers: { authorization: `Bearer ${sut.stack.apiToken}` } })).json()) as any;
    expect(logs.attempts).toHaveLength(1);
    expect(logs.attempts[0].log).toMatch(/job_started daily-e2e-BTCUSDT attempt 1/);
    expect(logs.attempts[0].log).toMatch(/upload_succeeded/);
    const run = (await (await fetch(`${scheduler}/runs/daily-e2e`, { headers: { authorization: `Bearer ${sut.stack.apiToken}` } })).json()) as any;
    expect(run).toMatchObject({ status: 'succeeded', jobCounts: { succeeded: 3 }, summary: { succeeded: 3 } });

    const jobs = await sut.query(`SELECT symbol, status, attempt, spec_hash FROM scheduler.jobs WHERE run_id = 'daily-e2e' ORDER BY symbol`);
    expect(jobs.map((j) => [j.symbol, j.status, j.attempt])).toEqual([...SYMBOLS].sort().map((s) => [s, 'succeeded', 1]));

    const versions = await waitFor(async () => {
      const rows = await sut.query(`SELECT symbol, version, stage FROM promoter.model_versions WHERE run_id = 'daily-e2e' ORDER BY symbol`);
      return rows.length === 3 && rows.every((r) => r.stage === 'production') ? rows : null;
    }, 'three production versions');
    expect(versions.map((v) => [v.symbol, v.version])).toEqual([...SYMBOLS].sort().map((s) => [s, 1]));

    const decisions = await sut.query(`SELECT symbol, outcome, rule, mode, applied FROM promoter.decisions ORDER BY symbol`);
    expect(decisions).toEqual([...SYMBOLS].sort().map((symbol) => ({ symbol, outcome: 'promote', rule: 'no_production', mode: 'auto', applied: true })));
    for (const s of SYMBOLS) expect(existsSync(`${sut.artifactsDir}/models/production/${s}/CURRENT.json`)).toBe(true);

    const promoted = await waitFor(async () => {
      const e = (await sut.events('model.promoted')).filter((m) => m.data.runId === 'daily-e2e');
      return e.length === 3 ? e : null;
    }, 'model.promoted events');
    expect(promoted.map((e) => e.data.decision.rule)).toEqual(['no_production', 'no_production', 'no_production']);

    const notified = await waitFor(async () => {
      const rows = await sut.query(`SELECT text FROM notifier.messages WHERE text LIKE '%daily-e2e%'`);
      // The run's start is announced too; wait for its completion's message.
      return rows.some((r) => /3\/3/.test(r.text)) ? rows : null;
    }, 'the run summary notification');
    expect(notified.map((r) => r.text).join('\n')).toMatch(/3\/3/);

    // The scheduler's series moved with the run; the promoter counted its decisions, the notifier its messages.
    const after = await scrapeMetrics(url('scheduler'));
    const moved = (name: string, labels: Record<string, string> = {}) => (seriesValue(after, name, labels) ?? 0) - (seriesValue(before, name, labels) ?? 0);
    expect(moved('trainyard_jobs', { state: 'succeeded' })).toBe(3);
    expect(moved('trainyard_runs', { state: 'succeeded' })).toBe(1);
    expect(moved('trainyard_dispatch_latency_seconds_count', { priority: 'normal' })).toBe(3);
    expect(moved('trainyard_job_duration_seconds_count', { outcome: 'succeeded' })).toBe(3);
    expect(seriesValue(after, 'trainyard_queue_depth', { priority: 'normal' })).toBe(0);
    expect(seriesValue(await scrapeMetrics(url('promoter')), 'trainyard_promotions_total', { decision: 'promote', rule: 'no_production', mode: 'auto', applied: 'true' })).toBe(3);
    const notifications = await scrapeMetrics(url('notifier'));
    expect(seriesValue(notifications, 'trainyard_notifications_sent_total', { kind: 'run.completed' })).toBeGreaterThanOrEqual(1);
  });

  it('traces the daily run as one trace through all five services', async () => {
    const expected = ['gpu-broker job.requested', `trainer-agent agent.agent-${sut.prefix}.assign`, 'scheduler job.succeeded', 'promoter job.succeeded', 'notifier run.completed'];
    const consumedIn = (traceId: string) =>
      traces.spans.filter((s) => s.traceId === traceId && s.name.startsWith('process ')).map((s) => `${s.service} ${s.name.slice(`process ${sut.prefix}.`.length)}`);
    // Spans arrive in batches from five processes: wait until the last hop's are in.
    const trace = await waitFor(
      () => {
        const root = traces.spans.find((s) => s.service === 'scheduler' && s.name === `process ${sut.prefix}.run.requested`);
        return root && expected.every((e) => consumedIn(root.traceId).includes(e)) ? root.traceId : null;
      },
      'the hops of the daily run in one trace',
      20_000,
      250,
    );
    const services = new Set(traces.spans.filter((s) => s.traceId === trace).map((s) => s.service));
    expect([...services].sort()).toEqual(['gpu-broker', 'notifier', 'promoter', 'scheduler', 'trainer-agent']);
    runTraceId = trace;
  });

  it('finishes a run whose scheduler was killed mid-run, each job succeeding exactly once', async () => {
    const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT', 'ADAUSDT'];
    await sut.bus.publish('run.requested', { runId: 'crash-e2e', trigger: 'cli', date: '2026-11-21', symbols, mode: 'sequential', promote: 'dry' });
    await waitFor(async () => (await sut.events('job.succeeded')).filter((e) => e.data.runId === 'crash-e2e').length >= 2, 'two jobs done', 60_000, 100);

    await sut.stack.crash('scheduler');
    await new Promise((r) => setTimeout(r, 1500));
    await sut.stack.startService('scheduler');

    const completed = await sut.completion('crash-e2e');
    expect(completed.status).toBe('succeeded');
    expect(completed.summary.succeeded).toBe(6);

    const successes = (await sut.events('job.succeeded')).filter((e) => e.data.runId === 'crash-e2e');
    const perJob = new Map<string, number>();
    for (const e of successes) perJob.set(e.data.jobId, (perJob.get(e.data.jobId) ?? 0) + 1);
    expect([...perJob.values()]).toEqual([1, 1, 1, 1, 1, 1]);

    const jobs = await sut.query(`SELECT status, attempt FROM scheduler.jobs WHERE run_id = 'crash-e2e'`);
    expect(jobs).toHaveLength(6);
    expect(jobs.every((j) => j.status === 'succeeded' && j.attempt === 1)).toBe(true);
    const versions = await waitFor(async () => {
      const rows = await sut.query(`SELECT count(*)::int AS n FROM promoter.model_versions WHERE run_id = 'crash-e2e'`);
      return rows[0].n === 6 ? rows : null;
    }, 'six registered versions');
    expect(versions[0].n).toBe(6);
  });

  it('runs from the CLI: follows the run live, prints the final record as JSON, and manages model versions', async () => {
    const cli = (args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const env = {
          ...process.env,
          NATS_URL: sut.stack.env.NATS_URL,
          TRAINYARD_PREFIX: sut.prefix,
          PROMOTER_URL: `http://127.0.0.1:${sut.stack.portOf({ name: 'promoter' })}`,
          SCHEDULER_URL: url('scheduler'),
          TRAINYARD_API_TOKEN: sut.stack.apiToken,
        };
        setImmediate(() => {
          const r = spawnSync(process.execPath, ['tools/cli/bin/trainyard.js', ...args], { env, encoding: 'utf8', timeout: 120_000 });
          resolve({ status: r.status, stdout: r.stdout, stderr: r.stderr });
        });
      });
    const help = await cli(['run', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--lookback-candles N/);
    expect(help.stdout).toMatch(/--live/);

    const ok = await cli(['run', '--symbols', 'BNBUSDT,XRPUSDT', '--date', '2026-11-20', '--mode', 'parallel', '--promote', 'auto', '--lookback-candles', '400', '--timeframe', '4h', '--json']);
    expect(ok.stderr).toMatch(/✓ BNBUSDT/);
    expect(ok.status).toBe(0);
    const record = JSON.parse(ok.stdout);
    expect(record).toMatchObject({ status: 'succeeded', summary: { succeeded: 2, total_symbols: 2 } });
    // The promoter's decisions, listed after the run, one per symbol with its reason.
    expect(record.promotions.map((v: any) => [v.symbol, v.decision?.outcome, v.decision?.applied]).sort()).toEqual([
      ['BNBUSDT', 'promote', true],
      ['XRPUSDT', 'promote', true],
    ]);
    // The run's lookback and timeframe reached the trainer: its evaluation window is 4-hour candles from a 400-candle history.
    const windows = await sut.query(`SELECT evaluation_window AS w FROM promoter.model_versions WHERE run_id = $1`, [record.runId]);
    expect(windows).toHaveLength(2);
    for (const { w } of windows) {
      expect(w.candles).toBeLessThan(400);
      const hoursPerCandle = (Date.parse(w.to) - Date.parse(w.from)) / w.candles / 3600_000;
      expect(hoursPerCandle).toBeGreaterThan(3.5);
      expect(hoursPerCandle).toBeLessThan(4.5);
    }

    // One command shows what every service logged about a symbol's job, then the trainer's own log.
    const logs = await cli(['logs', record.runId, '--symbol', 'BNBUSDT', '--dir', join(sut.stack.dataDir, 'logs')]);
    expect(logs.status).toBe(0);
    for (const service of ['scheduler', 'gpu-broker', 'trainer-agent', 'promoter']) expect(logs.stdout).toMatch(new RegExp(`^\\S+ ${service} .*BNBUSDT`, 'm'));
    // A line about both (a release of the two) belongs; one about the other symbol alone does not.
    expect(logs.stdout.split('\n').filter((l) => l.includes('XRPUSDT') && !l.includes('BNBUSDT'))).toEqual([]);
    expect(logs.stdout).toMatch(new RegExp(`── ${record.runId}-BNBUSDT attempt 1 \\(succeeded on agent-${sut.prefix}\\): attempt.log ──\\n.+`));

    // --follow prints while the run goes and returns once it has completed and every attempt log is out.
    await sut.bus.publish('run.requested', { runId: 'logs-follow', trigger: 'api', symbols: ['ADAUSDT'], date: '2026-11-20' });
    const follower = spawn(process.execPath, ['tools/cli/bin/trainyard.js', 'logs', 'logs-follow', '--follow', '--dir', join(sut.stack.dataDir, 'logs')], {
      env: { ...process.env, SCHEDULER_URL: url('scheduler'), TRAINYARD_API_TOKEN: sut.stack.apiToken },
    });
    let followed = '';
    follower.stdout.on('data', (b) => (followed += b));
    follower.stderr.on('data', (b) => (followed += b));
    const code = await new Promise<number | null>((resolve) => follower.on('exit', resolve));
    expect(followed).toMatch(/scheduler .*ADAUSDT/);
    expect(followed).toMatch(/── logs-follow-ADAUSDT attempt 1 \(succeeded/);
    expect(code).toBe(0);

    const bad = await cli(['run', '--symbols', 'BNBUSDT', '--mode', 'turbo']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--mode must be one of sequential, parallel, hybrid \(got "turbo"\)/);

    const list = await cli(['models', 'list', '--symbol', 'BTCUSDT', '--stage', 'production']);
    expect(list.status).toBe(0);
    expect(JSON.parse(list.stdout).items).toEqual([expect.objectContaining({ symbol: 'BTCUSDT', version: 1, stage: 'production' })]);
    const rollback = await cli(['models', 'rollback', 'BTCUSDT']);
    expect(rollback.status).toBe(1);
    expect(rollback.stderr).toMatch(/promoter refused \(409\)/);
  });

  // Last: it stops the services, so that every line they wrote, shutdown included, is checked.
  it("logs JSON lines from every service, with the named events and the run's trace id, and never a configured secret", async () => {
    await sut.stack.stop();
    const lines = sut.serviceLogs().flatMap(({ service, lines }) => lines.map((line) => ({ service, line })));
    expect(lines.length).toBeGreaterThan(100);

    expect(sut.secrets).toHaveLength(2);
    for (const secret of sut.secrets) {
      for (const form of new Set([secret, encodeURIComponent(secret)])) expect(lines.filter((l) => l.line.includes(form))).toEqual([]);
    }

    const parse = (line: string) => {
      try {
        return JSON.parse(line) as Record<string, any>;
      } catch {
        return null;
      }
    };
    const notJson = lines.filter((l) => {
      const entry = parse(l.line);
      return !entry || entry.service !== l.service || typeof entry.level !== 'string' || typeof entry.time !== 'string' || typeof entry.msg !== 'string';
    });
    expect(notJson).toEqual([]);
    const entries = lines.map((l) => parse(l.line)!);

    // The configuration is logged at start, its secrets masked.
    const starting = entries.find((e) => e.service === 'scheduler' && e.event === 'service_starting')!;
    expect(starting.config.DATABASE_URL).toMatch(/^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1/);
    expect(starting.config.AWS_SECRET_ACCESS_KEY).toBe('[REDACTED]');

    const ofRun = (service: string, event: string) => entries.filter((e) => e.service === service && e.event === event && e.runId === 'daily-e2e');
    expect(ofRun('scheduler', 'run_started')).toHaveLength(1);
    expect(ofRun('scheduler', 'run_completed')).toEqual([expect.objectContaining({ status: 'succeeded', succeeded: 3 })]);
    for (const event of ['job_started', 'job_succeeded', 'upload_succeeded']) {
      const found = ofRun('trainer-agent', event);
      expect(found.map((e) => e.symbol).sort()).toEqual([...SYMBOLS].sort());
      for (const e of found) expect(e).toMatchObject({ jobId: `daily-e2e-${e.symbol}`, attempt: 1 });
    }
    // A lease may be announced again (its agent did not confirm in time): symbols, not lines.
    const symbolsOf = (found: Record<string, any>[]) => [...new Set(found.map((e) => e.symbol))].sort();
    expect(symbolsOf(ofRun('gpu-broker', 'lease_granted'))).toEqual([...SYMBOLS].sort());
    expect(symbolsOf(ofRun('promoter', 'model_promoted'))).toEqual([...SYMBOLS].sort());

    // A run's lines lead to its one trace, the agents' too: the broker keeps each request's trace
    // context, so an attempt placed later from a heartbeat or a tick is still assigned inside it.
    expect(runTraceId).toBeDefined();
    for (const event of ['run_started', 'run_completed']) {
      for (const e of ofRun('scheduler', event)) expect({ event, trace_id: e.trace_id }).toEqual({ event, trace_id: runTraceId });
    }
    for (const event of ['job_started', 'job_succeeded', 'upload_succeeded']) {
      for (const e of ofRun('trainer-agent', event)) expect({ event, symbol: e.symbol, trace_id: e.trace_id }).toEqual({ event, symbol: e.symbol, trace_id: runTraceId });
    }
  });
});
