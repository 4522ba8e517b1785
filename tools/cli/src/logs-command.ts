import { existsSync, readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { DECIDED_RUN_STATES, Id, SymbolName } from '@trainyard/contracts';
import { callApi, type ApiTarget } from './api-client';
import { UsageError } from './usage-error';
import { LOGS_HELP } from './help';

export interface LogsRequest {
  runId: string;
  symbol?: string;
  follow: boolean;
  /** Where the services' log files are; null reads standard input. */
  dir: string | null;
}

export function parseLogsCommand(argv: string[], defaultDir: string): LogsRequest {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { symbol: { type: 'string' }, follow: { type: 'boolean' }, dir: { type: 'string' }, stdin: { type: 'boolean' } }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${LOGS_HELP}`);
  }
  const [runId, ...extra] = parsed.positionals;
  const v = parsed.values;
  if (!runId) throw new UsageError(`name the run: trainyard logs <RUN_ID>\n\n${LOGS_HELP}`);
  if (!Id.safeParse(runId).success) throw new UsageError(`"${runId.slice(0, 40)}" is not a run id`);
  if (extra[0] !== undefined) throw new UsageError(`unexpected "${extra[0].slice(0, 40)}"`);
  if (v.symbol !== undefined && !SymbolName.safeParse(v.symbol).success) throw new UsageError(`--symbol: "${v.symbol.slice(0, 40)}" is not a symbol`);
  if (v.stdin && v.dir !== undefined) throw new UsageError('--dir and --stdin are two sources: give one');
  return { runId, symbol: v.symbol, follow: v.follow === true, dir: v.stdin ? null : (v.dir ?? defaultDir) };
}

/** A service's JSON log line, as pino writes it. */
interface LogLine {
  time?: string;
  level?: string | number;
  service?: string;
  event?: string;
  msg?: string;
  runId?: string;
  symbol?: string;
  jobId?: string;
  jobIds?: string[];
}

/** The line, parsed, when it is about the run (and the symbol, when one is asked for); else null. */
export function lineOfRun(text: string, runId: string, symbol?: string): LogLine | null {
  if (!text.startsWith('{')) return null;
  let line: LogLine;
  try {
    line = JSON.parse(text);
  } catch {
    return null;
  }
  const jobs = [line.jobId, ...(Array.isArray(line.jobIds) ? line.jobIds : [])].filter((j): j is string => typeof j === 'string');
  const ofRun = line.runId === runId || jobs.some((j) => j.startsWith(`${runId}-`));
  if (!ofRun) return null;
  if (!symbol) return line;
  const job = `${runId}-${symbol}`;
  return line.symbol === symbol || jobs.some((j) => j === job || j.startsWith(`${job}-`)) ? line : null;
}

export function formatLine(l: LogLine): string {
  return `${l.time ?? '-'} ${String(l.service ?? '?').padEnd(13)} ${String(l.level ?? '').padEnd(5)} ${l.event ? `${l.event}: ` : ''}${l.msg ?? ''}`;
}

interface AttemptLog {
  attempt: number;
  status: string;
  agentId: string | null;
  log: string | null;
}

/** Reads the services' log files from where it stopped last time: `--follow` calls it again and again. */
class LogFiles {
  private readonly offsets = new Map<string, number>();
  private readonly partial = new Map<string, string>();

  constructor(private readonly dir: string) {}

  async newLines(): Promise<string[]> {
    if (!existsSync(this.dir)) return [];
    const out: string[] = [];
    for (const name of readdirSync(this.dir)
      .filter((f) => f.endsWith('.log'))
      .sort()) {
      const file = join(this.dir, name);
      const handle = await open(file, 'r');
      try {
        const from = this.offsets.get(file) ?? 0;
        const { size } = await handle.stat();
        if (size <= from) continue;
        const buf = Buffer.alloc(size - from);
        await handle.read(buf, 0, buf.length, from);
        this.offsets.set(file, size);
        const text = (this.partial.get(file) ?? '') + buf.toString('utf8');
        const lines = text.split('\n');
        this.partial.set(file, lines.pop() ?? '');
        out.push(...lines);
      } finally {
        await handle.close();
      }
    }
    return out;
  }
}

const TERMINAL_RUN: ReadonlySet<string> = new Set(DECIDED_RUN_STATES);
/** An attempt in one of these has not reported its outcome yet. */
const UNENDED_ATTEMPT: ReadonlySet<string> = new Set(['requested', 'leased', 'running']);
const byTime = (a: LogLine, b: LogLine) => String(a.time ?? '').localeCompare(String(b.time ?? ''));

/**
 * Prints the run's lines and attempt logs. Without --follow: every line so far, oldest first, then
 * the attempts. With it: new lines as they are written and each attempt's log once it is saved,
 * until the run has completed and a last pass found nothing new.
 */
export async function runLogsCommand(req: LogsRequest, api: ApiTarget, print: (line: string) => void, pollMs = 1000): Promise<void> {
  const printed = new Set<string>();
  /** `ended`: only attempts that have ended; the agent saves attempt.log just before it reports the outcome, so the header would say running. */
  const attemptLogs = async (ended: boolean): Promise<number> => {
    let found = 0;
    for (const jobId of await jobsOf(api, req)) {
      const { attempts } = (await callApi(api, 'GET', `/jobs/${jobId}/logs`)).json() as { attempts: AttemptLog[] };
      for (const a of attempts) {
        const key = `${jobId}#${a.attempt}`;
        if (a.log === null || printed.has(key) || (ended && UNENDED_ATTEMPT.has(a.status))) continue;
        printed.add(key);
        found++;
        print(`── ${jobId} attempt ${a.attempt} (${a.status}${a.agentId ? ` on ${a.agentId}` : ''}): attempt.log ──`);
        for (const l of a.log.replace(/\n$/, '').split('\n')) print(l);
      }
    }
    return found;
  };

  if (req.dir === null) {
    const lines: LogLine[] = [];
    for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      const l = lineOfRun(text, req.runId, req.symbol);
      if (l && req.follow) print(formatLine(l));
      else if (l) lines.push(l);
    }
    for (const l of lines.sort(byTime)) print(formatLine(l));
    await attemptLogs(false);
    return;
  }

  const files = new LogFiles(req.dir);
  const pass = async () => {
    const lines = (await files.newLines()).map((t) => lineOfRun(t, req.runId, req.symbol)).filter((l): l is LogLine => l !== null);
    for (const l of lines.sort(byTime)) print(formatLine(l));
    return lines.length;
  };
  await pass();
  await attemptLogs(req.follow);
  if (!req.follow) return;
  for (;;) {
    const run = (await callApi(api, 'GET', `/runs/${req.runId}`)).json() as { status: string };
    const done = TERMINAL_RUN.has(run.status);
    // Once the run has completed, whatever is left is printed as it stands.
    const found = (await pass()) + (await attemptLogs(!done));
    if (done && found === 0) return;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** The run's jobs (the symbol's only, when asked), a page at a time; a run the scheduler does not know is an error. */
async function jobsOf(api: ApiTarget, req: LogsRequest): Promise<string[]> {
  await callApi(api, 'GET', `/runs/${req.runId}`);
  const ids: string[] = [];
  for (let offset = 0; ; offset += 500) {
    const q = new URLSearchParams({ runId: req.runId, limit: '500', offset: String(offset), ...(req.symbol ? { symbol: req.symbol } : {}) });
    const page = (await callApi(api, 'GET', `/jobs?${q}`)).json() as { items: { id: string }[]; total: number };
    ids.push(...page.items.map((j) => j.id));
    if (page.items.length === 0 || ids.length >= page.total) return ids;
  }
}
