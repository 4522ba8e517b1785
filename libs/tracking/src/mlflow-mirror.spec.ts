import { createHash } from 'node:crypto';
import { startMlflowTestServer, type MlflowTestServer, type MlflowTestServerOptions } from '@trainyard/testing';
import { MlflowClient } from './mlflow-client';
import { MlflowRejected, MlflowUnavailable } from './mlflow-errors';
import type { MetricPoint, TrackedRun } from './tracked-run';

const MODEL = Buffer.from('onnx model bytes');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const points = (n: number, key = 'loss', from = 0): MetricPoint[] =>
  Array.from({ length: n }, (_, i) => ({ key, value: 1 / (from + i + 1), step: from + i, timestamp: 1717200000000 + (from + i) * 1000 }));

const trackedRun = (overrides: Partial<TrackedRun> = {}): TrackedRun => ({
  runId: 'job-42-a1',
  experimentName: 'trainyard/BTCUSDT',
  runName: 'BTCUSDT 2024-06-01 a1',
  status: 'finished',
  startTime: 1717200000000,
  endTime: 1717200600000,
  params: { 'model.lr': '0.001', 'model.layers': '[64,32]', 'data.window': '30' },
  tags: { symbol: 'BTCUSDT', 'trainyard.job_id': 'job-42' },
  metrics: [...points(3), ...points(2, 'val_sharpe')],
  artifacts: [{ key: 'models/BTCUSDT/model.onnx', uri: 's3://trainyard/models/BTCUSDT/model.onnx', sha256: sha256(MODEL), bytes: MODEL.length }],
  ...overrides,
});

