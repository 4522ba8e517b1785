import { DEFAULT_VARIANT, modelKey, specialistOf, type Variant } from '@trainyard/contracts';

/**
 * What the registry numbers versions of, and keeps one production version of: a symbol's plain model
 * (variant `default`) or one of its regime specialists. A specialist is only ever compared with its
 * own production, never with the plain model's.
 */
export interface ModelKey {
  symbol: string;
  variant: Variant;
}

export const keyOf = (symbol: string, variant?: Variant | null): ModelKey => ({ symbol, variant: variant ?? DEFAULT_VARIANT });

/** `BTCUSDT` or `BTCUSDT/bull`: in logs, messages to people and production paths. */
export const keyName = (k: ModelKey) => modelKey(k.symbol, k.variant);

/** `BTCUSDT` or `BTCUSDT-bull`: in message ids, where a slash is not wanted. */
export const keyId = (k: ModelKey) => keyName(k).replace('/', '-');

/** The `variant` field of a model event: absent for the plain model, so its events stay as they were. */
export const variantField = (k: ModelKey) => {
  const variant = specialistOf(k.variant);
  return variant ? { variant } : {};
};
