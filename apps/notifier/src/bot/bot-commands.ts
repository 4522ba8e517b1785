import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Id, modelKey, newRunId, Specialist, SymbolName, type EventInput, type QueryName, type QueryRequestInput, type QueryResponse } from '@trainyard/contracts';
import { FlagError, parseFlags, RUN_REQUEST_OPTIONS, runRequestFromFlags, symbolSelection } from '@trainyard/run-flags';
import { CapacityView, NatsBus, QueryError } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { escapeHtml as esc } from '../alerts/html';
import { renderMetricsHistory, renderStudyHistory } from '../charts/model-charts';
import { NOTIFIER_CONFIG, type NotifierConfig } from '../config/notifier.config';
import { BotCommandStore } from './bot-command.store';
import { formatCosts, formatGpus, formatHelp, formatLeases, formatRecentRuns, formatStatus, formatStudy, formatVersions, type CommandHelp } from './bot-format';

/** Who sent a command, and where the answer goes. */
export interface Caller {
  chatId: string;
  userId: string | null;
  messageId: number;
  isOperator: boolean;
  /** As commands on the bus name their author: `telegram:<user id> (@username)`. */
  requestedBy: string;
}

export type Reply = { html: string } | { png: Buffer; caption: string };

export interface BotCommand extends CommandHelp {
  run(args: string[], caller: Caller): Promise<Reply[]>;
}

type Command = 'run.requested' | 'run.cancel' | 'job.cancel' | 'job.retry' | 'model.promote' | 'model.rollback';

const html = (text: string): Reply[] => [{ html: text }];

/**
 * What each command does. Questions go to the owning service over NATS request/reply; changes go
 * on the bus as commands, recorded here so the outcome (command.result, or run.planned for /run)
 * can be told to the chat that asked.
 */
@Injectable()
export class BotCommands {
  readonly table: Record<string, BotCommand>;

  constructor(
    private readonly bus: NatsBus,
    private readonly capacity: CapacityView,
    private readonly store: BotCommandStore,
    private readonly clock: Clock,
    @Inject(NOTIFIER_CONFIG) private readonly cfg: NotifierConfig,
  ) {
    this.table = {
      help: { usage: '/help', help: 'what I understand', operator: false, run: async (_, c) => html(formatHelp(Object.values(this.table), c.isOperator)) },
      status: { usage: '/status', help: 'runs in progress: counts, cost, ETA', operator: false, run: async () => html(formatStatus(await this.ask('runs.active', {}))) },
      runs: { usage: '/runs', help: 'the latest runs', operator: false, run: async () => html(formatRecentRuns(await this.ask('runs.recent', { limit: 10 }))) },
      models: { usage: '/models <symbol>', help: "a symbol's versions, with a chart of their metrics", operator: false, run: (a) => this.models(a) },
      gpus: { usage: '/gpus', help: 'capacity and the jobs holding slots', operator: false, run: () => this.gpus() },
      study: { usage: '/study <id>', help: 'a hyperparameter study: progress, best params, what mattered, a chart', operator: false, run: (a) => this.study(a) },
      costs: { usage: '/costs', help: 'what training cost today and this week', operator: false, run: async () => html(formatCosts(await this.ask('runs.costs', {}))) },
      run: {
        usage: '/run <symbols|topN> [flags]',
        help: 'start a run, e.g. /run BTCUSDT,ETHUSDT --promote auto (--variants default,bull,bear adds regime specialists)',
        operator: true,
        run: (a, c) => this.startRun(a, c),
      },
      cancel: { usage: '/cancel <run|job> [reason]', help: 'cancel a run or one job', operator: true, run: (a, c) => this.cancel(a, c) },
      retry: { usage: '/retry <job>', help: 'one more attempt for a failed or cancelled job', operator: true, run: (a, c) => this.retry(a, c) },
      promote: { usage: '/promote <symbol>[/variant] <version>', help: 'put a version into production', operator: true, run: (a, c) => this.promote(a, c) },
      rollback: { usage: '/rollback <symbol>[/variant] [version]', help: 'back to the previous production version (or the one named)', operator: true, run: (a, c) => this.rollback(a, c) },
    };
  }

