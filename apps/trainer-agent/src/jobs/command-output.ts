import { z } from 'zod';
import { MetricKey, Metrics } from '@trainyard/contracts';

/** Lines a command driver prints on stdout, one JSON object each; anything else is plain log. */
export const ProgressLine = z.object({
  type: z.literal('progress'),
  percent: z.number().min(0).max(100),
  epoch: z.number().int().nonnegative().optional(),
  epochs: z.number().int().positive().optional(),
  step: z.number().int().nonnegative().optional(),
  loss: z.number().optional(),
  validationMetric: z.number().optional(),
  etaSeconds: z.number().nonnegative().optional(),
  /** Other metrics at this step, tracked with loss and validationMetric. */
  metrics: z
    .record(MetricKey, z.number().finite())
    .refine((m) => Object.keys(m).length <= 48, 'at most 48 metrics a line')
    .optional(),
});

export const ResultLine = z.object({
  type: z.literal('result'),
  metrics: Metrics,
  /** A specialist's metrics on all data of its test period; `metrics` are its own regime's. */
  allDataMetrics: Metrics.optional(),
  featureset: z.string().min(1).optional(),
  evaluationWindow: z.object({ from: z.string().datetime({ offset: true }), to: z.string().datetime({ offset: true }), candles: z.number().int().positive() }).optional(),
});

export type ParsedLine = { kind: 'progress'; value: z.output<typeof ProgressLine> } | { kind: 'result'; value: z.output<typeof ResultLine> } | { kind: 'log'; text: string };

export function parseOutputLine(line: string): ParsedLine {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return { kind: 'log', text: line };
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    return { kind: 'log', text: line };
  }
  const progress = ProgressLine.safeParse(json);
  if (progress.success) return { kind: 'progress', value: progress.data };
  const result = ResultLine.safeParse(json);
  if (result.success) return { kind: 'result', value: result.data };
  const type = (json as { type?: unknown })?.type;
  if (type === 'progress' || type === 'result') {
    const issues = (type === 'progress' ? progress : result).error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    return { kind: 'log', text: `ignored malformed ${type} line (${issues}): ${trimmed}` };
  }
  return { kind: 'log', text: line };
}

const OOM = /CUDA out of memory|OutOfMemoryError|std::bad_alloc|Cannot allocate memory|MemoryError/i;

/** Out of memory shows in the stderr tail, or as a SIGKILL from the kernel's OOM killer. */
export function looksLikeOom(stderrTail: string, signal: NodeJS.Signals | null): boolean {
  return OOM.test(stderrTail) || signal === 'SIGKILL';
}
