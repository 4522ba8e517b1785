import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { exportToFileStore, mlflowExperimentId, mlflowRunUuid, pythonFloatRepr } from './mlflow-file-store';
import { artifactTagKey } from './mlflow-tags';
import { yamlScalar } from './mlflow-yaml';
import type { TrackedRun } from './tracked-run';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const run = (overrides: Partial<TrackedRun> = {}): TrackedRun => ({
  runId: 'job-42-a1',
  experimentName: 'trainyard BTCUSDT',
  runName: 'BTCUSDT 2024-06-01 a1',
  status: 'finished',
  startTime: 1717200000000,
  endTime: 1717200600000,
  params: { 'model.lr': '0.001', 'model.layers': '[64,32]', 'data/window': '30' },
  tags: { symbol: 'BTCUSDT', 'trainyard.job_id': 'job-42' },
  metrics: [
    { key: 'loss', value: 1, step: 0, timestamp: 1717200060000 },
    { key: 'loss', value: 0.00001, step: 1, timestamp: 1717200120000 },
    { key: 'loss', value: 0.5, step: 2, timestamp: 1717200180000 },
    { key: 'val/sharpe', value: NaN, step: 0, timestamp: 1717200190000 },
  ],
  artifacts: [{ key: 'models/BTCUSDT/model.onnx', uri: 's3://trainyard/models/BTCUSDT/model.onnx', sha256: sha256('onnx-bytes'), bytes: 10 }],
  ...overrides,
});

