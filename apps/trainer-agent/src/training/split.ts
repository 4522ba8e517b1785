export interface SplitIndices {
  train: number[];
  validation: number[];
  test: number[];
}

export interface SplitFractions {
  train: number;
  validation: number;
}

/**
 * Walk-forward split: the oldest rows train, the next validate, the newest test, so every
 * evaluation is on data later than anything the model or the early stopping has seen. Labels
 * look one bar ahead only, so adjacent blocks need no embargo gap.
 */
export function walkForwardSplit(rows: number, fractions: SplitFractions = { train: 0.7, validation: 0.15 }): SplitIndices {
  const { train, validation } = fractions;
  if (!(train > 0 && validation > 0 && train + validation < 1)) {
    throw new Error(`split fractions must be positive and leave room for a test set, got ${JSON.stringify(fractions)}`);
  }
  const trainEnd = Math.floor(rows * train);
  const validationEnd = Math.floor(rows * (train + validation));
  if (trainEnd < 1 || validationEnd <= trainEnd || validationEnd >= rows) {
    throw new Error(`${rows} rows are too few for a train/validation/test split`);
  }
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);
  return { train: range(0, trainEnd), validation: range(trainEnd, validationEnd), test: range(validationEnd, rows) };
}
