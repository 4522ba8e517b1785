import type { INestApplication } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toJobSpec } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { readStored, testJobDefinition, testLease, TestService, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { decodeFeatureTable } from '../market-data/feature-parquet';
import { AGENT_CONFIG, agentEnv, type AgentConfig } from '../config/agent.config';
import { JobRunner } from './job-runner.service';

jest.setTimeout(60_000);

const definition = (symbol: string, featureset = 'fs1') => testJobDefinition({ symbol, featureset, lookbackCandles: 600, model: { type: 'logistic', learningRate: 0.5, epochs: 5, seed: 3 } });

/** The agent alone on real NATS and a real artifact folder; the test plays the broker. */
describe('trainer-agent', () => {
  const svc = new TestService({ env: agentEnv, module: AppModule.forRoot, prefix: 'agent', database: false });
  const { prefix, dir } = svc;
  const agentId = `agent-${prefix}`;
  let app: INestApplication;
  let bus: NatsBus;

  beforeAll(async () => {
    // The one trainer this agent allows runs the test's script named by the job's first argument.
    writeFileSync(join(dir, 'dispatch.js'), `require(require('node:path').join(__dirname, process.argv[2]));`);
    // The worker trainer runs, for each job line, the test's module its first argument names.
    writeFileSync(
      join(dir, 'worker.js'),
      `require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
         const job = JSON.parse(line);
         for (const k of Object.keys(process.env)) if (k.startsWith('TRAINYARD_') && !(k in job.env)) delete process.env[k];
         Object.assign(process.env, job.env);
         require(require('node:path').join(__dirname, job.args[0]))(job);
       });`,
    );
    app = await svc.start(
      {
        AGENT_TRAINERS: `script=${process.execPath} ${join(dir, 'dispatch.js')}; worker:served=${process.execPath} ${join(dir, 'worker.js')}`,
        AGENT_ID: agentId,
        ARTIFACTS_DIR: join(dir, 'artifacts'),
        AGENT_WORK_DIR: join(dir, 'work'),
        AGENT_HEARTBEAT_MS: '200',
        AGENT_NVIDIA_SMI: 'none',
        AGENT_CPU_SLOTS: '3',
        AGENT_CHECKPOINT_EVERY_EPOCHS: '4',
      },
      { agentId },
    );
    bus = app.get(NatsBus);
  });

  afterAll(() => svc.close());

  const lease = (leaseId: string) => testLease(leaseId, agentId);

  it('is ready: bus, artifact storage and disk space answer', async () => {
    await app.listen(0, '127.0.0.1');
    const res = await fetch(`${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/health/ready`);
    const body = (await res.json()) as any;
    expect(res.status).toBe(200);
    expect(Object.keys(body.info).sort()).toEqual(['disk', 'nats', 'storage']);
    expect(body.info.disk.freeGb).toBeGreaterThan(0);
  });

  it('reports its capacity in heartbeats', async () => {
    const hb = await waitFor(async () => (await readStored(prefix, 'agent.heartbeat')).map((e) => e.data).find((d) => d.agentId === agentId), 'a heartbeat');
    expect(hb).toMatchObject({ provider: 'local', gpus: [], cpuSlots: 3, running: [] });
  });

  it('trains an assigned job once, uploads checked artifacts and reports success', async () => {
    const spec = toJobSpec(definition('BTCUSDT'), 1);
    await bus.publish('agent.assign', { spec, lease: lease('lease-ok') });
    await bus.publish('agent.assign', { spec, lease: lease('lease-ok') }, { id: 'a-redelivered-assign' });
    const done = await waitFor(async () => (await readStored(prefix, 'job.succeeded')).map((e) => e.data).find((d) => d.leaseId === 'lease-ok'), 'job.succeeded');
    expect(done).toMatchObject({ jobId: spec.jobId, attempt: 1, agentId, featureset: 'fs1', costs: spec.costs });
    expect(done.artifactsPrefix).toMatch(/^models\/BTCUSDT\/\d{8}_\d{6}Z_a1-[0-9a-f]{8}$/);
    expect(
      done.artifacts
        .map((a: { name: string }) => a.name)
        .filter((n: string) => !n.startsWith('checkpoints/'))
        .sort(),
    ).toEqual(['config.json', 'equity.json', 'features.parquet', 'job.json', 'metrics.json', 'model.bin', 'runtime.json', 'sha256.txt', 'split_indices.json', 'training_log.json'].sort());
    for (const a of done.artifacts)
      expect(
        createHash('sha256')
          .update(readFileSync(fileURLToPath(a.uri)))
          .digest('hex'),
      ).toBe(a.sha256);
    // sha256.txt lists every file once, partial outputs included.
    const manifest = readFileSync(join(dir, 'artifacts', done.artifactsPrefix, 'sha256.txt'), 'utf8')
      .trim()
      .split('\n');
    expect(manifest.map((l) => l.split('  ')[1]).sort()).toEqual(
      done.artifacts
        .map((a: { name: string }) => a.name)
        .filter((n: string) => n !== 'sha256.txt')
        .sort(),
    );
    const work = join(dir, 'work', done.artifactsPrefix);
    expect(JSON.parse(readFileSync(join(work, 'job.json'), 'utf8'))).toEqual(spec);
    // Real Parquet, the features the model was trained on.
    const features = await decodeFeatureTable(readFileSync(join(work, 'features.parquet')));
    expect(readFileSync(join(work, 'features.parquet')).subarray(0, 4).toString()).toBe('PAR1');
    expect(features.meta).toMatchObject({ featureset: 'fs1', symbol: 'BTCUSDT', lookbackCandles: 600, source: 'synthetic:seed=3' });
    const split = JSON.parse(readFileSync(join(work, 'split_indices.json'), 'utf8'));
    expect(split.test[split.test.length - 1]).toBe(features.table.candleIndex[features.table.candleIndex.length - 1]);
    const equity = JSON.parse(readFileSync(join(work, 'equity.json'), 'utf8'));
    expect(equity.length).toBeGreaterThan(1);
    expect(equity.length).toBeLessThanOrEqual(500);
    expect(equity[0]).toEqual({ t: expect.any(Number), equity: 1 });
    expect(new Date(equity[equity.length - 1].t).toISOString()).toBe(done.evaluationWindow.to);
    // Partial outputs were uploaded as they appeared, each announced in the attempt log.
    const log = readFileSync(join(dir, 'artifacts', done.artifactsPrefix, 'attempt.log'), 'utf8');
    const order = ['partial_saved features.parquet', 'partial_saved split_indices.json', 'trained '].map((line) => log.indexOf(line));
    expect(order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1]!))).toBe(true);
    const started = (await readStored(prefix, 'job.started')).filter((e) => e.data.leaseId === 'lease-ok');
    expect(started).toHaveLength(1);
  });

  it('reports a job it cannot train as a failure that is not worth retrying', async () => {
    await bus.publish('agent.assign', { spec: toJobSpec(definition('ETHUSDT', 'fs99'), 1), lease: lease('lease-bad') });
    const failed = await waitFor(async () => (await readStored(prefix, 'job.failed')).map((e) => e.data).find((d) => d.leaseId === 'lease-bad'), 'job.failed');
    expect(failed).toMatchObject({ errorType: 'trainer_error', retryable: false, symbol: 'ETHUSDT' });
    expect(failed.message).toMatch(/featureset/);
    expect(failed.stackSummary).toMatch(/at /);
  });

  it('uploads built-in checkpoints as it trains, and an attempt resumed from one ends with the same model and metrics', async () => {
    // ETHUSDT at this rate trains all 12 epochs (best: 9): checkpoints after epochs 4 and 8.
    const eth = toJobSpec(testJobDefinition({ symbol: 'ETHUSDT', runId: 'resume', lookbackCandles: 600, model: { type: 'logistic', learningRate: 0.05, epochs: 12, seed: 3 } }), 1);
    await bus.publish('agent.assign', { spec: eth, lease: lease('lease-bi-1') });
    const whole = await waitFor(async () => (await readStored(prefix, 'job.succeeded')).map((e) => e.data).find((d) => d.leaseId === 'lease-bi-1'), 'the uninterrupted attempt');
    const checkpoints = (await readStored(prefix, 'job.checkpointed')).map((e) => e.data).filter((d) => d.jobId === eth.jobId);
    expect(checkpoints.map((c) => c.checkpoint.key)).toEqual([`${whole.artifactsPrefix}/checkpoints/epoch-0004.json`, `${whole.artifactsPrefix}/checkpoints/epoch-0008.json`]);
    expect(existsSync(join(dir, 'work', whole.artifactsPrefix, 'checkpoints', 'epoch-0004.json'))).toBe(true);
    const names = whole.artifacts.map((a: { name: string }) => a.name);
    expect(names).toEqual(expect.arrayContaining(['checkpoints/epoch-0004.json', 'checkpoints/epoch-0008.json']));
    expect(names.filter((n: string) => n === 'training_log.json')).toHaveLength(1);

    const retry = { ...eth, attempt: 2, resumeFrom: checkpoints[0].checkpoint };
    await bus.publish('agent.assign', { spec: retry, lease: lease('lease-bi-2') });
    const resumed = await waitFor(async () => (await readStored(prefix, 'job.succeeded')).map((e) => e.data).find((d) => d.leaseId === 'lease-bi-2'), 'the resumed attempt');
    expect(resumed.metrics).toEqual(whole.metrics);
    const sha = (done: { artifacts: { name: string; sha256: string }[] }, name: string) => done.artifacts.find((a) => a.name === name)!.sha256;
    for (const name of ['model.bin', 'metrics.json', 'training_log.json', 'equity.json', 'split_indices.json', 'features.parquet']) expect(sha(resumed, name)).toBe(sha(whole, name));
    const log = readFileSync(join(dir, 'artifacts', resumed.artifactsPrefix, 'attempt.log'), 'utf8');
    expect(log).toMatch(/resume from .*epoch-0004\.json/);
    expect(log).toMatch(/resuming after epoch 4/);
    expect(log).toMatch(/resumed after epoch 4/);
    // It went on checkpointing from where it was: epoch 8 again, not 4.
    const again = (await readStored(prefix, 'job.checkpointed')).map((e) => e.data).filter((d) => d.jobId === eth.jobId && d.attempt === 2);
    expect(again.map((c) => c.checkpoint.key.split('/').pop())).toEqual(['epoch-0008.json']);
  });

  describe('command driver', () => {
    const script = (name: string, body: string) => {
      const path = join(dir, name);
      writeFileSync(path, body);
      return path;
    };
    const commandSpec = (symbol: string, path: string) => toJobSpec({ ...definition(symbol), jobId: `run1-${symbol}`, driver: { kind: 'command', trainer: 'script', args: [basename(path)] } }, 1);

    it('refuses a trainer the agent does not allow, running nothing', async () => {
      const spec = toJobSpec({ ...definition('NOTUSDT'), jobId: 'run1-NOTUSDT', driver: { kind: 'command', trainer: 'bash', args: [] } }, 1);
      await bus.publish('agent.assign', { spec, lease: lease('lease-not-allowed') });
      const failed = await waitFor(async () => (await readStored(prefix, 'job.failed')).map((e) => e.data).find((d) => d.leaseId === 'lease-not-allowed'), 'job.failed');
      expect(failed).toMatchObject({ errorType: 'not_allowed', retryable: false, message: 'trainer "bash" is not allowed on agent ' + agentId + ' (it allows script, served)' });
      expect(await readStored(prefix, 'job.started').then((s) => s.some((e) => e.data.leaseId === 'lease-not-allowed'))).toBe(false);
    });

    it("runs the trainer with an environment that holds none of the agent's credentials", async () => {
      process.env.AWS_SECRET_ACCESS_KEY = 'agent-secret-key';
      process.env.NATS_PASSWORD = 'agent-bus-password';
      try {
        const envFile = join(dir, 'seen-env.json');
        const path = script(
          'print-env.js',
          `require('node:fs').writeFileSync(${JSON.stringify(envFile)}, JSON.stringify(process.env));
           require('node:fs').writeFileSync(require('node:path').join(process.env.TRAINYARD_OUTPUT_DIR, 'model.bin'), 'w');
           console.log(JSON.stringify({ type: 'result', metrics: { directionalHitRate: 0.6, sharpe: 1, maxDrawdown: 0.1, totalReturn: 0.1, mae: 0, rmse: 0, mape: 0, r2: 0 } }));`,
        );
        await bus.publish('agent.assign', { spec: commandSpec('ENVUSDT', path), lease: lease('lease-env') });
        await waitFor(async () => (await readStored(prefix, 'job.succeeded')).some((e) => e.data.leaseId === 'lease-env'), 'job.succeeded');
        const seen = JSON.parse(readFileSync(envFile, 'utf8'));
        expect(JSON.stringify(seen)).not.toMatch(/agent-secret-key|agent-bus-password/);
        expect(Object.keys(seen).filter((k) => /^(NATS|AWS|S3|TELEGRAM|VAST|DATABASE)_/.test(k))).toEqual([]);
        expect(seen).toMatchObject({ PATH: process.env.PATH, TRAINYARD_DEVICE: 'cpu' });
      } finally {
        delete process.env.AWS_SECRET_ACCESS_KEY;
        delete process.env.NATS_PASSWORD;
      }
    });

    /** With the agent switching trainers to `nobody` (it runs as root) and the test's folder open to it. */
    const asNobody = async (work: () => Promise<void>) => {
      const cfg = app.get<AgentConfig>(AGENT_CONFIG);
      chmodSync(dir, 0o755);
      cfg.AGENT_TRAINER_USER = 'nobody';
      try {
        await work();
      } finally {
        cfg.AGENT_TRAINER_USER = undefined;
        chmodSync(dir, 0o700);
      }
    };
    const ranAsNobody = (done: { artifacts: { name: string; uri: string }[] }) =>
      expect(Number(readFileSync(fileURLToPath(done.artifacts.find((a) => a.name === 'uid.txt')!.uri), 'utf8'))).toBe(Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim()));

    if (process.getuid?.() === 0) {
      it('runs the trainer as AGENT_TRAINER_USER when the agent is root', () =>
        asNobody(async () => {
          const path = script(
            'whoami.js',
            `const fs = require('node:fs'); const path = require('node:path');
             fs.writeFileSync(path.join(process.env.TRAINYARD_OUTPUT_DIR, 'uid.txt'), String(process.getuid()));
             console.log(JSON.stringify({ type: 'result', metrics: { directionalHitRate: 0.6, sharpe: 1, maxDrawdown: 0.1, totalReturn: 0.1, mae: 0, rmse: 0, mape: 0, r2: 0 } }));`,
          );
          chmodSync(path, 0o644);
          await bus.publish('agent.assign', { spec: commandSpec('UIDUSDT', path), lease: lease('lease-uid') });
          ranAsNobody(await waitFor(async () => (await readStored(prefix, 'job.succeeded')).map((e) => e.data).find((d) => d.leaseId === 'lease-uid'), 'job.succeeded'));
        }));
    }

    it('runs the program with its spec and output folder, relays progress, and uploads what it wrote', async () => {
      const path = script(
        'train.js',
        `const fs = require('node:fs'); const path = require('node:path');
         const spec = JSON.parse(fs.readFileSync(process.env.TRAINYARD_JOB_SPEC, 'utf8'));
         console.log('training ' + spec.symbol + ' on ' + process.env.TRAINYARD_DEVICE);
         console.log(JSON.stringify({ type: 'progress', percent: 50, epoch: 1, epochs: 2, loss: 0.6 }));
         fs.mkdirSync(path.join(process.env.TRAINYARD_OUTPUT_DIR, 'checkpoints'), { recursive: true });
         fs.writeFileSync(path.join(process.env.TRAINYARD_OUTPUT_DIR, 'checkpoints', 'epoch-1.pt'), 'weights-1');
         fs.writeFileSync(path.join(process.env.TRAINYARD_OUTPUT_DIR, 'model.bin'), 'weights-final');
         console.log(JSON.stringify({ type: 'result', metrics: { directionalHitRate: 0.61, sharpe: 1.5, maxDrawdown: 0.1, totalReturn: 0.2, mae: 0.01, rmse: 0.02, mape: 1.1, r2: 0.05 } }));`,
      );
      const exists = jest.spyOn(app.get<ArtifactStore>(ARTIFACT_STORE), 'exists');
      await bus.publish('agent.assign', { spec: commandSpec('SOLUSDT', path), lease: lease('lease-cmd') });
      const done = await waitFor(async () => (await readStored(prefix, 'job.succeeded')).map((e) => e.data).find((d) => d.leaseId === 'lease-cmd'), 'job.succeeded');
      // Only a later attempt can reuse an earlier one's outcome: a first attempt does not look for one.
      expect(exists.mock.calls.filter(([key]) => key.includes('/finished/'))).toEqual([]);
      exists.mockRestore();
      expect(done.metrics.directionalHitRate).toBe(0.61);
      expect(done.artifacts.map((a: { name: string }) => a.name)).toEqual(expect.arrayContaining(['model.bin', 'checkpoints/epoch-1.pt', 'job.json', 'sha256.txt']));
      const model = done.artifacts.find((a: { name: string }) => a.name === 'model.bin');
      expect(readFileSync(fileURLToPath(model.uri), 'utf8')).toBe('weights-final');
      const progress = (await readStored(prefix, 'job.progress')).map((e) => e.data).filter((d) => d.jobId === 'run1-SOLUSDT');
      expect(progress[0]).toMatchObject({ percent: 50, epoch: 1, loss: 0.6 });
      const log = readFileSync(join(dir, 'artifacts', done.artifactsPrefix, 'attempt.log'), 'utf8');
      expect(log).toMatch(/output training SOLUSDT on cpu/);
    });

    it('reports running out of memory as retryable, and a crash as a trainer error with its stderr', async () => {
      const oom = script('oom.js', `console.error('RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB'); process.exit(1);`);
      const crash = script('crash.js', `console.error('Traceback: KeyError: close'); process.exit(3);`);
      await bus.publish('agent.assign', { spec: commandSpec('ADAUSDT', oom), lease: lease('lease-oom') });
      await bus.publish('agent.assign', { spec: commandSpec('XRPUSDT', crash), lease: lease('lease-crash') });
      const failed = await waitFor(async () => {
        const f = (await readStored(prefix, 'job.failed')).map((e) => e.data).filter((d) => d.leaseId === 'lease-oom' || d.leaseId === 'lease-crash');
        return f.length === 2 ? f : null;
      }, 'both failures');
      const byLease = Object.fromEntries(failed.map((f) => [f.leaseId, f]));
      expect(byLease['lease-oom']).toMatchObject({ errorType: 'oom', retryable: true });
      expect(byLease['lease-crash']).toMatchObject({ errorType: 'trainer_error', retryable: false, message: expect.stringMatching(/exited with code 3/) });
      expect(byLease['lease-crash'].stackSummary).toMatch(/KeyError: close/);
    });

    it('stops the whole process group on cancel, leaving no orphan', async () => {
      const pidFile = join(dir, 'grandchild.pid');
      const path = script(
        'hang.js',
        `const { spawn } = require('node:child_process'); const fs = require('node:fs');
         const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
         fs.writeFileSync(${JSON.stringify(pidFile)}, String(child.pid));
         console.log(JSON.stringify({ type: 'progress', percent: 1 }));
         setInterval(() => {}, 1000);`,
      );
      await bus.publish('agent.assign', { spec: commandSpec('DOTUSDT', path), lease: lease('lease-hang') });
      await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').length > 0, 'the grandchild started');
      const grandchild = Number(readFileSync(pidFile, 'utf8'));
      await bus.publish('job.cancel', { jobId: 'run1-DOTUSDT', reason: 'operator' });
      const cancelled = await waitFor(async () => (await readStored(prefix, 'job.cancelled')).map((e) => e.data).find((d) => d.jobId === 'run1-DOTUSDT'), 'job.cancelled');
      expect(cancelled.reason).toBe('operator');
      const alive = () => {
        try {
          process.kill(grandchild, 0);
          return true;
        } catch {
          return false;
        }
      };
      await waitFor(() => !alive(), 'the grandchild gone', 10_000);
    });
    it('uploads a checkpoint as soon as it is written, and a retry resumes from it', async () => {
      const path = script(
        'checkpointing.js',
        `const fs = require('node:fs'); const path = require('node:path');
         const out = process.env.TRAINYARD_OUTPUT_DIR;
         if (process.env.TRAINYARD_RESUME_FROM) {
           const state = fs.readFileSync(process.env.TRAINYARD_RESUME_FROM, 'utf8');
           console.log('resumed from ' + state);
           fs.writeFileSync(path.join(out, 'model.bin'), 'final after ' + state);
           console.log(JSON.stringify({ type: 'result', metrics: { directionalHitRate: 0.6, sharpe: 1, maxDrawdown: 0.1, totalReturn: 0.1, mae: 0, rmse: 0, mape: 0, r2: 0 } }));
         } else {
           fs.mkdirSync(path.join(out, 'checkpoints'), { recursive: true });
           fs.writeFileSync(path.join(out, 'checkpoints', 'epoch-3.pt'), 'state-at-epoch-3');
           setTimeout(() => { console.error('RuntimeError: CUDA out of memory'); process.exit(1); }, 4500);
         }`,
      );
      const first = commandSpec('LTCUSDT', path);
      await bus.publish('agent.assign', { spec: first, lease: lease('lease-ckpt-1') });
      const checkpointed = await waitFor(async () => (await readStored(prefix, 'job.checkpointed')).map((e) => e.data).find((d) => d.jobId === 'run1-LTCUSDT'), 'job.checkpointed', 15_000);
      expect(await readStored(prefix, 'job.failed').then((f) => f.some((e) => e.data.leaseId === 'lease-ckpt-1'))).toBe(false);
      expect(checkpointed.checkpoint.key).toMatch(/^models\/LTCUSDT\/\d{8}_\d{6}Z_a1-[0-9a-f]{8}\/checkpoints\/epoch-3\.pt$/);
      const failed = await waitFor(async () => (await readStored(prefix, 'job.failed')).map((e) => e.data).find((d) => d.leaseId === 'lease-ckpt-1'), 'the OOM failure');
      expect(failed).toMatchObject({ errorType: 'oom', retryable: true });

      const retry = { ...first, attempt: 2, resumeFrom: checkpointed.checkpoint };
      await bus.publish('agent.assign', { spec: retry, lease: lease('lease-ckpt-2') });
      const done = await waitFor(async () => (await readStored(prefix, 'job.succeeded')).map((e) => e.data).find((d) => d.leaseId === 'lease-ckpt-2'), 'the resumed attempt');
      const model = done.artifacts.find((a: { name: string }) => a.name === 'model.bin');
      expect(readFileSync(fileURLToPath(model.uri), 'utf8')).toBe('final after state-at-epoch-3');
    });

    describe('a worker trainer', () => {
      const served = (symbol: string, module: string) => toJobSpec({ ...definition(symbol), jobId: `run1-${symbol}`, driver: { kind: 'command', trainer: 'served', args: [basename(module)] } }, 1);
      const pidOf = (done: { artifacts: { name: string; uri: string }[] }) => Number(readFileSync(fileURLToPath(done.artifacts.find((a) => a.name === 'pid.txt')!.uri), 'utf8'));
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      let ok = '';
      beforeAll(() => {
        ok = script(
          'served-ok.js',
          `const fs = require('node:fs'); const path = require('node:path');
         module.exports = (job) => {
           const out = process.env.TRAINYARD_OUTPUT_DIR;
           const spec = JSON.parse(fs.readFileSync(process.env.TRAINYARD_JOB_SPEC, 'utf8'));
           fs.writeFileSync(path.join(out, 'pid.txt'), String(process.pid));
           fs.writeFileSync(path.join(out, 'seen.json'), JSON.stringify({ symbol: spec.symbol, candles: process.env.TRAINYARD_CANDLES, args: job.args }));
           console.log('serving ' + spec.symbol);
           console.log(JSON.stringify({ type: 'result', metrics: { directionalHitRate: 0.6, sharpe: 1, maxDrawdown: 0.1, totalReturn: 0.1, mae: 0, rmse: 0, mape: 0, r2: 0 } }));
         };`,
        );
      });
      const succeeded = (leaseId: string) => waitFor(async () => (await eventsOf('job.succeeded', leaseId))[0], `job.succeeded of ${leaseId}`);
      let firstWorker = 0;

      it('serves job after job in one process, each with its own spec, inputs and output folder', async () => {
        await bus.publish('agent.assign', { spec: served('WKAUSDT', ok), lease: lease('lease-served-1') });
        const one = await succeeded('lease-served-1');
        await bus.publish('agent.assign', { spec: served('WKBUSDT', ok), lease: lease('lease-served-2') });
        const two = await succeeded('lease-served-2');
        firstWorker = pidOf(one);
        expect(pidOf(two)).toBe(firstWorker);
        const seen = (done: { artifacts: { name: string; uri: string }[] }) => JSON.parse(readFileSync(fileURLToPath(done.artifacts.find((a) => a.name === 'seen.json')!.uri), 'utf8'));
        expect(seen(one)).toMatchObject({ symbol: 'WKAUSDT', args: ['served-ok.js'] });
        expect(seen(two)).toMatchObject({ symbol: 'WKBUSDT' });
        expect(seen(two).candles).toContain(two.artifactsPrefix.split('/').pop());
        expect(readFileSync(join(dir, 'artifacts', two.artifactsPrefix, 'attempt.log'), 'utf8')).toMatch(/output serving WKBUSDT[\s\S]*reported its result/);
        expect(alive(firstWorker)).toBe(true);
      });

      it('fails the job of a worker that dies with its stderr, and starts another for the next job', async () => {
        const crash = script('served-crash.js', `module.exports = () => { console.error('Traceback: ValueError: no close column'); process.exit(3); };`);
        await bus.publish('agent.assign', { spec: served('WKCUSDT', crash), lease: lease('lease-served-crash') });
        const failed = await waitFor(async () => (await eventsOf('job.failed', 'lease-served-crash'))[0], 'job.failed');
        expect(failed).toMatchObject({ errorType: 'trainer_error', retryable: false, message: expect.stringMatching(/exited with code 3/) });
        expect(failed.stackSummary).toMatch(/ValueError: no close column/);
        await waitFor(() => !alive(firstWorker), 'the worker gone');
        await bus.publish('agent.assign', { spec: served('WKDUSDT', ok), lease: lease('lease-served-3') });
        expect(pidOf(await succeeded('lease-served-3'))).not.toBe(firstWorker);
      });

      if (process.getuid?.() === 0) {
        it('runs as AGENT_TRAINER_USER when the agent is root, its home its own', () =>
          asNobody(async () => {
            const who = script(
              'served-whoami.js',
              `const fs = require('node:fs'); const path = require('node:path');
               module.exports = () => {
                 fs.writeFileSync(path.join(process.env.TRAINYARD_OUTPUT_DIR, 'uid.txt'), String(process.getuid()));
                 fs.writeFileSync(path.join(process.env.HOME, 'touched'), 'a worker may write in its home');
                 console.log(JSON.stringify({ type: 'result', metrics: { directionalHitRate: 0.6, sharpe: 1, maxDrawdown: 0.1, totalReturn: 0.1, mae: 0, rmse: 0, mape: 0, r2: 0 } }));
               };`,
            );
            chmodSync(who, 0o644);
            chmodSync(join(dir, 'worker.js'), 0o644);
            await bus.publish('agent.assign', { spec: served('WKUUSDT', who), lease: lease('lease-served-uid') });
            const done = await succeeded('lease-served-uid');
            ranAsNobody(done);
            expect(done.artifacts.map((a: { name: string }) => a.name)).not.toContain('touched');
          }));
      }

      it("stops a cancelled job's worker with all its children, and the next job gets a fresh one", async () => {
        const pidFile = join(dir, 'served-grandchild.pid');
        const hang = script(
          'served-hang.js',
          `module.exports = () => {
             const child = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
             require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(child.pid) + ' ' + process.pid);
             console.log(JSON.stringify({ type: 'progress', percent: 1 }));
           };`,
        );
        await bus.publish('agent.assign', { spec: served('WKEUSDT', hang), lease: lease('lease-served-hang') });
        await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').includes(' '), 'the grandchild started');
        const [grandchild, worker] = readFileSync(pidFile, 'utf8').split(' ').map(Number) as [number, number];
        await bus.publish('job.cancel', { jobId: 'run1-WKEUSDT', reason: 'operator' });
        await waitFor(async () => (await readStored(prefix, 'job.cancelled')).some((e) => e.data.jobId === 'run1-WKEUSDT'), 'job.cancelled');
        await waitFor(() => !alive(grandchild) && !alive(worker), 'the worker and its child gone', 10_000);
        await bus.publish('agent.assign', { spec: served('WKFUSDT', ok), lease: lease('lease-served-4') });
        expect(pidOf(await succeeded('lease-served-4'))).not.toBe(worker);
      });
    });

    const quick = (name: string, model = 'weights') =>
      script(
        name,
        `const fs = require('node:fs'); const path = require('node:path');
         fs.writeFileSync(path.join(process.env.TRAINYARD_OUTPUT_DIR, 'model.bin'), ${JSON.stringify(model)});
         console.log(JSON.stringify({ type: 'result', metrics: { directionalHitRate: 0.6, sharpe: 1, maxDrawdown: 0.1, totalReturn: 0.1, mae: 0, rmse: 0, mape: 0, r2: 0 } }));`,
      );
    const hanging = (name: string, marker: string) =>
      script(name, `require('node:fs').writeFileSync(${JSON.stringify(marker)}, String(process.pid)); console.log(JSON.stringify({ type: 'progress', percent: 1 })); setInterval(() => {}, 1000);`);
    const eventsOf = async (event: string, leaseId: string) => (await readStored(prefix, event)).map((e) => e.data).filter((d) => d.leaseId === leaseId);
    const fence = (jobId: string, leaseId: string, attempt = 1, to = agentId) =>
      bus.publish('job.cancel', { jobId, reason: `lease ${leaseId} lost: agent ${to} silent for over 30 s`, leaseId, attempt, agentId: to });

    it('fencing: refuses the assignment of a lease the broker took back when it arrives after the fence', async () => {
      const spec = commandSpec('FENAUSDT', quick('fence-late.js'));
      await fence(spec.jobId, 'lease-fenced-late');
      await new Promise((r) => setTimeout(r, 300));
      await bus.publish('agent.assign', { spec, lease: lease('lease-fenced-late') });
      await new Promise((r) => setTimeout(r, 1500));
      expect(await eventsOf('job.started', 'lease-fenced-late')).toEqual([]);
      expect(await eventsOf('job.succeeded', 'lease-fenced-late')).toEqual([]);
      // The broker reported the lease lost already; the agent adds nothing the scheduler could misread.
      expect(await eventsOf('job.failed', 'lease-fenced-late')).toEqual([]);
      expect((await readStored(prefix, 'job.cancelled')).some((e) => e.data.jobId === spec.jobId)).toBe(false);
    });

    it('fencing: stops a running attempt whose lease was taken back, and only that one, without reporting it cancelled', async () => {
      const marker = join(dir, 'fenced-running.pid');
      const other = join(dir, 'other-agent-fence.pid');
      const spec = commandSpec('FENBUSDT', hanging('fence-running.js', marker));
      const keep = commandSpec('FENCUSDT', hanging('fence-other.js', other));
      await bus.publish('agent.assign', { spec, lease: lease('lease-fenced-running') });
      await bus.publish('agent.assign', { spec: keep, lease: lease('lease-not-fenced') });
      await waitFor(() => existsSync(marker) && existsSync(other), 'both attempts started');
      await waitFor(async () => (await eventsOf('job.started', 'lease-fenced-running')).length === 1, 'job.started');
      // A fence naming another agent is not this agent's to act on.
      await fence(keep.jobId, 'lease-not-fenced', 1, 'some-other-agent');
      await fence(spec.jobId, 'lease-fenced-running');
      const runner = app.get(JobRunner);
      await waitFor(() => !runner.runningAttempts().some((r) => r.leaseId === 'lease-fenced-running'), 'the fenced attempt stopped', 10_000);
      expect(runner.runningAttempts().some((r) => r.leaseId === 'lease-not-fenced')).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
      expect((await readStored(prefix, 'job.cancelled')).some((e) => e.data.jobId === spec.jobId)).toBe(false);
      expect(await eventsOf('job.failed', 'lease-fenced-running')).toEqual([]);
      expect(await eventsOf('job.succeeded', 'lease-fenced-running')).toEqual([]);
      await bus.publish('job.cancel', { jobId: keep.jobId, reason: 'test over' });
      await waitFor(async () => (await readStored(prefix, 'job.cancelled')).some((e) => e.data.jobId === keep.jobId), 'the other attempt cancelled');
    });

    it('fencing: refuses an assignment whose lease has already ended, and one older than an attempt of its job taken here', async () => {
      const expired = commandSpec('FENDUSDT', quick('fence-expired.js'));
      await bus.publish('agent.assign', { spec: expired, lease: { ...lease('lease-expired'), endsBy: new Date(Date.now() - 60_000).toISOString() } });
      const failed = await waitFor(async () => (await eventsOf('job.failed', 'lease-expired'))[0], 'the expired lease refused');
      expect(failed).toMatchObject({ jobId: expired.jobId, attempt: 1, errorType: 'timeout', retryable: true });
      expect(await eventsOf('job.started', 'lease-expired')).toEqual([]);

      const newer = { ...commandSpec('FENEUSDT', quick('fence-newer.js', 'attempt 2')), attempt: 2 };
      await bus.publish('agent.assign', { spec: newer, lease: lease('lease-attempt-2') });
      await waitFor(async () => (await eventsOf('job.succeeded', 'lease-attempt-2')).length === 1, 'attempt 2 ran');
      await bus.publish('agent.assign', { spec: { ...newer, attempt: 1 }, lease: lease('lease-attempt-1-stale') });
      const stale = await waitFor(async () => (await eventsOf('job.failed', 'lease-attempt-1-stale'))[0], 'the stale attempt refused');
      expect(stale).toMatchObject({ attempt: 1, errorType: 'agent_lost', retryable: true, message: expect.stringMatching(/stale/) });
      expect(await eventsOf('job.started', 'lease-attempt-1-stale')).toEqual([]);
    });

    it('gives two attempts of one symbol that start in the same second folders and artifact prefixes of their own', async () => {
      const first = commandSpec('TWINUSDT', quick('twin.js', 'twin'));
      await bus.publish('agent.assign', { spec: first, lease: lease('lease-twin-1') });
      await bus.publish('agent.assign', { spec: { ...first, attempt: 2 }, lease: lease('lease-twin-2') });
      const [a, b] = await waitFor(async () => {
        const done = [...(await eventsOf('job.succeeded', 'lease-twin-1')), ...(await eventsOf('job.succeeded', 'lease-twin-2'))];
        return done.length === 2 ? done : null;
      }, 'both attempts');
      expect(a.artifactsPrefix).not.toBe(b.artifactsPrefix);
      const started = [...(await eventsOf('job.started', 'lease-twin-1')), ...(await eventsOf('job.started', 'lease-twin-2'))];
      expect(new Set(started.map((s) => s.workDir)).size).toBe(2);
    });

    describe('a bus outage after training', () => {
      let failures = 0;
      let failFor = '';
      beforeAll(() => {
        const publish = bus.publish.bind(bus);
        jest.spyOn(bus, 'publish').mockImplementation((async (name: string, input: { leaseId?: string }, opts?: object) => {
          if (name === 'job.succeeded' && input.leaseId === failFor && failures > 0) {
            failures--;
            throw new Error('TIMEOUT');
          }
          return publish(name as never, input as never, opts);
        }) as never);
      });
      afterAll(() => jest.restoreAllMocks());

      it('is waited out: job.succeeded goes out once the bus is back, and the model is kept', async () => {
        failFor = 'lease-outage';
        failures = 3;
        await bus.publish('agent.assign', { spec: commandSpec('OUTAUSDT', quick('outage.js', 'kept')), lease: lease('lease-outage') });
        const done = await waitFor(async () => (await eventsOf('job.succeeded', 'lease-outage'))[0], 'job.succeeded after the outage', 20_000);
        expect(failures).toBe(0);
        expect(readFileSync(fileURLToPath(done.artifacts.find((a: { name: string }) => a.name === 'model.bin').uri), 'utf8')).toBe('kept');
        expect(await eventsOf('job.failed', 'lease-outage')).toEqual([]);
      });

      it('fails the attempt as a retryable network error, not a trainer error, when the bus stays away past the window; the next attempt reuses its verified model', async () => {
        const cfg = app.get<AgentConfig>(AGENT_CONFIG);
        const window = cfg.AGENT_OUTCOME_RETRY_SECONDS;
        const runs = join(dir, 'long-outage.runs');
        const path = script(
          'long-outage.js',
          `const fs = require('node:fs'); const path = require('node:path');
           fs.appendFileSync(${JSON.stringify(runs)}, 'x');
           fs.writeFileSync(path.join(process.env.TRAINYARD_OUTPUT_DIR, 'model.bin'), 'trained in run ' + fs.readFileSync(${JSON.stringify(runs)}, 'utf8').length);
           console.log(JSON.stringify({ type: 'result', metrics: { directionalHitRate: 0.6, sharpe: 1, maxDrawdown: 0.1, totalReturn: 0.1, mae: 0, rmse: 0, mape: 0, r2: 0 } }));`,
        );
        const spec = commandSpec('OUTBUSDT', path);
        cfg.AGENT_OUTCOME_RETRY_SECONDS = 1;
        try {
          failFor = 'lease-long-outage';
          failures = 1_000;
          await bus.publish('agent.assign', { spec, lease: lease('lease-long-outage') });
          const failed = await waitFor(async () => (await eventsOf('job.failed', 'lease-long-outage'))[0], 'job.failed', 20_000);
          expect(failed).toMatchObject({ errorType: 'network', retryable: true, message: expect.stringMatching(/job\.succeeded could not be published within 1 s: TIMEOUT/) });
        } finally {
          cfg.AGENT_OUTCOME_RETRY_SECONDS = window;
          failures = 0;
        }
        const [first] = await eventsOf('job.started', 'lease-long-outage');
        await bus.publish('agent.assign', { spec: { ...spec, attempt: 2 }, lease: lease('lease-after-outage') });
        const done = await waitFor(async () => (await eventsOf('job.succeeded', 'lease-after-outage'))[0], 'the next attempt succeeded', 20_000);
        expect(done).toMatchObject({ attempt: 2, artifactsPrefix: first.artifactsPrefix });
        expect(readFileSync(fileURLToPath(done.artifacts.find((a: { name: string }) => a.name === 'model.bin').uri), 'utf8')).toBe('trained in run 1');
        expect(readFileSync(runs, 'utf8')).toBe('x'); // trained once
        expect(existsSync(join(dir, 'artifacts', 'models', 'OUTBUSDT', 'finished', `${spec.jobId}.json`))).toBe(false);
      });
    });
  });
});
