import { z } from 'zod';

/**
 * What the broker can offer right now, kept in a KV bucket by the broker and read by the scheduler
 * for default concurrency and cost forecasts.
 */
export const CapacitySummary = z.object({
  agents: z.number().int().nonnegative(),
  gpus: z.number().int().nonnegative(),
  cpuSlots: z.number().int().nonnegative(),
  /** Price of one slot-hour on the capacity the broker would lease now. */
  pricePerHour: z.number().nonnegative(),
  /**
   * Present when work would go to rented instances (renting on, no local agent): each new instance
   * bills for its boot and bootstrap (`provisionSeconds`, learned from past instances) before it
   * works, and at most `maxInstances` run at once.
   */
  rental: z.object({ provisionSeconds: z.number().nonnegative(), maxInstances: z.number().int().nonnegative(), pricePerHour: z.number().nonnegative() }).optional(),
  updatedAt: z.string().datetime({ offset: true }),
});
export type CapacitySummary = z.infer<typeof CapacitySummary>;

export const capacityBucket = (prefix: string) => `${prefix}-capacity`;
export const CAPACITY_KEY = 'summary';
