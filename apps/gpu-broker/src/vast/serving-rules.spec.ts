import { servingStep, type ServingInput } from './serving-rules';

const MIN = 60_000;
const base: ServingInput = { status: 'ready', now: 100 * MIN, createdAt: 90 * MIN, lastBusyAt: 99.5 * MIN, leaseEnds: [], maxRuntimeMs: 360 * MIN, idleMs: 2 * MIN };

describe('what an instance that serves does next', () => {
  it('lets a 12-hour job run past VAST_MAX_RUNTIME_MINUTES: the instance drains, takes no new work, and goes when the job ends or overruns', () => {
    const sevenHoursOld = { ...base, createdAt: base.now - 420 * MIN };
    const twelveHourJob = [sevenHoursOld.createdAt + 12 * 60 * MIN];
    expect(servingStep({ ...sevenHoursOld, status: 'busy', leaseEnds: twelveHourJob })).toMatchObject({ kind: 'move', to: 'draining' });
    expect(servingStep({ ...sevenHoursOld, status: 'draining', leaseEnds: twelveHourJob })).toEqual({ kind: 'stay' });
    expect(servingStep({ ...sevenHoursOld, status: 'draining', leaseEnds: [] })).toMatchObject({ kind: 'destroy', reason: 'max_runtime' });
    expect(servingStep({ ...sevenHoursOld, status: 'draining', leaseEnds: [base.now - 1] })).toMatchObject({ kind: 'destroy', reason: 'max_runtime' });
  });

  it('destroys an instance past its runtime at once when it holds nothing', () => {
    expect(servingStep({ ...base, createdAt: base.now - 361 * MIN })).toMatchObject({ kind: 'destroy', reason: 'max_runtime' });
  });

  it('follows leases between ready and busy, and destroys one idle past the limit', () => {
    expect(servingStep({ ...base, leaseEnds: [base.now + MIN] })).toMatchObject({ kind: 'move', to: 'busy' });
    expect(servingStep({ ...base, status: 'busy' })).toMatchObject({ kind: 'move', to: 'ready' });
    expect(servingStep(base)).toEqual({ kind: 'stay' });
    expect(servingStep({ ...base, lastBusyAt: base.now - 3 * MIN })).toMatchObject({ kind: 'destroy', reason: 'idle' });
    // Busy is never idle, however long ago it became so.
    expect(servingStep({ ...base, status: 'busy', lastBusyAt: 0, leaseEnds: [base.now + MIN] })).toEqual({ kind: 'stay' });
  });
});
