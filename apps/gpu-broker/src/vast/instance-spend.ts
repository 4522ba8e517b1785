/** The part of an instance's row that says what it has cost. */
export interface SpendFields {
  createdAt: Date;
  destroyedAt: Date | null;
  pricePerHour: number;
  storagePerHour: number;
  computeSpent: number;
  runningSince: Date | null;
}

const HOUR_MS = 3_600_000;

/**
 * What the account has paid for an instance up to `at`, as Vast bills it (VAST.md 1.9): storage per
 * second from create until destroyed, compute per second only while running, each at the price then
 * in force. Counted from the create call, so it errs a little high, never low.
 */
export function instanceSpend(row: SpendFields, at: Date): { compute: number; storage: number; total: number } {
  const end = Math.min(at.getTime(), (row.destroyedAt ?? at).getTime());
  const storage = (Math.max(0, end - row.createdAt.getTime()) / HOUR_MS) * row.storagePerHour;
  const running = row.runningSince ? (Math.max(0, end - row.runningSince.getTime()) / HOUR_MS) * computePerHour(row) : 0;
  const compute = row.computeSpent + running;
  return { compute, storage, total: compute + storage };
}

export const computePerHour = (row: Pick<SpendFields, 'pricePerHour' | 'storagePerHour'>) => Math.max(0, row.pricePerHour - row.storagePerHour);

/** The fields that close the running interval at `at`: compute so far is settled, and billing stops (or restarts at a new price). */
export function settleCompute(row: SpendFields, at: Date, stillRunning: boolean): Pick<SpendFields, 'computeSpent' | 'runningSince'> {
  const running = row.runningSince ? (Math.max(0, at.getTime() - row.runningSince.getTime()) / HOUR_MS) * computePerHour(row) : 0;
  return { computeSpent: row.computeSpent + running, runningSince: stillRunning ? at : null };
}

/**
 * Splits an instance's spend among runs: each run's leases' share of the busy time, and what no
 * lease used (boot, bootstrap, idle tail) in the same proportions; an instance that never held a
 * lease is charged whole to the run that made the broker rent it.
 */
export function attributeSpend(total: number, leaseSecondsByRun: Map<string, number>, rentedFor: string | null): Array<{ runId: string; cost: number }> {
  const busy = [...leaseSecondsByRun.values()].reduce((a, b) => a + b, 0);
  if (busy <= 0) return rentedFor ? [{ runId: rentedFor, cost: total }] : [];
  return [...leaseSecondsByRun.entries()].map(([runId, seconds]) => ({ runId, cost: (total * seconds) / busy }));
}
