import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LocalStack } from './local-stack';
import { EXPERIMENTS_HELP, LOGS_HELP, MODELS_HELP, NATS_CONFIG_HELP, RUN_FLAGS_HELP, SEARCH_HELP } from './help';

// Each command loads what it needs when it runs (import() below), so help, models or logs never pay
// for NATS, Nest or the embedded database at start-up.
const ROOT = resolve(__dirname, '../../..');
const USAGE = `Trainyard: retrain one model per symbol, every day, on rented and owned GPUs.

usage:
  trainyard up                      start the local stack (NATS, embedded PostgreSQL, the five services) until Ctrl-C
  trainyard run --symbols … [flags] request a run, follow it live, exit 0 only if it succeeded
  trainyard logs <RUN_ID> …         a run's log lines from every service and each attempt's attempt.log
  trainyard models …                list, show, promote and roll back model versions
  trainyard search …                hyperparameter studies on the shared fleet: start, list, show, promote the best
  trainyard experiments …           tracked runs (every training attempt): list, show, compare, export to MLflow's file store
  trainyard nats-config --out DIR   a NATS configuration with a least-privilege user per role, and each role's credentials
  trainyard help                    this text

${RUN_FLAGS_HELP}

${LOGS_HELP}

${MODELS_HELP}

${EXPERIMENTS_HELP}

${SEARCH_HELP}

${NATS_CONFIG_HELP}`;

/** Stops the stack on Ctrl-C or SIGTERM before leaving, so no service outlives the command; `what` says what becomes of the work. */
function stopOnSignal(stack: LocalStack | null, what = 'stopping…'): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      console.error(`\n${sig}: ${what}`);
      void (stack ? stack.stop() : Promise.resolve()).finally(() => process.exit(130));
    });
  }
}

async function up(): Promise<number> {
  await import('reflect-metadata');
  const { LocalStack } = await import('./local-stack');
  const stack = new LocalStack({ root: ROOT, env: process.env, log: (l) => console.log(l) });
  stopOnSignal(stack);
  // A service that fails to start must not leave the others (and nats-server) running behind us.
  await stack.start().catch(async (err: unknown) => {
    await stack.stop();
    throw err;
  });
  console.log(`Trainyard is up. In another terminal: npx trainyard run --symbols BTCUSDT,ETHUSDT. Ctrl-C stops it.`);
  await new Promise(() => undefined);
  return 0;
}

async function run(argv: string[]): Promise<number> {
  const { parseRunFlags } = await import('./run-flags');
  const flags = parseRunFlags(argv);
  await import('reflect-metadata');
  const [
    { z },
    { busEnv, busOptions, loadConfig },
    { newRunId },
    { NatsBus, runDecisions },
    { existingRunStart, followRun },
    { describeEvent, formatPlan, formatPromotions, formatSummary, promotionFields },
  ] = await Promise.all([import('zod'), import('@trainyard/config'), import('@trainyard/contracts'), import('@trainyard/messaging'), import('./follow-run'), import('./format')]);
  const runId = flags.request.runId ?? newRunId('cli', new Date());
  const out = flags.json ? (l: string) => console.error(l) : (l: string) => console.log(l);
  const stack = flags.up ? new (await import('./local-stack')).LocalStack({ root: ROOT, env: process.env, log: out }) : null;
  // The run is the stack's, not this command's: leaving stops only the following (and, with --up, the stack, until its next start).
  const again = `trainyard run --run-id ${runId}${flags.up ? ' --up' : ''}`;
  stopOnSignal(stack, stack ? `stopping the local stack; run ${runId} goes on when it starts again (${again})` : `no longer following run ${runId}, which goes on (${again} follows it again)`);
  try {
    if (stack) await stack.start();
    const env = loadConfig(z.object(busEnv), stack?.env ?? process.env);
    const bus = await NatsBus.connect({ ...busOptions(env, 'cli'), provision: false }).catch((err) => {
      throw new Error(`cannot reach NATS at ${env.NATS_URL} (${err.message}); start the stack with "npx trainyard up" or pass --up`);
    });
    try {
      // A new id cannot name a run yet; one the caller chose may, and then its events precede our request.
      const since = flags.request.runId ? await existingRunStart(bus, runId) : null;
      const fromSeq = (await bus.jsm.streams.info(bus.streamName)).state.last_seq + 1;
      const requestId = `${runId}-request`;
      await bus.publish('run.requested', { ...flags.request, runId, requestedBy: process.env.USER ?? 'cli' }, { id: requestId });
      out(`requested run ${runId}`);
      const outcome = await followRun(bus, {
        runId,
        requestId,
        fromSeq,
        since,
        dryRun: flags.request.dryRun ?? false,
        timeoutMs: flags.waitMinutes * 60_000,
        onEvent: (subject, data) => {
          const line = describeEvent(subject, data);
          if (line) out(line);
        },
        onUnanswered: () => out(`no scheduler has answered yet: is the stack up (trainyard up)? The request waits on the bus and runs when a scheduler starts; still following`),
      });
      if (outcome.kind === 'planned') {
        if (flags.json) console.log(JSON.stringify(outcome.message, null, 2));
        else out(formatPlan(outcome.message));
        return 0;
      }
      const promote = flags.request.promote ?? 'off';
      const models =
        promote === 'off'
          ? undefined
          : await runDecisions(bus, outcome.message, { waitMs: flags.promotionWaitSeconds * 1000, queryTimeoutMs: 5000, onIncomplete: (why) => out(`  promotion: ${why}`) });
      if (flags.json) console.log(JSON.stringify(models === undefined ? outcome.message : { ...outcome.message, ...promotionFields(outcome.message, models) }, null, 2));
      else out(formatSummary(outcome.message) + (models === undefined ? '' : formatPromotions(outcome.message, models)));
      return outcome.message.status === 'succeeded' ? 0 : 1;
    } finally {
      await bus.onApplicationShutdown();
    }
  } finally {
    if (stack) await stack.stop();
  }
}

