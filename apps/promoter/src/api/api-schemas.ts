import { z } from 'zod';
import { SymbolName, Variant } from '@trainyard/contracts';

const VersionNumber = z.coerce.number().int().min(1);

export const ListModelsQuery = z
  .object({
    symbol: SymbolName.optional(),
    /** `default` (the plain models), `bull`, `bear` or `sideways`; unset: every variant. */
    variant: Variant.optional(),
    stage: z.enum(['candidate', 'production', 'archived']).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();
export type ListModelsQuery = z.output<typeof ListModelsQuery>;

/** Which of a symbol's registries a route is about: the plain model's (`default`, the default) or a specialist's. */
export const VariantQuery = z.object({ variant: Variant.default('default') }).strict();
export type VariantQuery = z.output<typeof VariantQuery>;

export const CompareQuery = z.object({ a: VersionNumber, b: VersionNumber, variant: Variant.default('default') }).strict();
export type CompareQuery = z.output<typeof CompareQuery>;

const Reason = z.string().min(1).max(500);

export const RollbackBody = z.object({ version: z.number().int().min(1).optional(), reason: Reason.optional() }).strict();
export type RollbackBody = z.output<typeof RollbackBody>;

export const PromoteBody = z.object({ version: z.number().int().min(1), reason: Reason.optional() }).strict();
export type PromoteBody = z.output<typeof PromoteBody>;

export const SymbolParam = SymbolName;
export const VersionParam = VersionNumber;
