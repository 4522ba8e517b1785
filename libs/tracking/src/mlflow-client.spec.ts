import { startMlflowTestServer, type MlflowTestServer, type MlflowTestServerOptions } from '@trainyard/testing';
import { MlflowClient, type MlflowClientOptions } from './mlflow-client';
import { MlflowRejected, MlflowUnavailable } from './mlflow-errors';

describe('MlflowClient against the MLflow stand-in', () => {
  let mlflow: MlflowTestServer;
  let sleeps: number[];

  const start = async (options?: MlflowTestServerOptions) => {
    mlflow = await startMlflowTestServer(options);
  };
  const client = (options: Partial<MlflowClientOptions> = {}) =>
    new MlflowClient({
      trackingUri: mlflow.url,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
      ...options,
    });

  beforeEach(() => {
    sleeps = [];
  });

  afterEach(async () => {
    await mlflow.stop();
  });

  it('retries 429 after its Retry-After and 5xx with jittered exponential backoff', async () => {
    await start();
    mlflow.rateLimitNext(1, 2);
    mlflow.failNext(1, 503);
    mlflow.failNext(1, 502);
    expect(await client().getExperimentByName('Default')).toMatchObject({ experiment_id: '0', name: 'Default' });
    expect(sleeps).toEqual([2000, 500, 1000]);
    expect(mlflow.requests.map((r) => r.status)).toEqual([429, 503, 502, 200]);
  });

  it('gives up with MlflowUnavailable after its attempts, for 5xx, dropped connections and long Retry-After', async () => {
    await start();
    const c = client({ retry: { attempts: 3 } });
    mlflow.failNext(3, 503);
    const unavailable = await c.getExperimentByName('Default').catch((e: unknown) => e);
    expect(unavailable).toBeInstanceOf(MlflowUnavailable);
    expect(unavailable).toMatchObject({ attempts: 3, status: 503, errorCode: 'TEMPORARILY_UNAVAILABLE', route: 'mlflow/experiments/get-by-name' });

    mlflow.failNext(3, 'reset');
    const dropped = await c.getExperimentByName('Default').catch((e: unknown) => e);
    expect(dropped).toBeInstanceOf(MlflowUnavailable);
    expect(dropped).toMatchObject({ attempts: 3, status: undefined });

    mlflow.rateLimitNext(1, 600);
    const tooLong = await client({ retry: { maxRetryAfterMs: 60_000 } })
      .getExperimentByName('Default')
      .catch((e: unknown) => e);
    expect(tooLong).toMatchObject({ name: 'MlflowUnavailable', attempts: 1, status: 429, retryAfterMs: 600_000 });
    expect(await c.getExperimentByName('Default')).not.toBeNull();
  });

  it("turns 4xx answers into MlflowRejected with MLflow's error code, without retrying", async () => {
    await start();
    const c = client();
    const exp = await c.ensureExperiment('BTCUSDT');
    const run = await c.createRun({ experimentId: exp.experiment_id, runName: 'r', startTime: 1 });
    await c.logBatch(run.info.run_id, { params: [{ key: 'lr', value: '0.1' }] });
    const before = mlflow.requests.length;
    const conflict = await c.logBatch(run.info.run_id, { params: [{ key: 'lr', value: '0.2' }] }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(MlflowRejected);
    expect(conflict).toMatchObject({ errorCode: 'INVALID_PARAMETER_VALUE', status: 400, route: 'mlflow/runs/log-batch' });
    expect((conflict as Error).message).toContain("Changing param values is not allowed. Param with key='lr'");
    expect(mlflow.requests.length).toBe(before + 1);
    await expect(c.getRun('0'.repeat(32))).rejects.toMatchObject({ errorCode: 'RESOURCE_DOES_NOT_EXIST', status: 404 });
    await expect(client({ trackingUri: `${mlflow.url}/wrong-prefix` }).getExperimentByName('Default')).rejects.toMatchObject({ errorCode: 'ENDPOINT_NOT_FOUND', status: 404 });
    expect(sleeps).toEqual([]);
  });

  it("authenticates with a bearer token or basic auth, as MLflow's environment variables set them", async () => {
    await start({ token: 'tok', readOnlyToken: 'reader' });
    const fromEnv = MlflowClient.optionsFromEnv({ MLFLOW_TRACKING_URI: mlflow.url, MLFLOW_TRACKING_TOKEN: 'tok' });
    expect(await client(fromEnv).ensureExperiment('authed')).toMatchObject({ name: 'authed' });
    await expect(client().getExperimentByName('authed')).rejects.toMatchObject({ name: 'MlflowRejected', errorCode: 'UNAUTHENTICATED', status: 401 });
    await expect(client({ token: 'reader' }).createExperiment('nope')).rejects.toMatchObject({ errorCode: 'PERMISSION_DENIED', status: 403 });
    await mlflow.stop();
    await start({ basicAuth: { username: 'ty', password: 'pw' } });
    const basic = MlflowClient.optionsFromEnv({ MLFLOW_TRACKING_URI: mlflow.url, MLFLOW_TRACKING_USERNAME: 'ty', MLFLOW_TRACKING_PASSWORD: 'pw' });
    expect(await client(basic).ensureExperiment('basic')).toMatchObject({ name: 'basic' });
  });

  it("splits a large log-batch into requests within MLflow's count and size limits", async () => {
    await start();
    const c = client();
    const exp = await c.ensureExperiment('big');
    const run = await c.createRun({ experimentId: exp.experiment_id, runName: 'r', startTime: 1 });
    const params = Array.from({ length: 250 }, (_, i) => ({ key: `p${i}`, value: String(i) }));
    const tags = Array.from({ length: 150 }, (_, i) => ({ key: `t${i}`, value: 'x'.repeat(7900) }));
    const metrics = Array.from({ length: 2500 }, (_, i) => ({ key: `m${i % 3}`, value: i, step: i, timestamp: 1000 + i }));
    await c.logBatch(run.info.run_id, { params, tags, metrics });
    const stored = mlflow.run(run.info.run_id);
    expect(Object.keys(stored?.params ?? {})).toHaveLength(250);
    expect(Object.keys(stored?.tags ?? {}).filter((k) => k.startsWith('t'))).toHaveLength(150);
    expect(Object.values(stored?.metrics ?? {}).flat()).toHaveLength(2500);
    const batches = mlflow.requests.filter((r) => r.path.endsWith('runs/log-batch'));
    expect(batches.every((r) => r.status === 200)).toBe(true);
    expect(batches.length).toBeGreaterThanOrEqual(6);
  });

  it('ends a create race or a retried create whose answer was lost in the existing experiment', async () => {
    await start();
    mlflow.failNext(1, 503, 'experiments/create', { applied: true });
    const exp = await client().ensureExperiment('raced');
    expect(exp).toMatchObject({ name: 'raced', lifecycle_stage: 'active' });
    expect(mlflow.experiments().filter((e) => e.name === 'raced')).toHaveLength(1);
    expect(mlflow.requests.filter((r) => r.path.endsWith('experiments/create')).map((r) => [r.status, r.errorCode])).toEqual([
      [503, 'TEMPORARILY_UNAVAILABLE'],
      [400, 'RESOURCE_ALREADY_EXISTS'],
    ]);
  });
});
