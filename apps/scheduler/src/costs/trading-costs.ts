import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { Costs, DEFAULT_COSTS, SymbolName } from '@trainyard/contracts';

/** A costs file: fees and spread in basis points, a default and per-symbol overrides. */
export const CostsFile = z
  .object({
    default: Costs.optional(),
    symbols: z.record(SymbolName, Costs).default({}),
  })
  .strict();

export type CostTable = Record<string, Costs>;

/** Trading costs for each symbol of a run, read fresh for every run so edits apply to the next one. */
export async function loadCosts(symbols: string[], file?: string): Promise<CostTable> {
  let parsed: z.output<typeof CostsFile> = { symbols: {} };
  if (file) {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      throw new Error(`cannot read the costs file ${file}: ${(err as Error).message}`);
    }
    const result = CostsFile.safeParse(raw);
    if (!result.success) throw new Error(`the costs file ${file} is invalid: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    parsed = result.data;
  }
  const fallback = parsed.default ?? DEFAULT_COSTS;
  return Object.fromEntries(symbols.map((s) => [s, parsed.symbols[s] ?? fallback]));
}