  private ask<N extends QueryName>(name: N, request: QueryRequestInput<N>): Promise<QueryResponse<N>> {
    return this.bus.query(name, request, this.cfg.NOTIFIER_QUERY_TIMEOUT_MS);
  }

  /** Records who asked, then puts the command on the bus under the recorded id. */
  private async issue<N extends Command>(name: N, input: EventInput<N>, c: Caller, id: string = randomUUID(), subject: string | null = null): Promise<void> {
    await this.store.record({ id, command: name, subject, chatId: c.chatId, replyTo: c.messageId, requestedBy: c.requestedBy }, this.clock.now());
    await this.bus.publish(name, input, { id });
  }

  private async models(args: string[]): Promise<Reply[]> {
    const symbol = symbolArg(args[0]);
    const answer = await this.ask('models.versions', { symbol, limit: 30 });
    const replies: Reply[] = html(formatVersions(answer));
    if (answer.versions.length) {
      replies.push({ png: await renderMetricsHistory(symbol, answer.versions), caption: `📈 ${esc(symbol)}: Sharpe and hit rate by version, production marked` });
    }
    return replies;
  }

  private async study(args: string[]): Promise<Reply[]> {
    const [id] = args;
    if (!id || !Id.safeParse(id).success) throw new FlagError('name the study, e.g. /study study-btcusdt-1a2b3c4d');
    const { study } = await this.ask('studies.find', { id });
    if (!study) return html(`⚠️ No study <code>${esc(id)}</code>.`);
    const replies: Reply[] = html(formatStudy(study));
    if (study.history.length) replies.push({ png: await renderStudyHistory(study), caption: `📈 ${esc(study.id)}: ${esc(study.objective)} by trial, best so far` });
    return replies;
  }

  /** The broker's detailed view when it answers; else the capacity summary it keeps in KV, and the scheduler's count. */
  private async gpus(): Promise<Reply[]> {
    const detail = await this.ask('leases.active', {}).catch(() => null);
    if (detail) return html(formatLeases(detail));
    const held = await this.ask('runs.active', {}).then(
      (a) => a.slotsHeld,
      () => null,
    );
    return html(formatGpus(await this.capacity.current(), held, this.clock.now()));
  }

  private async startRun(args: string[], c: Caller): Promise<Reply[]> {
    const { values, positionals } = parseFlags(args, RUN_REQUEST_OPTIONS, true);
    if (positionals.length === 0) throw new FlagError('name the symbols: a list (BTCUSDT,ETHUSDT) or topN (top10)');
    const symbols = symbolSelection(positionals.join(','), 'symbols');
    const fields = runRequestFromFlags(values);
    const runId = fields.runId ?? newRunId('tg', this.clock.now());
    await this.issue('run.requested', { ...fields, symbols, runId, trigger: 'telegram', requestedBy: c.requestedBy }, c, `${runId}-request`, runId);
    const what = Array.isArray(symbols) ? `${symbols.length} symbol${symbols.length === 1 ? '' : 's'}` : 'topN' in symbols ? `the top ${symbols.topN}` : 'a CSV';
    const settings = [
      fields.mode ?? 'hybrid',
      `promote ${fields.promote ?? 'off'}`,
      ...(fields.priority ? [`priority ${fields.priority}`] : []),
      ...(fields.variants ? [`variants ${fields.variants.join(',')}`] : []),
      ...(fields.force ? ['force'] : []),
      ...(fields.dryRun ? ['dry run'] : []),
    ];
    return html(`⏳ Run <code>${esc(runId)}</code> requested: ${what} · ${settings.join(' · ')}. The plan follows.`);
  }

