import { z } from 'zod';
import { Id, MetricKey, Purpose, SymbolName } from '@trainyard/contracts';

export const TrackedRunId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}-a\d{1,6}$/, 'a tracked run id is <jobId>-a<attempt>');

export const ListTrackedRunsQuery = z
  .object({
    symbol: SymbolName.optional(),
    purpose: Purpose.optional(),
    status: z.enum(['running', 'finished', 'failed', 'killed']).optional(),
    runId: Id.optional(),
    studyId: Id.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();
export type ListTrackedRunsQuery = z.output<typeof ListTrackedRunsQuery>;

export const CompareQuery = z
  .object({
    runs: z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      )
      .pipe(
        z
          .array(TrackedRunId)
          .min(2, 'name at least two runs')
          .max(10, 'at most ten runs')
          .refine((ids) => new Set(ids).size === ids.length, 'a run is named twice'),
      ),
    metric: MetricKey.default('loss'),
  })
  .strict();
export type CompareQuery = z.output<typeof CompareQuery>;
