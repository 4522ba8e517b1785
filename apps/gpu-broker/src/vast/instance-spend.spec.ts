import { attributeSpend, instanceSpend, settleCompute, type SpendFields } from './instance-spend';

const t = (s: number) => new Date(Date.UTC(2026, 10, 30) + s * 1000);

describe('what an instance costs, as the bill counts it', () => {
  const row: SpendFields = { createdAt: t(0), destroyedAt: null, pricePerHour: 1.1, storagePerHour: 0.1, computeSpent: 0, runningSince: t(360) };

  it('bills storage from create and compute only from when it runs', () => {
    const at = t(3600);
    const s = instanceSpend(row, at);
    expect(s.storage).toBeCloseTo(0.1, 12);
    expect(s.compute).toBeCloseTo(0.9, 12);
    expect(s.total).toBeCloseTo(1.0, 12);
  });

  it('keeps compute at the old price up to a price change, and stops all billing at the destroy', () => {
    const raised = { ...row, ...settleCompute(row, t(1800), true), pricePerHour: 2.1 };
    expect(raised.computeSpent).toBeCloseTo(0.4, 12);
    const destroyed = { ...raised, ...settleCompute(raised, t(3600), false), destroyedAt: t(3600) };
    expect(instanceSpend(destroyed, t(3600)).compute).toBeCloseTo(0.4 + 1.0, 12);
    expect(instanceSpend(destroyed, t(7200))).toEqual(instanceSpend(destroyed, t(3600)));
  });

  it('bills no compute for an instance that never ran (stuck loading, refused container)', () => {
    const never = { ...row, runningSince: null, destroyedAt: t(600) };
    expect(instanceSpend(never, t(600))).toEqual({ compute: 0, storage: (600 / 3600) * 0.1, total: (600 / 3600) * 0.1 });
  });

  it('splits an instance among the runs that used it by their lease time, and charges one that never worked to the run that rented it', () => {
    expect(
      attributeSpend(
        3,
        new Map([
          ['r1', 100],
          ['r2', 200],
        ]),
        'r1',
      ),
    ).toEqual([
      { runId: 'r1', cost: 1 },
      { runId: 'r2', cost: 2 },
    ]);
    expect(attributeSpend(0.5, new Map(), 'r3')).toEqual([{ runId: 'r3', cost: 0.5 }]);
    expect(attributeSpend(0.5, new Map(), null)).toEqual([]);
  });
});