/** Every file under dir, relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) {
        const before = out.length;
        await walk(full);
        if (out.length === before) out.push(`${relative(dir, full)}/`);
      } else out.push(relative(dir, full));
    }
  };
  await walk(dir);
  return out.sort();
}

describe('exportToFileStore', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ty-mlruns-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /*
   * What MLflow's FileStore reader (mlflow/store/tracking/file_store.py) needs, checked below:
   * - `_get_experiment`: `<exp>/meta.yaml` read by yaml.safe_load; its experiment_id must equal the folder
   *   name as a *string* (PyYAML reads an unquoted 0 as int and the store only casts legacy ints, then
   *   compares) — so it is written quoted: `experiment_id: '0'`.
   * - `_get_run_info_from_dir`: RunInfo.from_dictionary keeps only RunInfo's properties, so the legacy
   *   keys (tags: [], source_*, entry_point_name) are harmless and kept as `_make_persisted_run_info_dict`
   *   writes them; `status` must be an int RunStatus.to_string knows (FINISHED = 3); user_id and
   *   start_time must not be null (RunInfo raises); run_id must match `_RUN_ID_REGEX`.
   * - `_list_run_infos`: every sub-folder of the experiment except tags/datasets/traces is a run.
   * - `_get_resource_files` walks metrics/, params/, tags/ recursively, so "val/sharpe" as
   *   metrics/val/sharpe is the metric "val/sharpe"; each file name is re-validated as a key.
   * - `_get_metric_from_line`: split(" ") into 3 fields; int(ts), float(value), int(step); "nan" and
   *   "1e-05" are what Python itself writes and reads.
   */
  it("writes MLflow's FileStore layout: meta.yaml files, params, metric lines, tags and artifacts", async () => {
    const result = await exportToFileStore(dir, [{ name: 'trainyard BTCUSDT', runs: [run()] }], {
      readArtifact: async (a) => (a.key === 'models/BTCUSDT/model.onnx' ? Buffer.from('onnx-bytes') : undefined),
      userId: 'trainyard',
      now: () => 1717100000000,
    });
    const expId = mlflowExperimentId('trainyard BTCUSDT');
    const runUuid = mlflowRunUuid('job-42-a1');
    expect(expId).toMatch(/^[1-9]\d{17}$/);
    expect(runUuid).toMatch(/^[0-9a-f]{32}$/);
    expect(result.experiments).toEqual([
      { id: expId, name: 'trainyard BTCUSDT', runs: [{ runId: 'job-42-a1', runUuid, dir: join(dir, 'mlruns', expId, runUuid), artifactsCopied: ['models/BTCUSDT/model.onnx'] }] },
    ]);

    const r = `mlruns/${expId}/${runUuid}`;
    const artifactTag = artifactTagKey('models/BTCUSDT/model.onnx');
    expect(artifactTag).toBe('trainyard.artifact.models/BTCUSDT/model.onnx');
    expect(await tree(dir)).toEqual(
      [
        'mlruns/.trash/',
        'mlruns/0/meta.yaml',
        `mlruns/${expId}/meta.yaml`,
        `${r}/artifacts/models/BTCUSDT/model.onnx`,
        `${r}/meta.yaml`,
        `${r}/metrics/loss`,
        `${r}/metrics/val/sharpe`,
        `${r}/params/data/window`,
        `${r}/params/model.layers`,
        `${r}/params/model.lr`,
        `${r}/tags/mlflow.runName`,
        `${r}/tags/symbol`,
        `${r}/tags/trainyard.artifact.models/BTCUSDT/model.onnx`,
        `${r}/tags/trainyard.job_id`,
        `${r}/tags/trainyard.run_id`,
      ].sort(),
    );

    const root = `file://${join(dir, 'mlruns')}`;
    const read = (p: string) => readFile(join(dir, p), 'utf8');
    expect(await read('mlruns/0/meta.yaml')).toBe(
      `artifact_location: ${root}/0\ncreation_time: 1717100000000\nexperiment_id: '0'\nlast_update_time: 1717100000000\nlifecycle_stage: active\nname: Default\n`,
    );
    expect(await read(`mlruns/${expId}/meta.yaml`)).toBe(
      `artifact_location: ${root}/${expId}\ncreation_time: 1717200000000\nexperiment_id: '${expId}'\nlast_update_time: 1717200600000\nlifecycle_stage: active\nname: trainyard BTCUSDT\n`,
    );
    expect(await read(`${r}/meta.yaml`)).toBe(
      [
        `artifact_uri: ${root}/${expId}/${runUuid}/artifacts`,
        'end_time: 1717200600000',
        "entry_point_name: ''",
        `experiment_id: '${expId}'`,
        'lifecycle_stage: active',
        `run_id: ${runUuid}`,
        'run_name: BTCUSDT 2024-06-01 a1',
        `run_uuid: ${runUuid}`,
        "source_name: ''",
        'source_type: 4',
        "source_version: ''",
        'start_time: 1717200000000',
        'status: 3',
        'tags: []',
        'user_id: trainyard',
        '',
      ].join('\n'),
    );
    expect(await read(`${r}/params/model.lr`)).toBe('0.001');
    expect(await read(`${r}/params/model.layers`)).toBe('[64,32]');
    expect(await read(`${r}/params/data/window`)).toBe('30');
    expect(await read(`${r}/metrics/loss`)).toBe('1717200060000 1.0 0\n1717200120000 1e-05 1\n1717200180000 0.5 2\n');
    expect(await read(`${r}/metrics/val/sharpe`)).toBe('1717200190000 nan 0\n');
    expect(await read(`${r}/tags/mlflow.runName`)).toBe('BTCUSDT 2024-06-01 a1');
    expect(await read(`${r}/tags/trainyard.run_id`)).toBe('job-42-a1');
    expect(JSON.parse(await read(`${r}/tags/${artifactTag}`))).toEqual({
      key: 'models/BTCUSDT/model.onnx',
      uri: 's3://trainyard/models/BTCUSDT/model.onnx',
      sha256: sha256('onnx-bytes'),
      bytes: 10,
      mlflow_path: 'models/BTCUSDT/model.onnx',
    });
    expect(await read(`${r}/artifacts/models/BTCUSDT/model.onnx`)).toBe('onnx-bytes');
  });

  it('writes running, failed and killed runs with their status numbers, and re-exports to the same tree', async () => {
    const runs = [
      run({ runId: 'job-1-a1', status: 'running', endTime: undefined, artifacts: [] }),
      run({ runId: 'job-1-a2', status: 'failed', artifacts: [] }),
      run({ runId: 'job-1-a3', status: 'killed', artifacts: [] }),
    ];
    const options = { artifactRootUri: 's3://mlflow/mlruns', now: () => 1 };
    await exportToFileStore(dir, [{ id: '7', name: 'trainyard BTCUSDT', runs }], options);
    const meta = (runId: string) => readFile(join(dir, 'mlruns', '7', mlflowRunUuid(runId), 'meta.yaml'), 'utf8');
    expect(await meta('job-1-a1')).toMatch(/^end_time: null$/m);
    expect(await meta('job-1-a1')).toMatch(/^status: 1$/m);
    expect(await meta('job-1-a2')).toMatch(/^status: 4$/m);
    expect(await meta('job-1-a3')).toMatch(/^status: 5$/m);
    expect(await meta('job-1-a3')).toContain(`artifact_uri: s3://mlflow/mlruns/7/${mlflowRunUuid('job-1-a3')}/artifacts\n`);

    const snapshot = async () => Promise.all((await tree(dir)).map(async (p) => [p, p.endsWith('/') ? '' : await readFile(join(dir, p), 'utf8')]));
    const first = await snapshot();
    await exportToFileStore(dir, [{ id: '7', name: 'trainyard BTCUSDT', runs }], options);
    expect(await snapshot()).toEqual(first);
  });

  it('refuses, before writing anything, what MLflow would refuse', async () => {
    const bad = run({
      params: { 'lr:max': '1' },
      metrics: [
        { key: 'a', value: 1, step: 0, timestamp: 1 },
        { key: 'a/b', value: 1, step: 0, timestamp: 1 },
      ],
    });
    await expect(exportToFileStore(dir, [{ name: 'trainyard BTCUSDT', runs: [bad] }])).rejects.toThrow(/Invalid parameter name: 'lr:max'.*metrics "a" and "a\/b" would be a file and a folder at once/);
    await expect(exportToFileStore(dir, [{ name: 'trainyard BTCUSDT', runs: [run({ artifacts: [{ key: '../escape', sha256: 'x', bytes: 1 }] })] }])).rejects.toThrow(
      "artifact key '../escape' does not stay inside",
    );
    await expect(stat(join(dir, 'mlruns'))).rejects.toThrow('ENOENT');
  });

  it("writes metric values as Python's repr and strings as PyYAML quotes them", () => {
    const cases: Array<[number, string]> = [
      [1, '1.0'],
      [0, '0.0'],
      [-0, '-0.0'],
      [0.1, '0.1'],
      [0.0001, '0.0001'],
      [0.00001, '1e-05'],
      [1.5e-7, '1.5e-07'],
      [123456789012345680, '1.2345678901234568e+17'],
      [1e16, '1e+16'],
      [9999999999999998, '9999999999999998.0'],
      [-2.5, '-2.5'],
      [Infinity, 'inf'],
      [-Infinity, '-inf'],
      [NaN, 'nan'],
    ];
    for (const [value, repr] of cases) expect([value, pythonFloatRepr(value)]).toEqual([value, repr]);
    expect(['0', '123', '0777', 'true', 'null', '', '1.5', '2024-06-01', 'job-1-a1', 'a: b', "it's", "'quoted", ' pad', 'line\nbreak', 'file:///tmp/x'].map((s) => yamlScalar(s))).toEqual([
      "'0'",
      "'123'",
      "'0777'",
      "'true'",
      "'null'",
      "''",
      "'1.5'",
      "'2024-06-01'",
      'job-1-a1',
      "'a: b'",
      "it's",
      "'''quoted'",
      "' pad'",
      '"line\\x0abreak"',
      'file:///tmp/x',
    ]);
  });

  const hasPython = (module: string) => {
    try {
      execFileSync('python3', ['-c', `import ${module}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };

  (hasPython('yaml') ? it : it.skip)('writes meta.yaml byte for byte as PyYAML and metric values as Python do (when python3 has PyYAML)', async () => {
    const odd = run({ runId: 'job-7-a1', experimentName: "0123: it's #odd — ünïcode", runName: '2024-06-01', artifacts: [] });
    await exportToFileStore(dir, [{ name: odd.experimentName, runs: [odd] }], { userId: 'true', now: () => 5 });
    const metas = (await tree(dir)).filter((p) => p.endsWith('meta.yaml'));
    const texts = await Promise.all(metas.map((p) => readFile(join(dir, p), 'utf8')));
    const values = [1, 0, 0.1, 1e-5, 1.5e-7, 1e16, 123456789012345680, 9999999999999998, -2.5, 2 / 3, 1e300, 5e-324];
    const script = [
      'import json, sys, yaml',
      'data = json.load(sys.stdin)',
      'dumped = [yaml.safe_dump(yaml.safe_load(t), default_flow_style=False, allow_unicode=True, sort_keys=True) for t in data["yaml"]]',
      'print(json.dumps({"yaml": dumped, "floats": [repr(float(v)) for v in data["floats"]]}))',
    ].join('\n');
    const out = JSON.parse(execFileSync('python3', ['-c', script], { input: JSON.stringify({ yaml: texts, floats: values }), encoding: 'utf8' }));
    expect(out.yaml).toEqual(texts);
    expect(out.floats).toEqual(values.map(pythonFloatRepr));
  });

  (hasPython('mlflow') ? it : it.skip)("reads back through MLflow's own FileStore (when python's mlflow is installed)", async () => {
    await exportToFileStore(dir, [{ name: 'trainyard BTCUSDT', runs: [run({ artifacts: [] })] }]);
    const script = [
      'import sys, json',
      'from mlflow.store.tracking.file_store import FileStore',
      's = FileStore(sys.argv[1])',
      'e = s.get_experiment_by_name("trainyard BTCUSDT")',
      'r = s.search_runs([e.experiment_id], "", 1)[0]',
      'print(json.dumps({"status": r.info.status, "params": r.data.params, "loss": [m.value for m in s.get_metric_history(r.info.run_id, "loss")]}))',
    ].join('\n');
    const out = JSON.parse(execFileSync('python3', ['-c', script, join(dir, 'mlruns')], { encoding: 'utf8' }));
    expect(out).toEqual({ status: 'FINISHED', params: { 'model.lr': '0.001', 'model.layers': '[64,32]', 'data/window': '30' }, loss: [1, 0.00001, 0.5] });
  });

  it('writes straight into the folder given as the store root when asked (what mlflow ui --backend-store-uri names)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ty-store-root-'));
    try {
      const result = await exportToFileStore(root, [{ name: 'BTCUSDT/production', runs: [] }], { storeRoot: true, now: () => 1 });
      expect(result.root).toBe(root);
      const id = mlflowExperimentId('BTCUSDT/production');
      expect(await readFile(join(root, id, 'meta.yaml'), 'utf8')).toContain('name: BTCUSDT/production');
      expect(await readFile(join(root, '0', 'meta.yaml'), 'utf8')).toContain('name: Default');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
