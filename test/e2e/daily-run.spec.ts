import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startOtlpReceiver, waitFor, type OtlpReceiver } from '@trainyard/testing';
import { SystemUnderTest } from './system-under-test';

jest.setTimeout(180_000);

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];

describe('a daily run through all five services (real NATS and PostgreSQL)', () => {
  const sut = new SystemUnderTest();
  let traces: OtlpReceiver;

  beforeAll(async () => {
    traces = await startOtlpReceiver();
    await sut.start({ OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: traces.url, OTEL_BSP_SCHEDULE_DELAY: '200' });
  });
  afterAll(async () => {
    await sut.stop();
    await traces.close();
  });

  it('trains three symbols, stores checked artifacts, registers and promotes them, and reports the summary', async () => {
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
      expect(job.artifactsPrefix).toMatch(new RegExp(`^models/${job.symbol}/\\d{8}_\\d{6}Z$`));
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
    const logs = (await (await fetch(`${scheduler}/jobs/daily-e2e-BTCUSDT/logs`)).json()) as any;
    expect(logs.attempts).toHaveLength(1);
    expect(logs.attempts[0].log).toMatch(/job_started daily-e2e-BTCUSDT attempt 1/);
    expect(logs.attempts[0].log).toMatch(/upload_succeeded/);
    const run = (await (await fetch(`${scheduler}/runs/daily-e2e`)).json()) as any;
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
      return rows.length ? rows : null;
    }, 'the run summary notification');
    expect(notified.map((r) => r.text).join('\n')).toMatch(/3\/3/);
  });

  it('traces the daily run as one trace through all five services', async () => {
    const expected = ['gpu-broker job.requested', `trainer-agent agent.agent-${sut.prefix}.assign`, 'scheduler job.succeeded', 'promoter job.succeeded', 'notifier run.completed'];
    const consumedIn = (traceId: string) =>
      traces.spans.filter((s) => s.traceId === traceId && s.name.startsWith('process ')).map((s) => `${s.service} ${s.name.slice(`process ${sut.prefix}.`.length)}`);
    // Spans arrive in batches from five processes: wait until the last hop's are in.
    const trace = await waitFor(() => {
      const root = traces.spans.find((s) => s.service === 'scheduler' && s.name === `process ${sut.prefix}.run.requested`);
      return root && expected.every((e) => consumedIn(root.traceId).includes(e)) ? root.traceId : null;
    }, 'the hops of the daily run in one trace', 20_000, 250);
    const services = new Set(traces.spans.filter((s) => s.traceId === trace).map((s) => s.service));
    expect([...services].sort()).toEqual(['gpu-broker', 'notifier', 'promoter', 'scheduler', 'trainer-agent']);
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
        };
        setImmediate(() => {
          const r = spawnSync(process.execPath, ['tools/cli/bin/trainyard.js', ...args], { env, encoding: 'utf8', timeout: 120_000 });
          resolve({ status: r.status, stdout: r.stdout, stderr: r.stderr });
        });
      });
    const ok = await cli(['run', '--symbols', 'BNBUSDT,XRPUSDT', '--date', '2026-11-20', '--mode', 'parallel', '--json']);
    expect(ok.stderr).toMatch(/✓ BNBUSDT/);
    expect(ok.status).toBe(0);
    const record = JSON.parse(ok.stdout);
    expect(record).toMatchObject({ status: 'succeeded', summary: { succeeded: 2, total_symbols: 2 } });

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
});
