import { startMlflowTestServer, type MlflowTestServer, type MlflowTestServerOptions } from './mlflow-test-server';

describe('MLflow tracking test server', () => {
  let mlflow: MlflowTestServer;

  const start = async (options?: MlflowTestServerOptions) => {
    mlflow = await startMlflowTestServer(options);
  };

  afterEach(async () => {
    await mlflow.stop();
  });

  const api = async (method: string, route: string, body?: unknown, headers: Record<string, string> = {}) => {
    const isGet = method === 'GET';
    const query = isGet && body ? `?${new URLSearchParams(body as Record<string, string>)}` : '';
    const res = await fetch(`${mlflow.url}/api/2.0/mlflow/${route}${query}`, {
      method,
      headers: isGet ? headers : { 'content-type': 'application/json', ...headers },
      body: isGet ? undefined : JSON.stringify(body ?? {}),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, body: json, text, headers: res.headers };
  };

  const newRun = async (name = 'exp') => {
    const { body: exp } = await api('POST', 'experiments/create', { name });
    const { body } = await api('POST', 'runs/create', { experiment_id: exp.experiment_id, run_name: 'r', start_time: 1000 });
    return { experimentId: exp.experiment_id as string, runId: body.run.info.run_id as string };
  };

  it("creates and finds experiments and runs with MLflow's shapes and errors", async () => {
    await start();
    expect((await api('GET', 'experiments/get-by-name', { experiment_name: 'Default' })).body.experiment).toMatchObject({
      experiment_id: '0',
      artifact_location: 'mlflow-artifacts:/0',
      lifecycle_stage: 'active',
    });
    const created = await api('POST', 'experiments/create', { name: 'BTCUSDT' });
    expect(created).toMatchObject({ status: 200, body: { experiment_id: '1' } });
    expect(await api('POST', 'experiments/create', { name: 'BTCUSDT' })).toMatchObject({
      status: 400,
      body: { error_code: 'RESOURCE_ALREADY_EXISTS', message: 'Experiment(name=BTCUSDT) already exists.' },
    });
    expect(await api('GET', 'experiments/get-by-name', { experiment_name: 'nope' })).toMatchObject({
      status: 404,
      body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: "Could not find experiment with name 'nope'" },
    });
    expect(await api('POST', 'experiments/create', {})).toMatchObject({
      status: 400,
      body: { error_code: 'INVALID_PARAMETER_VALUE', message: expect.stringContaining("Missing value for required parameter 'name'") },
    });

    const run = await api('POST', 'runs/create', { experiment_id: '1', run_name: 'job-1-a1', start_time: 1700000000000, tags: [{ key: 'symbol', value: 'BTCUSDT' }] });
    expect(run.status).toBe(200);
    const info = run.body.run.info;
    expect(info).toMatchObject({ run_name: 'job-1-a1', experiment_id: '1', status: 'RUNNING', start_time: 1700000000000, lifecycle_stage: 'active' });
    expect(info.run_id).toMatch(/^[0-9a-f]{32}$/);
    expect(info.run_uuid).toBe(info.run_id);
    expect(info.artifact_uri).toBe(`mlflow-artifacts:/1/${info.run_id}/artifacts`);
    expect(run.body.run.data.tags).toEqual(
      expect.arrayContaining([
        { key: 'symbol', value: 'BTCUSDT' },
        { key: 'mlflow.runName', value: 'job-1-a1' },
      ]),
    );

    const updated = await api('POST', 'runs/update', { run_id: info.run_id, status: 'FINISHED', end_time: 1700000005000 });
    expect(updated.body.run_info).toMatchObject({ status: 'FINISHED', end_time: 1700000005000 });
    expect((await api('GET', 'runs/get', { run_id: info.run_id })).body.run.info.status).toBe('FINISHED');
    expect(await api('GET', 'runs/get', { run_id: 'f'.repeat(32) })).toMatchObject({ status: 404, body: { error_code: 'RESOURCE_DOES_NOT_EXIST' } });
    expect(await api('POST', 'runs/create', { experiment_id: '99' })).toMatchObject({ status: 404, body: { error_code: 'RESOURCE_DOES_NOT_EXIST' } });
    expect(await api('POST', 'runs/update', { run_id: info.run_id, status: 'DONE' })).toMatchObject({ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE' } });
  });

  it('enforces the log-batch limits, key rules, immutable params and value lengths', async () => {
    await start();
    const { runId } = await newRun();
    const batch = (b: Record<string, unknown>) => api('POST', 'runs/log-batch', { run_id: runId, ...b });
    const kv = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => ({ key: `${prefix}${i}`, value: String(i) }));
    const points = (n: number) => Array.from({ length: n }, (_, i) => ({ key: 'loss', value: 1 / (i + 1), timestamp: 1000 + i, step: i }));
    const refused = (message: string | RegExp) => ({ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE', message: typeof message === 'string' ? message : expect.stringMatching(message) } });

    expect(await batch({ params: kv(101, 'p') })).toMatchObject(
      refused('A batch logging request can contain at most 100 params. Got 101 params. Please split up params across multiple requests and try again.'),
    );
    expect(await batch({ tags: kv(101, 't') })).toMatchObject(refused(/at most 100 tags/));
    expect(await batch({ metrics: points(1001) })).toMatchObject(refused(/at most 1000 metrics/));
    expect(await batch({ params: kv(100, 'p'), tags: kv(100, 't'), metrics: points(801) })).toMatchObject(refused(/at most 1000 metrics, params, and tags. Got 1001/));
    expect(await batch({ params: [{ key: 'a:b', value: '1' }] })).toMatchObject(refused(/^Invalid parameter name: 'a:b'. Names may only contain/));
    expect(await batch({ metrics: [{ key: 'a//b', value: 1, timestamp: 1 }] })).toMatchObject(refused(/^Invalid metric name: 'a\/\/b'. Names may be treated as files.*resolve to 'a\/b'$/));
    expect(await batch({ tags: [{ key: '../up', value: 'x' }] })).toMatchObject(refused(/^Invalid tag name: '..\/up'/));
    expect(await batch({ params: [{ key: 'k'.repeat(251), value: '1' }] })).toMatchObject(refused(/^Param key 'k+' had length 251, which exceeded length limit of 250$/));
    expect(
      await batch({
        params: [
          { key: 'x', value: '1' },
          { key: 'x', value: '2' },
        ],
      }),
    ).toMatchObject(refused(/^Duplicate parameter keys have been submitted: \['x'\]/));
    expect(await batch({ metrics: [{ key: 'm', value: 'high', timestamp: 1 }] })).toMatchObject(refused(/^Got invalid value high for metric 'm'/));
    expect(await batch({ metrics: [{ key: 'm', value: 1, timestamp: -1 }] })).toMatchObject(refused(/^Got invalid timestamp -1/));
    expect(await batch({ metrics: [{ key: 'm', value: 1 }] })).toMatchObject(refused(/Missing value for required parameter 'metrics\[0\].timestamp'/));
    expect(await batch({ tags: [{ key: 'big', value: 'x'.repeat(999_990) }] })).toMatchObject(refused(/^Batched logging API requests must be at most 1000000 bytes/));
    const noType = await fetch(`${mlflow.url}/api/2.0/mlflow/runs/log-batch`, { method: 'POST', body: '{}' });
    expect(noType.status).toBe(400);
    expect(mlflow.run(runId)).toMatchObject({ params: {}, metrics: {} });

    expect(
      (
        await batch({
          params: [
            { key: 'lr', value: '0.01' },
            { key: 'long', value: 'v'.repeat(6001) },
          ],
          tags: [{ key: 'note', value: 'n'.repeat(8001) }],
        })
      ).status,
    ).toBe(200);
    expect((await batch({ params: [{ key: 'lr', value: '0.01' }] })).status).toBe(200);
    expect(await batch({ params: [{ key: 'lr', value: '0.02' }] })).toMatchObject(
      refused(`Changing param values is not allowed. Param with key='lr' was already logged with value='0.01' for run ID='${runId}'. Attempted logging new value '0.02'.`),
    );
    const stored = mlflow.run(runId);
    expect(stored?.params.lr).toBe('0.01');
    expect(stored?.params.long).toHaveLength(6000);
    expect(stored?.tags.note).toHaveLength(8000);
  });

  it('refuses values over the limits when truncation is off', async () => {
    await start({ truncateLongValues: false });
    const { runId } = await newRun();
    expect(await api('POST', 'runs/log-batch', { run_id: runId, params: [{ key: 'long', value: 'v'.repeat(6001) }] })).toMatchObject({
      status: 400,
      body: { error_code: 'INVALID_PARAMETER_VALUE', message: expect.stringMatching(/^Param value 'v+' had length 6001, which exceeded length limit of 6000$/) },
    });
  });

  it('logs only to runs that exist and are active', async () => {
    await start();
    const { experimentId, runId } = await newRun();
    expect(await api('POST', 'runs/log-batch', { run_id: 'a'.repeat(32), params: [{ key: 'x', value: '1' }] })).toMatchObject({
      status: 404,
      body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Run with id=${'a'.repeat(32)} not found` },
    });
    expect((await api('POST', 'runs/delete', { run_id: runId })).status).toBe(200);
    expect(await api('POST', 'runs/log-batch', { run_id: runId, params: [{ key: 'x', value: '1' }] })).toMatchObject({
      status: 400,
      body: { error_code: 'INVALID_PARAMETER_VALUE', message: `The run ${runId} must be in the 'active' state. Current state is deleted.` },
    });
    expect((await api('POST', 'experiments/delete', { experiment_id: experimentId })).status).toBe(200);
    expect(await api('POST', 'runs/create', { experiment_id: experimentId })).toMatchObject({ status: 500, body: { error_code: 'INVALID_STATE' } });
    expect((await api('GET', 'experiments/get-by-name', { experiment_name: 'exp' })).body.experiment.lifecycle_stage).toBe('deleted');
  });

  it('keeps every metric point, pages the history and reports the latest point per key', async () => {
    await start();
    const { runId } = await newRun();
    const metrics = [
      { key: 'loss', value: 0.9, timestamp: 1000, step: 0 },
      { key: 'loss', value: 0.5, timestamp: 2000, step: 1 },
      { key: 'loss', value: 'NaN', timestamp: 3000, step: 2 },
      { key: 'loss', value: 'Infinity', timestamp: 4000, step: 3 },
      { key: 'acc', value: 0.7, timestamp: 2000 },
    ];
    expect((await api('POST', 'runs/log-batch', { run_id: runId, metrics })).status).toBe(200);
    expect((await api('POST', 'runs/log-batch', { run_id: runId, metrics: metrics.slice(0, 1) })).status).toBe(200);
    expect(mlflow.run(runId)?.metrics.loss?.map((m) => [m.step, m.value])).toEqual([
      [0, 0.9],
      [1, 0.5],
      [2, NaN],
      [3, Infinity],
    ]);
    const first = await api('GET', 'metrics/get-history', { run_id: runId, metric_key: 'loss', max_results: '3' });
    expect(first.body.metrics.map((m: { value: unknown }) => m.value)).toEqual([0.9, 0.5, 'NaN']);
    const rest = await api('GET', 'metrics/get-history', { run_id: runId, metric_key: 'loss', max_results: '3', page_token: first.body.next_page_token });
    expect(rest.body).toEqual({ metrics: [{ key: 'loss', value: 'Infinity', timestamp: 4000, step: 3 }] });
    expect((await api('GET', 'metrics/get-history', { run_id: runId, metric_key: 'none' })).body).toEqual({});
    const data = (await api('GET', 'runs/get', { run_id: runId })).body.run.data;
    expect(data.metrics).toEqual(
      expect.arrayContaining([
        { key: 'loss', value: 'Infinity', timestamp: 4000, step: 3 },
        { key: 'acc', value: 0.7, timestamp: 2000, step: 0 },
      ]),
    );
  });

  it('keeps identical points twice when it stands for a file-store backend', async () => {
    await start({ duplicateMetrics: 'append' });
    const { runId } = await newRun();
    const point = { key: 'loss', value: 0.5, timestamp: 1000, step: 1 };
    await api('POST', 'runs/log-batch', { run_id: runId, metrics: [point] });
    await api('POST', 'runs/log-batch', { run_id: runId, metrics: [point] });
    expect(mlflow.run(runId)?.metrics.loss).toHaveLength(2);
  });

  it('searches runs by tag, param and attribute, with view types, ordering and pages', async () => {
    await start();
    const { body: exp } = await api('POST', 'experiments/create', { name: 'search' });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { body } = await api('POST', 'runs/create', { experiment_id: exp.experiment_id, run_name: `run-${i}`, start_time: 1000 + i, tags: [{ key: 'trainyard.run_id', value: `job-${i}-a1` }] });
      ids.push(body.run.info.run_id);
      await api('POST', 'runs/log-batch', { run_id: body.run.info.run_id, params: [{ key: 'model.lr', value: String(i) }] });
    }
    const search = (b: Record<string, unknown>) => api('POST', 'runs/search', { experiment_ids: [exp.experiment_id], ...b });
    const found = await search({ filter: "tags.`trainyard.run_id` = 'job-1-a1'" });
    expect(found.body.runs.map((r: any) => r.info.run_id)).toEqual([ids[1]]);
    expect(found.body.runs[0].data.params).toEqual([{ key: 'model.lr', value: '1' }]);
    expect((await search({ filter: 'tags.trainyard.run_id = "job-2-a1" and params.model.lr = \'2\'' })).body.runs).toHaveLength(1);
    expect((await search({ filter: "attributes.run_name LIKE 'run-%'", order_by: ['attributes.start_time ASC'] })).body.runs.map((r: any) => r.info.run_name)).toEqual(['run-0', 'run-1', 'run-2']);
    expect((await search({ filter: "tags.`trainyard.run_id` = 'job-9-a1'" })).body).toEqual({});
    const page1 = await search({ max_results: 2 });
    expect(page1.body.runs.map((r: any) => r.info.run_name)).toEqual(['run-2', 'run-1']);
    const page2 = await search({ max_results: 2, page_token: page1.body.next_page_token });
    expect(page2.body).toEqual({ runs: [expect.objectContaining({ info: expect.objectContaining({ run_name: 'run-0' }) })] });
    await api('POST', 'runs/delete', { run_id: ids[0] });
    expect((await search({ filter: "tags.`trainyard.run_id` = 'job-0-a1'" })).body).toEqual({});
    expect((await search({ filter: "tags.`trainyard.run_id` = 'job-0-a1'", run_view_type: 'ALL' })).body.runs).toHaveLength(1);
    expect(await search({ filter: 'tags.x = unquoted' })).toMatchObject({ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE' } });
    expect(await search({ max_results: 50001 })).toMatchObject({ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE' } });
  });

  it('answers 401 without valid credentials and 403 to a read-only token writing', async () => {
    await start({ token: 'secret', readOnlyToken: 'reader' });
    const anonymous = await api('GET', 'experiments/get-by-name', { experiment_name: 'Default' });
    expect(anonymous).toMatchObject({ status: 401, text: expect.stringContaining('You are not authenticated') });
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect((await api('GET', 'experiments/get-by-name', { experiment_name: 'Default' }, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await api('GET', 'experiments/get-by-name', { experiment_name: 'Default' }, { authorization: 'Bearer secret' })).status).toBe(200);
    expect((await api('GET', 'experiments/get-by-name', { experiment_name: 'Default' }, { authorization: 'Bearer reader' })).status).toBe(200);
    expect(await api('POST', 'experiments/create', { name: 'x' }, { authorization: 'Bearer reader' })).toMatchObject({ status: 403, text: 'Permission denied' });
    await mlflow.stop();
    await start({ basicAuth: { username: 'ty', password: 'pw' } });
    const basic = `Basic ${Buffer.from('ty:pw').toString('base64')}`;
    expect((await api('POST', 'experiments/create', { name: 'x' }, { authorization: basic })).status).toBe(200);
    expect((await api('POST', 'experiments/create', { name: 'y' })).headers.get('www-authenticate')).toBe('Basic realm="mlflow"');
  });

  it('injects 5xx, dropped connections and 429 with Retry-After, before or after the request takes effect', async () => {
    await start();
    mlflow.failNext(1, 503, 'experiments/create');
    expect(await api('GET', 'experiments/get-by-name', { experiment_name: 'Default' })).toMatchObject({ status: 200 });
    expect(await api('POST', 'experiments/create', { name: 'a' })).toMatchObject({ status: 503, body: { error_code: 'TEMPORARILY_UNAVAILABLE' } });
    expect(mlflow.experiments().map((e) => e.name)).toEqual(['Default']);

    mlflow.failNext(1, 500, 'experiments/create', { applied: true });
    expect(await api('POST', 'experiments/create', { name: 'a' })).toMatchObject({ status: 500, body: { error_code: 'INTERNAL_ERROR' } });
    expect(mlflow.experiments().map((e) => e.name)).toEqual(['Default', 'a']);

    mlflow.failNext(1, 'reset');
    await expect(api('POST', 'experiments/create', { name: 'b' })).rejects.toThrow('fetch failed');
    mlflow.failNext(1, 502);
    expect(await api('POST', 'experiments/create', { name: 'b' })).toMatchObject({ status: 502, text: expect.stringContaining('Bad Gateway') });

    mlflow.rateLimitNext(1, 7);
    const limited = await api('POST', 'experiments/create', { name: 'b' });
    expect(limited).toMatchObject({ status: 429, body: { error_code: 'REQUEST_LIMIT_EXCEEDED' } });
    expect(limited.headers.get('retry-after')).toBe('7');
    expect((await api('POST', 'experiments/create', { name: 'b' })).status).toBe(200);
    expect(mlflow.requests.filter((r) => r.path.endsWith('experiments/create')).map((r) => r.status)).toEqual([503, 500, 0, 502, 429, 200]);
  });

  it('stores and serves artifact bytes through the proxy, and refuses paths that escape', async () => {
    await start();
    const { experimentId, runId } = await newRun();
    const path = `${experimentId}/${runId}/artifacts/models/model.onnx`;
    const put = await fetch(`${mlflow.url}/api/2.0/mlflow-artifacts/artifacts/${path}`, { method: 'PUT', body: Buffer.from('weights') });
    expect(put.status).toBe(200);
    expect(mlflow.artifact(path)?.toString()).toBe('weights');
    const got = await fetch(`${mlflow.url}/api/2.0/mlflow-artifacts/artifacts/${path}`);
    expect(Buffer.from(await got.arrayBuffer()).toString()).toBe('weights');
    const escape = await fetch(`${mlflow.url}/api/2.0/mlflow-artifacts/artifacts/1/..%2F..%2Fetc/passwd`, { method: 'PUT', body: 'x' });
    expect(escape.status).toBe(400);
    await mlflow.stop();
    await start({ defaultArtifactRoot: 's3://bucket/mlflow' });
    const run = await newRun();
    expect(mlflow.run(run.runId)?.artifactUri).toBe(`s3://bucket/mlflow/${run.experimentId}/${run.runId}/artifacts`);
    expect((await fetch(`${mlflow.url}/api/2.0/mlflow-artifacts/artifacts/x`, { method: 'PUT', body: 'x' })).status).toBe(503);
  });

  it("answers unknown routes and methods as MLflow's Flask app does", async () => {
    await start();
    const unknown = await api('POST', 'runs/teleport', {});
    expect(unknown).toMatchObject({ status: 404, text: expect.stringContaining('<title>404 Not Found</title>') });
    expect((await api('GET', 'runs/log-batch', {})).status).toBe(405);
  });
});
