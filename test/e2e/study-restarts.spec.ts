import { waitFor } from '@trainyard/testing';
import { SERVICES } from '../../tools/cli/src/local-stack';
import { SystemUnderTest } from './system-under-test';

jest.setTimeout(600_000);

/**
 * A study through all five services (separate processes, real NATS and PostgreSQL, the built-in
 * trainer), each of them killed (SIGKILL) and started again while trials run: the study ends with
 * every trial once, and no finished trial trained again.
 */
describe('a hyperparameter study through every service restarting', () => {
  const sut = new SystemUnderTest();
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${sut.stack.portOf({ name: 'scheduler' })}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${sut.stack.apiToken}` },
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

  beforeAll(() => sut.start({ BROKER_AGENT_SILENCE_SECONDS: '5', SCHEDULER_MAX_RETRIES: '2' }));
  afterAll(() => sut.stop());

  it('finishes a 6-trial study with each service killed and restarted mid-study, repeating no finished trial', async () => {
    const space = { 'model.learningRate': { type: 'float', low: 0.01, high: 1, log: true }, 'model.epochs': { type: 'int', low: 2, high: 4 } };
    const created = await api('/studies', { method: 'POST', body: JSON.stringify({ studyId: 'e2e-study', symbol: 'BTCUSDT', space, trials: 6, parallel: 2, sampler: 'tpe', seed: 5 }) });
    expect(created.status).toBe(201);
    const completeCount = async () => ((await api('/studies/e2e-study')).body.trials as { state: string }[]).filter((t) => t.state === 'complete').length;
    await waitFor(async () => (await completeCount()) >= 1, 'a first trial complete', 240_000, 500);
    for (const { name } of SERVICES) {
      await sut.stack.crash(name);
      await sut.stack.startService(name);
    }
    const done = await waitFor(
      async () => {
        const s = (await api('/studies/e2e-study')).body;
        return s.status === 'completed' ? s : null;
      },
      'the study completed',
      480_000,
      1000,
    );
    expect(done.trials.map((t: { number: number }) => t.number)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(done.trials.every((t: { state: string }) => t.state === 'complete')).toBe(true);
    // One success per trial's job: a trial that had finished before a restart was not trained again.
    const successes = (await sut.events('job.succeeded')).map((e) => e.data).filter((d) => d.runId === 'e2e-study');
    for (const t of done.trials) expect(new Set(successes.filter((s) => s.jobId === t.jobId).map((s) => s.attempt)).size).toBe(1);
    expect(done.best).toMatchObject({ value: expect.any(Number) });
    const completed = await sut.completion('e2e-study', 120_000);
    expect(Object.keys(completed.summary.by_symbol)).toHaveLength(6);
  });
});
