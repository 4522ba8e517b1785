import LogisticRegression from 'ml-logistic-regression';
import { Matrix } from 'ml-matrix';
import { loadModel, logLoss, predictProba, serializeModel, trainLogistic, type EpochReport, type LabelledRows, type TrainState } from './model';
import { gaussian, mulberry32 } from './random';

/** Two features, the label depends on the first: a problem logistic regression can learn. */
function dataset(n: number, seed: number, flip = false): LabelledRows {
  const normal = gaussian(mulberry32(seed));
  const X = Array.from({ length: n }, (): [number, number] => [normal(), normal()]);
  const y = X.map(([a]) => (a + 0.3 * normal() > 0 !== flip ? 1 : 0));
  return { X, y };
}

const train = dataset(400, 1);
const validation = dataset(100, 2);
const options = { epochs: 10, learningRate: 0.5 };

describe('trainLogistic', () => {
  it('learns the signal', () => {
    const { model } = trainLogistic(train, validation, options);
    const test = dataset(200, 3);
    const p = predictProba(model, test.X);
    const accuracy = p.filter((q, i) => (q > 0.5 ? 1 : 0) === test.y[i]).length / p.length;
    expect(accuracy).toBeGreaterThan(0.85);
    expect(p.every((q) => q > 0 && q < 1)).toBe(true);
  });

  it('ends each epoch where the library trained from zero for as many steps would, bit for bit', () => {
    const X = new Matrix(train.X.map((row) => [...row, 1]));
    for (const epochs of [1, 3, 7]) {
      const library = new LogisticRegression({ numSteps: epochs * 5, learningRate: options.learningRate / train.X.length });
      library.train(X, Matrix.columnVector(train.y));
      const { model } = trainLogistic(train, validation, { ...options, epochs, patience: epochs });
      expect(JSON.stringify(serializeModel(model))).toBe(JSON.stringify(serializeModel(library)));
    }
  });

  it('takes the steps of each epoch once: a run costs steps in proportion to its epochs (finding: 130 s at 20,000 candles, epoch k retrained k epochs from zero)', () => {
    const mmul = jest.spyOn(Matrix.prototype, 'mmul');
    try {
      const { log } = trainLogistic(train, validation, { ...options, epochs: 30, patience: 30 });
      expect(log).toHaveLength(30);
      // Per epoch: 5 steps × 2 products × 2 classifiers (one per label), then one product for each of the two losses.
      expect(mmul).toHaveBeenCalledTimes(30 * (5 * 2 * 2 + 2));
    } finally {
      mmul.mockRestore();
    }
  });

  it('is deterministic', () => {
    const a = trainLogistic(train, validation, options);
    const b = trainLogistic(train, validation, options);
    expect(JSON.stringify(serializeModel(a.model))).toBe(JSON.stringify(serializeModel(b.model)));
    expect(a.log).toEqual(b.log);
  });

  it('reports each epoch, with falling training loss', () => {
    const reports: EpochReport[] = [];
    const { log, bestEpoch } = trainLogistic(train, validation, { ...options, onEpoch: (r) => reports.push(r) });
    expect(reports).toEqual(log);
    expect(reports.map((r) => r.epoch)).toEqual(Array.from({ length: reports.length }, (_, k) => k + 1));
    expect(reports.every((r) => r.epochs === 10)).toBe(true);
    const [firstReport] = reports;
    expect(firstReport).toBeDefined();
    expect(reports.at(-1)?.loss).toBeLessThan(firstReport!.loss);
    expect(log[bestEpoch - 1]?.validationMetric).toBe(Math.min(...log.map((r) => r.validationMetric)));
  });

  it('stops after `patience` epochs without a better validation loss and keeps the best model', () => {
    // Validation labels are the opposite of training ones: every epoch of learning makes it worse.
    const { log, bestEpoch, model } = trainLogistic(train, dataset(100, 2, true), { ...options, epochs: 50, patience: 3 });
    expect(bestEpoch).toBe(1);
    expect(log).toHaveLength(4);
    const first = trainLogistic(train, dataset(100, 2, true), { ...options, epochs: 1 }).model;
    expect(predictProba(model, train.X)).toEqual(predictProba(first, train.X));
  });

  it('continues from a checkpointed state to the same model and log as without a stop', () => {
    const states: TrainState[] = [];
    const whole = trainLogistic(train, validation, { ...options, checkpointEvery: 4, onCheckpoint: (s) => states.push(JSON.parse(JSON.stringify(s))) });
    expect(states.map((s) => s.epoch)).toEqual([4, 8]);
    for (const resume of states) {
      const epochsRun: number[] = [];
      const resumed = trainLogistic(train, validation, { ...options, resume, onEpoch: (r) => epochsRun.push(r.epoch) });
      expect(epochsRun).toEqual(whole.log.slice(resume.epoch).map((r) => r.epoch));
      expect(resumed.log).toEqual(whole.log);
      expect(resumed.bestEpoch).toBe(whole.bestEpoch);
      expect(JSON.stringify(serializeModel(resumed.model))).toBe(JSON.stringify(serializeModel(whole.model)));
    }
  });

  it('refuses a state that does not end at its last logged epoch', () => {
    const states: TrainState[] = [];
    trainLogistic(train, validation, { ...options, checkpointEvery: 4, onCheckpoint: (s) => states.push(s) });
    const [state] = states;
    expect(state).toBeDefined();
    expect(() => trainLogistic(train, validation, { ...options, resume: { ...state!, epoch: 5 } })).toThrow(/last logged epoch/);
  });

  it('rejects empty training data', () => {
    expect(() => trainLogistic({ X: [], y: [] }, validation, options)).toThrow(/rows/);
  });
});

describe('serializeModel / loadModel', () => {
  it('round-trips through JSON text with identical predictions', () => {
    const { model } = trainLogistic(train, validation, options);
    const text = JSON.stringify(serializeModel(model));
    const loaded = loadModel(JSON.parse(text));
    const test = dataset(50, 4);
    expect(predictProba(loaded, test.X)).toEqual(predictProba(model, test.X));
    expect(JSON.stringify(serializeModel(loaded))).toBe(text);
  });
});

describe('logLoss', () => {
  it('is ln 2 for a coin flip and finite for certain mistakes', () => {
    expect(logLoss([0.5, 0.5], [0, 1])).toBeCloseTo(Math.LN2, 12);
    expect(Number.isFinite(logLoss([1, 0], [0, 1]))).toBe(true);
  });
});