/** Where `trainyard up` keeps its state (DATA_DIR), as LocalStack resolves it. */
const localDataDir = () => resolve(ROOT, process.env.DATA_DIR ?? '.trainyard');

/** The operator token `trainyard up` made, when the API is the local stack's. */
function tokenOfLocalStack(): string | undefined {
  const file = join(localDataDir(), 'api-tokens.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { operator?: string }).operator : undefined;
}

async function models(argv: string[]): Promise<number> {
  const { parseModelsCommand, runModelsCommand } = await import('./models-command');
  const req = await parseModelsCommand(argv);
  const answer = await runModelsCommand(req, process.env.PROMOTER_URL ?? 'http://127.0.0.1:3004', process.env.TRAINYARD_API_TOKEN ?? tokenOfLocalStack());
  console.log(JSON.stringify(answer, null, 2));
  return 0;
}

async function logs(argv: string[]): Promise<number> {
  const { parseLogsCommand, runLogsCommand } = await import('./logs-command');
  const req = parseLogsCommand(argv, join(localDataDir(), 'logs'));
  const api = { service: 'scheduler' as const, baseUrl: process.env.SCHEDULER_URL ?? 'http://127.0.0.1:3001', token: process.env.TRAINYARD_API_TOKEN ?? tokenOfLocalStack() };
  await runLogsCommand(req, api, (l) => console.log(l));
  return 0;
}

async function experiments(argv: string[]): Promise<number> {
  const { parseExperimentsCommand, runExperimentsCommand } = await import('./experiments-command');
  const req = parseExperimentsCommand(argv);
  const answer = await runExperimentsCommand(req, process.env.SCHEDULER_URL ?? 'http://127.0.0.1:3001', process.env.TRAINYARD_API_TOKEN ?? tokenOfLocalStack());
  console.log(JSON.stringify(answer, null, 2));
  return 0;
}

async function search(argv: string[]): Promise<number> {
  const { parseSearchCommand, runSearchCommand } = await import('./search-command');
  const req = parseSearchCommand(argv);
  const answer = await runSearchCommand(req, process.env.SCHEDULER_URL ?? 'http://127.0.0.1:3001', process.env.TRAINYARD_API_TOKEN ?? tokenOfLocalStack());
  console.log(JSON.stringify(answer, null, 2));
  return 0;
}

const UP_HELP = `trainyard up

  starts NATS, the embedded PostgreSQL and the five services on this machine until Ctrl-C`;

/** Each command's help, printed for `trainyard <command> --help` (or -h) before any other flag is read. */
const HELP: Record<string, string> = {
  up: UP_HELP,
  run: RUN_FLAGS_HELP,
  logs: LOGS_HELP,
  models: MODELS_HELP,
  experiments: EXPERIMENTS_HELP,
  search: SEARCH_HELP,
  'nats-config': NATS_CONFIG_HELP,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== undefined && Object.hasOwn(HELP, command) && (rest.includes('--help') || rest.includes('-h'))) {
    console.log(HELP[command]);
    return 0;
  }
  switch (command) {
    case 'up':
      return up();
    case 'run':
      return run(rest);
    case 'logs':
      return logs(rest);
    case 'models':
      return models(rest);
    case 'experiments':
      return experiments(rest);
    case 'search':
      return search(rest);
    case 'nats-config':
      for (const file of (await import('./nats-config-command')).natsConfigCommand(rest)) console.log(`wrote ${file}`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      throw new (await import('./usage-error')).UsageError(`unknown command "${command}"; commands: up, run, logs, models, experiments, search, nats-config, help`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    // By name: the classes live in modules this file does not load up front.
    if (err instanceof Error && (err.name === 'UsageError' || err.name === 'ConfigError')) {
      console.error(`trainyard: ${err.message}\n\nrun "trainyard help" for the flags`);
      process.exit(2);
    }
    console.error(`trainyard: ${(err as Error).message}`);
    process.exit(1);
  },
);