  private async cancel(args: string[], c: Caller): Promise<Reply[]> {
    const [id, ...words] = args;
    if (!id) throw new FlagError('name the run or job to cancel');
    if (!Id.safeParse(id).success) throw new FlagError(`"${id}" is not a run or job id`);
    const reason = words.length ? words.join(' ').slice(0, 500) : `cancelled from Telegram by ${c.requestedBy}`;
    const found = await this.ask('runs.find', { id });
    if (found.run) {
      await this.issue('run.cancel', { runId: id, reason, requestedBy: c.requestedBy }, c);
      return html(`⏳ Asked the scheduler to cancel run <code>${esc(id)}</code> (${found.run.status}).`);
    }
    if (found.job) {
      await this.issue('job.cancel', { jobId: id, reason, requestedBy: c.requestedBy }, c);
      return html(`⏳ Asked the scheduler to cancel job <code>${esc(id)}</code> (${found.job.status}).`);
    }
    return html(`⚠️ No run or job <code>${esc(id)}</code>.`);
  }

  private async retry(args: string[], c: Caller): Promise<Reply[]> {
    const [jobId] = args;
    if (!jobId || !Id.safeParse(jobId).success) throw new FlagError('name the job to retry, e.g. /retry daily-20261122-BTCUSDT');
    await this.issue('job.retry', { jobId, requestedBy: c.requestedBy }, c);
    return html(`⏳ Asked the scheduler to retry <code>${esc(jobId)}</code>.`);
  }

  private async promote(args: string[], c: Caller): Promise<Reply[]> {
    const { symbol, variant } = modelArg(args[0]);
    const version = versionArg(args[1]);
    if (version === undefined) throw new FlagError('name the version to promote, e.g. /promote BTCUSDT 3');
    await this.issue('model.promote', { symbol, ...(variant ? { variant } : {}), version, requestedBy: c.requestedBy }, c);
    return html(`⏳ Asked the promoter to put ${esc(modelKey(symbol, variant))} v${version} into production.`);
  }

  private async rollback(args: string[], c: Caller): Promise<Reply[]> {
    const { symbol, variant } = modelArg(args[0]);
    const version = versionArg(args[1]);
    await this.issue('model.rollback', { symbol, ...(variant ? { variant } : {}), version, requestedBy: c.requestedBy }, c);
    return html(`⏳ Asked the promoter to roll ${esc(modelKey(symbol, variant))} back${version ? ` to v${version}` : ''}.`);
  }
}

/** `BTCUSDT`, or a regime specialist's own line of versions: `BTCUSDT/bull`. */
function modelArg(value: string | undefined): { symbol: string; variant?: Specialist } {
  const slash = value?.lastIndexOf('/') ?? -1;
  if (value === undefined || slash < 0) return { symbol: symbolArg(value) };
  const variant = value.slice(slash + 1).toLowerCase();
  const symbol = value.slice(0, slash);
  if (!SymbolName.safeParse(symbol.toUpperCase()).success) return { symbol: symbolArg(value) };
  if (variant === 'default') return { symbol: symbolArg(symbol) };
  if (!Specialist.safeParse(variant).success)
    throw new FlagError(`"${value}" is neither a symbol (e.g. BTCUSDT) nor a symbol and a variant (${Specialist.options.map((v) => `BTCUSDT/${v}`).join(', ')})`);
  return { symbol: symbolArg(symbol), variant: variant as Specialist };
}

function symbolArg(value: string | undefined): string {
  if (!value) throw new FlagError('name a symbol, e.g. BTCUSDT');
  const symbol = value.toUpperCase();
  if (!SymbolName.safeParse(symbol).success) throw new FlagError(`"${value}" is not a symbol (2-30 letters or digits, e.g. BTCUSDT)`);
  return symbol;
}

function versionArg(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value.replace(/^v/i, ''));
  if (!Number.isInteger(n) || n < 1) throw new FlagError(`the version is a whole number from 1 (got "${value}")`);
  return n;
}

/** Refusals worth telling the person as they are: a wrong command line, or a service that cannot answer. */
export const isTellable = (err: unknown): err is Error => err instanceof FlagError || err instanceof QueryError;
