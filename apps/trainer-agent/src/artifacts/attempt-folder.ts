import { createHash } from 'node:crypto';

/** `YYYYMMDD_HHMMSSZ` of an attempt's start: the part of its folder name that orders attempts in time. */
export function attemptStamp(at: Date): string {
  const iso = at.toISOString();
  return `${iso.slice(0, 10).replaceAll('-', '')}_${iso.slice(11, 19).replaceAll(':', '')}Z`;
}

/** Who an attempt is: two attempts that start in the same second still get folders of their own. */
export interface AttemptIdentity {
  jobId: string;
  attempt: number;
  leaseId: string;
}

/** `a<attempt>-<8 hex of job and lease>`: unique per (job, attempt, lease), and safe in a key. */
export function attemptTag(who: AttemptIdentity): string {
  const hash = createHash('sha256').update(`${who.jobId}\n${who.attempt}\n${who.leaseId}`).digest('hex').slice(0, 8);
  return `a${who.attempt}-${hash}`;
}

/**
 * `models/<SYMBOL>/<stamp>_<tag>`: the same relative path in the work dir and in the artifact store.
 * The stamp comes first so folder names still sort by start time; the promoter's retention reads it.
 */
export const attemptPrefix = (symbol: string, at: Date, who: AttemptIdentity) => `models/${symbol}/${attemptStamp(at)}_${attemptTag(who)}`;
