import type { AgentConfig } from '../config/agent.config';
import { TrainerProcess, type TrainerLaunch } from './trainer-process';
import { TrainerWorkers } from './trainer-workers';

/** A worker that answers each job line with a result line, and ends when its stdin closes. */
const echoWorker = (): TrainerLaunch => ({
  program: process.execPath,
  args: ['-e', `require('node:readline').createInterface({ input: process.stdin }).on('line', () => console.log('{"type":"result"}'))`],
  env: { PATH: process.env.PATH ?? '' },
  stdin: true,
});

const answer = (worker: ReturnType<TrainerWorkers['take']>) =>
  new Promise<string>((resolve) => {
    worker.listen({ stdout: resolve, stderr: () => undefined });
    worker.send({ type: 'job', args: [], env: {} });
  });

describe('TrainerWorkers', () => {
  const pools: TrainerWorkers[] = [];
  const pool = (idleSeconds: number) => {
    const p = new TrainerWorkers({ AGENT_TRAINER_WORKER_IDLE_SECONDS: idleSeconds } as AgentConfig);
    pools.push(p);
    return p;
  };
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.onApplicationShutdown()));
  });

  it('hands a worker given back to the next job started for the same trainer, device and code, and no other', async () => {
    const workers = pool(60);
    const first = workers.take('noop\0cpu\0v1', echoWorker);
    expect(await answer(first)).toBe('{"type":"result"}');
    workers.give('noop\0cpu\0v1', first);
    expect(workers.take('noop\0cpu\0v1', echoWorker)).toBe(first);
    workers.give('noop\0cpu\0v1', first);
    const otherCode = workers.take('noop\0cpu\0v2', echoWorker);
    expect(otherCode).not.toBe(first);
    otherCode.stop(1000);
    await otherCode.exited;
  });

  it('closes a worker idle past AGENT_TRAINER_WORKER_IDLE_SECONDS, and starts a new one afterwards', async () => {
    const workers = pool(0.2);
    const worker = workers.take('noop\0cpu\0', echoWorker);
    await answer(worker);
    workers.give('noop\0cpu\0', worker);
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    const next = workers.take('noop\0cpu\0', echoWorker);
    expect(next).not.toBe(worker);
    expect(await answer(next)).toBe('{"type":"result"}');
    workers.give('noop\0cpu\0', next);
  });

  it('never hands out a worker that died while idle', async () => {
    const workers = pool(60);
    const worker = workers.take('noop\0cpu\0', echoWorker);
    await answer(worker);
    workers.give('noop\0cpu\0', worker);
    worker.stop(1000);
    await worker.exited;
    const next = workers.take('noop\0cpu\0', echoWorker);
    expect(next).not.toBe(worker);
    workers.give('noop\0cpu\0', next);
  });

  it('closes its idle workers when the agent stops, and gives no more', async () => {
    const workers = pool(60);
    const worker = workers.take('noop\0cpu\0', echoWorker);
    await answer(worker);
    workers.give('noop\0cpu\0', worker);
    await workers.onApplicationShutdown();
    expect(worker.alive).toBe(false);
    expect(() => workers.take('noop\0cpu\0', echoWorker)).toThrow(expect.objectContaining({ errorType: 'agent_lost', retryable: true, message: 'the agent is stopping' }));
  });
});

describe('TrainerProcess', () => {
  const ended = (p: TrainerProcess) => new Promise((resolve) => p.watchExit(resolve));

  it('tells the watcher of a program that cannot start, and of an exit that came before it watched', async () => {
    const missing = new TrainerProcess({ program: '/nonexistent/trainer', args: [], env: {}, stdin: false });
    expect(await ended(missing)).toEqual({ error: new Error('cannot start /nonexistent/trainer: spawn /nonexistent/trainer ENOENT') });
    expect(missing.alive).toBe(false);
    const quick = new TrainerProcess({ program: process.execPath, args: ['-e', 'process.exit(3)'], env: {}, stdin: false });
    await quick.exited;
    expect(await ended(quick)).toEqual({ exit: { code: 3, signal: null } });
  });

  it('hears only the watcher of the job it runs now', async () => {
    const worker = echoWorker();
    const p = new TrainerProcess(worker);
    const heard: string[] = [];
    p.watchExit(() => heard.push('first job'));
    p.watchExit(undefined);
    p.watchExit(() => heard.push('second job'));
    await p.close(1000);
    expect(heard).toEqual(['second job']);
  });
});
