/**
 * An object the trainer wrote for one attempt: `models/<SYMBOL>/<YYYYMMDD_HHMMSSZ>_a<attempt>-<hash>/…`,
 * or `models/<SYMBOL>/<YYYYMMDD_HHMMSSZ>/…` as trainers wrote it before folders were unique per attempt.
 */
export interface AttemptKey {
  key: string;
  /** `models/<SYMBOL>/<stamp>[_<tag>]`, the attempt's artifacts prefix. */
  folder: string;
  startedAt: Date;
  checkpoint: boolean;
}

/** The start stamp, then the attempt's tag (`a<attempt>-<8 hex>`) that keeps attempts of one second apart. */
const STAMP = /^(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})Z(?:_a\d+-[0-9a-f]{8})?$/;

/** The attempt a key belongs to, dated by its folder name; null for production copies and anything else. */
export function parseAttemptKey(key: string): AttemptKey | null {
  const [root, symbol, stamp, ...rest] = key.split('/');
  if (root !== 'models' || symbol === 'production' || rest.length === 0) return null;
  const m = STAMP.exec(stamp ?? '');
  if (!m) return null;
  const n = (group: number) => Number(m[group]);
  const startedAt = new Date(Date.UTC(n(1), n(2) - 1, n(3), n(4), n(5), n(6)));
  if (Number.isNaN(startedAt.getTime())) return null;
  return { key, folder: `models/${symbol}/${stamp}`, startedAt, checkpoint: rest.slice(0, -1).includes('checkpoints') };
}
