export {
  CategoricalParam,
  FloatParam,
  IntParam,
  MAX_CHOICES,
  MAX_GRID_SIZE,
  MAX_PARAMS,
  PARAM_NAME,
  ParamSpec,
  SearchSpace,
  SearchSpaceError,
  contains,
  describeIssues,
  gridOf,
  gridSize,
  parseSpace,
  type ParamValue,
  type Params,
} from './space';
export { Direction, TrialRecord, TrialState, type Intermediate } from './trial';
export { Rng, deriveSeed, rngFor, sampleRandom } from './random';
export { suggestGrid } from './grid';
export { TpeOptions, suggestTpe, type TpeInput } from './tpe';
export { PrunerConfig, hyperbandBracket, hyperbandBrackets, type PruneDecision, type PruneSubject } from './pruners';
export { fanova, type ImportanceOptions } from './importance';
export { StudyConfig, best, importance, nextTrialNumber, shouldPrune, suggest } from './study';
