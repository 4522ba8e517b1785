/**
 * Every command's help, apart from the commands: `trainyard <command> --help` and `trainyard help`
 * print it without loading what the commands need (contracts, NATS, Nest).
 */

/** `trainyard run`. */
export const RUN_FLAGS_HELP = `trainyard run [--symbols <list|topN|file.csv>] [flags]

  --symbols BTCUSDT,ETHUSDT   a comma-separated list, topN (e.g. top10), or a CSV file with a symbol column;
                              left out: the scheduler's daily set (SCHEDULER_DAILY_SYMBOLS)
  --mode hybrid               concurrency: sequential | parallel | hybrid (default hybrid)
  --max-concurrent N          jobs at once in hybrid or parallel mode
  --date YYYY-MM-DD           data date (default: yesterday, UTC)
  --promote off               promotion policy: off | dry | auto (default off)
  --canary                    a canary run: auto promotion is downgraded to dry
  --live                      the opposite of --canary (the default): auto promotion is applied
  --priority normal           urgent | high | normal | low
  --purpose production        production | search (search trials go after production retraining)
  --timeout-minutes N         per-job timeout (default 45)
  --dry-run                   plan only: jobs, order and forecast; nothing is launched
  --force                     train again what already succeeded
  --ensure-features           store the features each job computes in the feature store when none are there
  --featureset NAME           the features to train on (default fs1)
  --lookback-candles N        candles of history each job trains on (default: the scheduler's SCHEDULER_LOOKBACK_CANDLES)
  --timeframe 1h              1m | 5m | 15m | 1h | 4h | 1d (default: the scheduler's SCHEDULER_TIMEFRAME)
  --variants default,bull     what to train per symbol: default (the plain model), bull, bear, sideways (regime
                              specialists, each registered and promoted as SYMBOL/variant); only what is listed
                              trains, so --variants bull,bear trains no plain model (default: the plain model only)
  --driver builtin            builtin | command (default builtin)
  --trainer NAME              with --driver command: a trainer the agents allow (AGENT_TRAINERS), e.g. pytorch
  --trainer-arg ARG           an argument for the trainer (repeatable), e.g. --trainer-arg=--epochs=20
  --gpu-memory-gb N           GPU memory each job needs
  --run-id ID                 choose the run id (default: a new one)
  --wait-minutes N            give up following after N minutes (default 720)
  --promotion-wait-seconds N  with --promote dry|auto: wait this long after the run for the promoter's decisions (default 60)
  --help                      this text
  --json                      print the final run record as JSON on stdout
  --up                        start the local stack for this run and stop it afterwards`;

/** `trainyard logs`. */
export const LOGS_HELP = `trainyard logs <RUN_ID> [--symbol S] [--follow] [--dir DIR | --stdin]
  a run's log lines from every service, oldest first, then each attempt's attempt.log (the trainer's
  own output, saved by the agent when the attempt ends), from the scheduler's API at SCHEDULER_URL.
  --symbol S   only that symbol's jobs
  --follow     keep printing new lines and attempt logs until the run completes
  --dir DIR    the services' JSON log files (default: DATA_DIR/logs, where "trainyard up" writes them)
  --stdin      read the services' lines from standard input instead, e.g.
               docker compose logs --no-log-prefix | trainyard logs <RUN_ID> --stdin`;

/** `trainyard models`. */
export const MODELS_HELP = `trainyard models list [--symbol S] [--variant default|bull|bear|sideways] [--stage candidate|production|archived]
trainyard models show <KEY> <VERSION>
trainyard models promote <KEY> <VERSION> [--reason TEXT]
trainyard models rollback <KEY> [VERSION] [--reason TEXT]     (default: the previous production version)
  KEY is a symbol (its plain model, BTCUSDT) or a symbol and a regime specialist (BTCUSDT/bull):
  each has its own versions, production and rollback
  against the promoter's API at PROMOTER_URL (default http://127.0.0.1:3004); prints its answer as JSON`;

/** `trainyard experiments`. */
export const EXPERIMENTS_HELP = `trainyard experiments list [--symbol S] [--purpose production|search] [--status running|finished|failed|killed] [--run RUN_ID]
trainyard experiments show <RUN>                                   a tracked run (RUN is <jobId>-a<attempt>)
trainyard experiments compare <RUN> <RUN>… [--metric loss] [--png FILE]   params that differ, final metrics, a metric over steps (2-10 runs)
trainyard experiments export <RUN>… --mlflow DIR                   into MLflow's file store at DIR (DIR/<experiment>/<run>/…), for "mlflow ui --backend-store-uri DIR"
  against the scheduler's API at SCHEDULER_URL (default http://127.0.0.1:3001); prints its answer as JSON`;

/** `trainyard search`. */
export const SEARCH_HELP = `trainyard search <SYMBOL> --space space.json --trials N [--parallel 2] [--sampler tpe|random|grid] [--pruner none|median|successive-halving|hyperband]
                 [--max-resource N (hyperband)] [--objective sharpe|directionalHitRate|totalReturn|r2|maxDrawdown|mae|rmse|mape] [--direction maximize|minimize]
                 [--prune-metric validationMetric] [--seed S] [--study-id ID] [--featureset NAME] [--trainer NAME]
                                                   a study: trials are low-priority search jobs on the shared fleet
trainyard search list                              studies, newest first
trainyard search show <STUDY> [--history-png FILE] [--importance-png FILE]   trials, best params and value, history, importance
trainyard search promote-best <STUDY> [--dry]      train the best trial's params as a production run the promoter judges
  against the scheduler's API at SCHEDULER_URL (default http://127.0.0.1:3001); prints its answer as JSON`;

/** `trainyard nats-config`. */
export const NATS_CONFIG_HELP = `trainyard nats-config --out DIR [--prefix trainyard] [--host 0.0.0.0] [--port 4222] [--store /var/lib/nats]

  Writes DIR/nats.conf (one nkey user per role, each with its subject permissions) and DIR/<role>.env
  (NATS_NKEY_SEED=… for the scheduler, broker, promoter, notifier, agent, requester and operator roles;
  mode 600). Start the server with nats-server -c DIR/nats.conf and give each client its role's file.`;
