/** `YYYYMMDD_HHMMSSZ` of an attempt's start, the folder name that keeps attempts apart. */
export function attemptStamp(at: Date): string {
  const iso = at.toISOString();
  return `${iso.slice(0, 10).replaceAll('-', '')}_${iso.slice(11, 19).replaceAll(':', '')}Z`;
}

/** `models/<SYMBOL>/<stamp>`: the same relative path in the work dir and in the artifact store. */
export const attemptPrefix = (symbol: string, at: Date) => `models/${symbol}/${attemptStamp(at)}`;
