import { z } from 'zod';
import { Id, IsoDate, JOB_STATES, Priority, RUN_STATES, RunRequested, SymbolName, Trigger } from '@trainyard/contracts';

/** POST /runs: a run request as other systems publish it (the contract itself), less the envelope and trigger the API fills in. */
export const StartRunBody = RunRequested.omit({ schemaVersion: true, id: true, occurredAt: true, trigger: true }).strict();
export type StartRunBody = z.output<typeof StartRunBody>;

const page = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
};

export const RunStatusFilter = z.enum(RUN_STATES);
export const JobStatusFilter = z.enum(JOB_STATES);

export const ListRunsQuery = z.object({ status: RunStatusFilter.optional(), date: IsoDate.optional(), trigger: Trigger.optional(), ...page }).strict();
export type ListRunsQuery = z.output<typeof ListRunsQuery>;

export const ListJobsQuery = z
  .object({
    status: JobStatusFilter.optional(),
    symbol: SymbolName.optional(),
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
