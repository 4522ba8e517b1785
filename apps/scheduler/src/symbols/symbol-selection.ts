import { SymbolName } from '@trainyard/contracts';

export interface ResolvedSymbols {
  symbols: string[];
  /** Entries refused, each with why; they are never used in a path or a subject. */
  refused: { symbol: string; reason: string }[];
}

/** Normalises entries to upper case and refuses, with the reason, what is not a symbol or repeats. */
export function checkSymbols(raw: string[]): ResolvedSymbols {
  const symbols: string[] = [];
  const refused: ResolvedSymbols['refused'] = [];
  const seen = new Set<string>();
  for (const entry of raw) {
    const candidate = entry.trim().toUpperCase();
    const parsed = SymbolName.safeParse(candidate);
    if (!parsed.success) refused.push({ symbol: entry, reason: parsed.error.issues[0]?.message ?? parsed.error.message });
    else if (seen.has(candidate)) refused.push({ symbol: entry, reason: 'listed twice' });
    else {
      seen.add(candidate);
      symbols.push(candidate);
    }
  }
  return { symbols, refused };
}
