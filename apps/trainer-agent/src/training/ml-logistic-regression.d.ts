/** The package ships no typings; this declares the part of its API the trainer uses. */
declare module 'ml-logistic-regression' {
  import type { Matrix } from 'ml-matrix';

  interface TwoClassClassifier {
    weights: Matrix | null;
    /** Sigmoid scores: the probability that a row is NOT this classifier's class (one-vs-rest). */
    testScores(features: Matrix): number[];
  }

  interface LogisticRegressionJson {
    name: 'LogisticRegression';
    numSteps: number;
    learningRate: number;
    numberClasses: number;
    classifiers: Array<{ numSteps: number; learningRate: number; weights: number[][] }>;
  }

  class LogisticRegression {
    constructor(options?: { numSteps?: number; learningRate?: number });
    numberClasses: number;
    classifiers: TwoClassClassifier[];
    train(X: Matrix, Y: Matrix): void;
    predict(X: Matrix): number[];
    toJSON(): object;
    static load(model: LogisticRegressionJson): LogisticRegression;
  }

  namespace LogisticRegression {
    export type Json = LogisticRegressionJson;
  }

  export = LogisticRegression;
}