describe('mirror into MLflow', () => {
  let mlflow: MlflowTestServer;
  let client: MlflowClient;
  let sleeps: number[];

  const start = async (options?: MlflowTestServerOptions, retry?: { attempts: number }) => {
    mlflow = await startMlflowTestServer(options);
    sleeps = [];
    client = new MlflowClient({
      trackingUri: mlflow.url,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      retry,
    });
  };
  const readArtifact = async () => MODEL;
  const logBatches = (from = 0) =>
    mlflow.requests.slice(from).filter((r) => r.path.endsWith('runs/log-batch')) as Array<{ body: { params?: unknown[]; tags?: unknown[]; metrics?: unknown[] }; status: number }>;

  afterEach(async () => {
    await mlflow.stop();
  });

  it('logs a run with its params, every metric step and timestamp, tags, artifacts and final status', async () => {
    await start();
    const run = trackedRun();
    const result = await client.mirror(run, { readArtifact });
    expect(result).toMatchObject({ created: true, metricsSent: 5, logged: { params: 3, tags: 3, metrics: 5 }, artifactsUploaded: ['models/BTCUSDT/model.onnx'] });

    const [stored] = mlflow.runs(result.experimentId);
    expect(mlflow.experiments().find((e) => e.experimentId === result.experimentId)?.name).toBe('trainyard/BTCUSDT');
    expect(stored).toMatchObject({ runId: result.mlflowRunId, runName: 'BTCUSDT 2024-06-01 a1', status: 'FINISHED', startTime: 1717200000000, endTime: 1717200600000, params: run.params });
    expect(stored?.tags).toMatchObject({ symbol: 'BTCUSDT', 'trainyard.job_id': 'job-42', 'trainyard.run_id': 'job-42-a1', 'mlflow.runName': 'BTCUSDT 2024-06-01 a1' });
    const artifactTag = stored?.tags['trainyard.artifact.models/BTCUSDT/model.onnx'];
    expect(artifactTag).toBeDefined();
    expect(JSON.parse(artifactTag!)).toEqual({
      key: 'models/BTCUSDT/model.onnx',
      uri: 's3://trainyard/models/BTCUSDT/model.onnx',
      sha256: sha256(MODEL),
      bytes: MODEL.length,
      mlflow_path: 'models/BTCUSDT/model.onnx',
    });
    expect(stored?.metrics.loss).toEqual(points(3));
    expect(stored?.metrics.val_sharpe).toEqual(points(2, 'val_sharpe'));
    expect(mlflow.artifact(`${result.experimentId}/${result.mlflowRunId}/artifacts/models/BTCUSDT/model.onnx`)).toEqual(MODEL);
  });

  it('mirrors again without a second run or resent data, and sends only new metrics after the cursor', async () => {
    await start({ duplicateMetrics: 'append' });
    const running = trackedRun({ status: 'running', endTime: undefined, metrics: points(3) });
    const first = await client.mirror(running, { readArtifact });
    expect(mlflow.run(first.mlflowRunId)?.status).toBe('RUNNING');

    const mark = mlflow.requests.length;
    const again = await client.mirror(running, { readArtifact, metricsSent: first.metricsSent });
    expect(again).toMatchObject({ created: false, mlflowRunId: first.mlflowRunId, metricsSent: 3, logged: { params: 0, tags: 0, metrics: 0 }, artifactsUploaded: [] });
    expect(logBatches(mark)).toEqual([]);

    const finished = { ...running, status: 'finished' as const, endTime: 1717200600000, metrics: [...points(3), ...points(2, 'loss', 3)] };
    const cursors: number[] = [];
    const last = await client.mirror(finished, { readArtifact, metricsSent: again.metricsSent, onMetricsSent: (n) => void cursors.push(n) });
    expect(last).toMatchObject({ metricsSent: 5, logged: { metrics: 2 } });
    expect(cursors).toEqual([5]);
    expect(mlflow.runs()).toHaveLength(1);
    expect(mlflow.run(first.mlflowRunId)).toMatchObject({ status: 'FINISHED', endTime: 1717200600000 });
    expect(mlflow.run(first.mlflowRunId)?.metrics.loss).toEqual(points(5));
  });

  it('finishes after a crash part-way through the metrics, with no duplicate points and no param re-logged', async () => {
    await start({ duplicateMetrics: 'append' }, { attempts: 2 });
    const run = trackedRun({ metrics: points(2500), artifacts: [] });
    let persisted: number | undefined;
    const crashed = await client
      .mirror(run, {
        onMetricsSent: (n) => {
          persisted = n;
          if (n === 1000) mlflow.failNext(2, 503, 'runs/log-batch');
        },
      })
      .catch((e: unknown) => e);
    expect(crashed).toBeInstanceOf(MlflowUnavailable);
    expect(crashed).toMatchObject({ attempts: 2, status: 503 });
    expect(persisted).toBe(1000);
    const [partial] = mlflow.runs();
    expect(partial?.metrics.loss).toHaveLength(1000);
    expect(partial?.status).toBe('RUNNING');
    const { runId: mlflowRunId } = partial!;

    const mark = mlflow.requests.length;
    const resumed = await client.mirror(run);
    expect(resumed).toMatchObject({ created: false, mlflowRunId, logged: { params: 0, metrics: 1500 } });
    expect(logBatches(mark).some((r) => r.body.params?.length)).toBe(false);
    expect(mlflow.runs()).toHaveLength(1);
    expect(mlflow.run(mlflowRunId)?.metrics.loss).toEqual(points(2500));
    expect(mlflow.run(mlflowRunId)?.status).toBe('FINISHED');

    const withCursor = await client.mirror(run, { metricsSent: 2500 });
    expect(withCursor.logged).toEqual({ params: 0, tags: 0, metrics: 0 });
  });

  it('does not duplicate a run or metric points whose answer was lost', async () => {
    await start({ duplicateMetrics: 'append' });
    const run = trackedRun({ params: {}, tags: {}, artifacts: [] });
    mlflow.failNext(1, 503, 'runs/create', { applied: true });
    mlflow.failNext(1, 500, 'runs/log-batch', { applied: true });
    const result = await client.mirror(run);
    expect(result.created).toBe(false);
    expect(mlflow.runs()).toHaveLength(1);
    expect(mlflow.run(result.mlflowRunId)?.metrics).toEqual({ loss: points(3), val_sharpe: points(2, 'val_sharpe') });
    expect(mlflow.requests.map((r) => `${r.path.replace('/api/2.0/mlflow/', '')} ${r.status}`)).toEqual([
      'experiments/get-by-name 404',
      'experiments/create 200',
      'experiments/get 200',
      'runs/search 200',
      'runs/create 503',
      'runs/search 200',
      // found, not created, so what MLflow holds is unknown: read before sending
      'metrics/get-history 200',
      'metrics/get-history 200',
      'runs/log-batch 500',
      // the batch may have landed: read again before resending, find it there, send nothing
      'metrics/get-history 200',
      'metrics/get-history 200',
      'runs/update 200',
    ]);
  });

  it('retries through 429 and 503 from the server', async () => {
    await start();
    mlflow.rateLimitNext(1, 3, 'runs/search');
    mlflow.failNext(2, 503, 'runs/log-batch');
    mlflow.failNext(1, 'reset', 'runs/update');
    const result = await client.mirror(trackedRun(), { readArtifact });
    expect(result.created).toBe(true);
    expect(sleeps[0]).toBe(3000);
    expect(sleeps).toHaveLength(4);
    expect(mlflow.run(result.mlflowRunId)).toMatchObject({ status: 'FINISHED', params: trackedRun().params });
  });

  it('surfaces a permanent 400 as MlflowRejected with the code, and refuses a changed param before sending', async () => {
    await start();
    mlflow.failNext(1, 400, 'runs/log-batch', { errorCode: 'INVALID_PARAMETER_VALUE', message: 'Param value too long' });
    const rejected = await client.mirror(trackedRun()).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(MlflowRejected);
    expect(rejected).toMatchObject({ errorCode: 'INVALID_PARAMETER_VALUE', status: 400, message: 'INVALID_PARAMETER_VALUE: Param value too long' });
    expect(logBatches()).toHaveLength(1);

    await client.mirror(trackedRun());
    const mark = mlflow.requests.length;
    const changed = await client.mirror(trackedRun({ params: { ...trackedRun().params, 'model.lr': '0.002' } })).catch((e: unknown) => e);
    expect(changed).toMatchObject({ name: 'MlflowRejected', errorCode: 'INVALID_PARAMETER_VALUE', status: undefined });
    expect((changed as Error).message).toContain("Param with key='model.lr' was already logged with value='0.001'");
    expect(logBatches(mark)).toEqual([]);
  });

  it('refuses what MLflow would refuse before sending anything, and a deleted experiment', async () => {
    await start();
    const bad = await client.mirror(trackedRun({ params: { 'lr:max': '1' }, metrics: [{ key: 'loss', value: 1, step: 0.5, timestamp: 1 }] })).catch((e: unknown) => e);
    expect(bad).toMatchObject({ name: 'MlflowRejected', errorCode: 'INVALID_PARAMETER_VALUE' });
    expect((bad as Error).message).toMatch(/Invalid parameter name: 'lr:max'.*Got invalid step 0.5/);
    expect(mlflow.requests).toEqual([]);

    const first = await client.mirror(trackedRun());
    await fetch(`${mlflow.url}/api/2.0/mlflow/experiments/delete`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ experiment_id: first.experimentId }) });
    await expect(client.mirror(trackedRun())).rejects.toMatchObject({ name: 'MlflowRejected', errorCode: 'INVALID_STATE' });
  });

  it('records artifacts as tags only when the artifact root is not behind the proxy, and maps failed and killed', async () => {
    await start({ defaultArtifactRoot: 's3://mlflow-bucket/artifacts' });
    const failed = await client.mirror(trackedRun({ status: 'failed' }), { readArtifact });
    expect(failed.artifactsUploaded).toEqual([]);
    const stored = mlflow.run(failed.mlflowRunId);
    expect(stored?.status).toBe('FAILED');
    expect(JSON.parse(stored?.tags['trainyard.artifact.models/BTCUSDT/model.onnx'] ?? '{}')).not.toHaveProperty('mlflow_path');
    const killed = await client.mirror(trackedRun({ runId: 'job-42-a2', status: 'killed', artifacts: [{ key: 'odd key:=v1', sha256: 'ab', bytes: 1 }] }));
    const killedRun = mlflow.run(killed.mlflowRunId);
    expect(killedRun?.status).toBe('KILLED');
    const artifactTag = Object.keys(killedRun?.tags ?? {}).find((k) => k.startsWith('trainyard.artifact.'));
    expect(artifactTag).toMatch(/^trainyard\.artifact\.odd key__v1-[0-9a-f]{12}$/);
    expect(JSON.parse(killedRun?.tags[artifactTag as string] ?? '{}')).toMatchObject({ key: 'odd key:=v1' });
  });
});
