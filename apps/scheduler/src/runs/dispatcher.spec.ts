import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { testJobDefinition } from '@trainyard/testing';
import type { JobEntity } from '../repositories/job.entity';
import type { JobRepository } from '../repositories/job.repository';
import { DispatcherService } from './dispatcher.service';

/** claimReleasable held open until the spec answers it, so passes can be watched overlapping. */
class HeldClaims {
  readonly claims: { runId: string; answer: (jobs: JobEntity[]) => void; fail: (err: Error) => void }[] = [];

  claimReleasable(runId: string): Promise<{ jobs: JobEntity[]; traceContext: null }> {
    return new Promise((resolve, reject) => this.claims.push({ runId, answer: (jobs) => resolve({ jobs, traceContext: null }), fail: reject }));
  }
}

const job = (runId: string, symbol: string) =>
  ({ id: `${runId}-${symbol}`, runId, symbol, attempt: 1, definition: testJobDefinition({ runId, symbol }), checkpoint: null, earlierCheckpoints: null }) as unknown as JobEntity;

/** Lets every callback already due run (a settled claim's pass finishing, the next one starting). */
const settle = () => new Promise((r) => setImmediate(r));

describe('DispatcherService release passes', () => {
  let held: HeldClaims;
  let published: string[];
  let dispatcher: DispatcherService;

  beforeEach(() => {
    held = new HeldClaims();
    published = [];
    const bus = { publish: async (_subject: string, data: { spec: { jobId: string } }) => void published.push(data.spec.jobId) } as unknown as NatsBus;
    dispatcher = new DispatcherService(held as unknown as JobRepository, bus, new Clock());
  });

  it('serves every call made during a pass with one pass after it, which releases for all of them', async () => {
    const first = dispatcher.release('r');
    // Begun once this turn of the event loop is over, so the job ends read together share it.
    expect(held.claims).toHaveLength(0);
    await settle();
    expect(held.claims).toHaveLength(1);
    const during = [1, 2, 3, 4, 5].map(() => dispatcher.release('r'));
    expect(held.claims).toHaveLength(1);
    held.claims[0]!.answer([job('r', 'AAAUSDT')]);
    await expect(first).resolves.toBe(1);
    await settle();
    // Started only after the first pass ended, so it sees every change made before the calls.
    expect(held.claims).toHaveLength(2);
    held.claims[1]!.answer([job('r', 'BBBUSDT'), job('r', 'CCCUSDT')]);
    await expect(Promise.all(during)).resolves.toEqual([2, 2, 2, 2, 2]);
    await settle();
    expect(held.claims).toHaveLength(2);
    expect(published).toEqual(['r-AAAUSDT', 'r-BBBUSDT', 'r-CCCUSDT']);
    // Idle again: the next call starts a pass of its own once the turn is over.
    const later = dispatcher.release('r');
    await settle();
    expect(held.claims).toHaveLength(3);
    held.claims[2]!.answer([]);
    await expect(later).resolves.toBe(0);
  });

  it('runs the following pass after one that failed, and gives the failure to its own callers only', async () => {
    const first = dispatcher.release('r');
    await settle();
    const second = dispatcher.release('r');
    held.claims[0]!.fail(new Error('connection terminated'));
    await expect(first).rejects.toThrow('connection terminated');
    await settle();
    expect(held.claims).toHaveLength(2);
    held.claims[1]!.answer([job('r', 'AAAUSDT')]);
    await expect(second).resolves.toBe(1);
  });

  it('keeps the passes of different runs apart', async () => {
    const a = dispatcher.release('a');
    const b = dispatcher.release('b');
    await settle();
    expect(held.claims.map((c) => c.runId)).toEqual(['a', 'b']);
    held.claims[1]!.answer([job('b', 'BBBUSDT')]);
    held.claims[0]!.answer([]);
    await expect(Promise.all([a, b])).resolves.toEqual([0, 1]);
  });
});
