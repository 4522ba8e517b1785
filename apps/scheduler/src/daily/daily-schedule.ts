import { defaultDataDate } from '@trainyard/contracts';

export interface TimeOfDay {
  hour: number;
  minute: number;
}

export function parseTimeOfDay(text: string): TimeOfDay {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (!m) throw new Error(`"${text}" is not a time of day as HH:MM (UTC)`);
  return { hour: Number(m[1]), minute: Number(m[2]) };
}

/**
 * The data date whose daily run is due at `now`: yesterday's, once today's slot has passed. Before
 * the slot nothing is due (yesterday's slot was today's run for the day before, already handled).
 */
export function dueDataDate(now: Date, at: TimeOfDay): string | null {
  const slot = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), at.hour, at.minute);
  return now.getTime() >= slot ? defaultDataDate(now) : null;
}
