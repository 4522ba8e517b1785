import { z } from 'zod';
import { Driver, Id, IsoDate, Priority, PromoteMode, Purpose, RunMode, SymbolSelection, Trigger } from '@trainyard/contracts';

/** POST /runs: a run request as other systems publish it, less the envelope the API fills in. */
export const StartRunBody = z
  .object({
    runId: Id.optional(),
    date: IsoDate.optional(),
    symbols: SymbolSelection,
    mode: RunMode.optional(),
    maxConcurrent: z.number().int().min(1).max(10_000).optional(),
    priority: Priority.optional(),
    purpose: Purpose.optional(),
    promote: PromoteMode.optional(),
    canary: z.boolean().optional(),
    force: z.boolean().optional(),
    dryRun: z.boolean().optional(),
    featureset: z.string().min(1).optional(),
    ensureFeatures: z.boolean().optional(),
    driver: Driver.optional(),
    gpuMemoryGb: z.number().nonnegative().max(1024).optional(),
    timeoutMinutes: z.number().positive().max(7 * 24 * 60).optional(),
    requestedBy: z.string().max(200).optional(),
  })
  .strict();
export type StartRunBody = z.output<typeof StartRunBody>;

const page = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
};

export const RunStatusFilter = z.enum(['planned', 'running', 'succeeded', 'failed', 'partial', 'cancelled']);
export const JobStatusFilter = z.enum(['pending', 'released', 'leased', 'running', 'retry_wait', 'succeeded', 'failed', 'cancelled', 'skipped']);

export const ListRunsQuery = z.object({ status: RunStatusFilter.optional(), date: IsoDate.optional(), trigger: Trigger.optional(), ...page }).strict();
export type ListRunsQuery = z.output<typeof ListRunsQuery>;

export const ListJobsQuery = z
  .object({
    status: JobStatusFilter.optional(),
    symbol: z.string().regex(/^[A-Z0-9]{2,30}$/, 'a symbol is 2-30 upper-case letters or digits').optional(),
    date: IsoDate.optional(),
    priority: Priority.optional(),
    trigger: Trigger.optional(),
    runId: Id.optional(),
    ...page,
  })
  .strict();
export type ListJobsQuery = z.output<typeof ListJobsQuery>;

export const CancelBody = z.object({ reason: z.string().min(1).max(500).default('cancelled by an operator') }).strict();

export const StatsQuery = z.object({ days: z.coerce.number().int().min(1).max(365).default(14) }).strict();
