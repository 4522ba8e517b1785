import type { CapacitySummary, CostWindow, EventMessage, QueryResponse, RunView, StudyView, VersionView } from '@trainyard/contracts';
import { escapeHtml as esc } from '../alerts/html';
import { clip, listed, money, pct } from '../alerts/message-format';

const RUN_ICON: Record<RunView['status'], string> = { planned: '📋', running: '▶️', succeeded: '✅', partial: '⚠️', failed: '❌', cancelled: '⛔' };
const STAGE_ICON: Record<VersionView['stage'], string> = { production: '🟢', candidate: '⚪', archived: '⚫' };

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const count = (jobs: RunView['jobs'], ...states: (keyof RunView['jobs'])[]) => states.reduce((sum, s) => sum + (jobs[s] ?? 0), 0);
const eta = (minutes: number) => (minutes >= 90 ? `${(minutes / 60).toFixed(1)} h` : `${Math.ceil(minutes)} min`);

/** One run on one line: how far it is, what it cost (work, and spend once an instance of it went), when it should end. */
export function formatRunLine(r: RunView): string {
  const total = Object.values(r.jobs).reduce((a, b) => a + (b ?? 0), 0);
  const done = count(r.jobs, 'succeeded', 'failed', 'cancelled', 'skipped');
  const parts = [`${done}/${total} done`];
  if (r.status === 'running') {
    parts.push(`${count(r.jobs, 'released', 'leased', 'running')} running`, `${count(r.jobs, 'pending', 'retry_wait')} waiting`);
  }
  const failed = count(r.jobs, 'failed');
  if (failed) parts.push(`${failed} failed`);
  parts.push(r.spend ? `${money(r.cost)} work, ${money(r.spend)} spend` : money(r.cost));
  if (r.etaMinutes !== null) parts.push(`ETA ${eta(r.etaMinutes)}`);
  return `${RUN_ICON[r.status]} <code>${esc(r.runId)}</code> ${r.date} · ${r.trigger} — ${parts.join(' · ')}`;
}

export function formatStatus(a: QueryResponse<'runs.active'>): string {
  const held = a.slotsHeld ? `\n🔌 ${plural(a.slotsHeld, 'job')} holding a slot` : '';
  if (a.runs.length === 0) return `😴 No runs in progress.${held}`;
  return [`<b>Runs in progress (${a.runs.length})</b>`, listed(a.runs.map(formatRunLine), '\n')].join('\n') + held;
}

export function formatRecentRuns(r: QueryResponse<'runs.recent'>): string {
  if (r.runs.length === 0) return 'No runs yet.';
  return [`<b>Recent runs</b>`, ...r.runs.map(formatRunLine)].join('\n');
}

/** Work (the leases of the jobs finished) and, from a scheduler that knows it, spend (what the GPU provider billed for the instances destroyed). */
const window = (label: string, w: CostWindow) => {
  const work = `${label}: work <b>${money(w.cost)}</b> — ${plural(w.jobs, 'job')}, ${w.trainHours.toFixed(1)} train hours, ${plural(w.runs, 'run')}`;
  if (w.spend === undefined) return work;
  return `${work}\n   spend <b>${money(w.spend)}</b> — ${plural(w.instances ?? 0, 'instance')} destroyed`;
};

export function formatCosts(c: QueryResponse<'runs.costs'>): string {
  const monday = new Date(c.week.since).toUTCString().slice(0, 11);
  const head = c.today.spend === undefined ? '💰 <b>Costs</b> (jobs finished, UTC)' : '💰 <b>Costs</b> (UTC) — work: the leases of jobs finished · spend: what the GPU provider billed';
  return [head, window('Today', c.today), window(`This week (since ${monday})`, c.week)].join('\n');
}

export function formatGpus(capacity: CapacitySummary | null, slotsHeld: number | null, now: Date): string {
  const held = slotsHeld === null ? '' : `\n🔌 ${plural(slotsHeld, 'job')} holding a slot now`;
  if (!capacity) return `🖥 The broker has not reported capacity yet.${held}`;
  const age = Math.max(0, Math.round((now.getTime() - Date.parse(capacity.updatedAt)) / 1000));
  return (
    [
      `🖥 <b>Capacity</b>: ${plural(capacity.agents, 'agent')} · ${plural(capacity.gpus, 'GPU')} · ${plural(capacity.cpuSlots, 'CPU slot')}`,
      `${money(capacity.pricePerHour)} per slot-hour · updated ${age < 120 ? `${age} s` : `${Math.round(age / 60)} min`} ago`,
    ].join('\n') + held
  );
}

const gb = (mb: number) => (mb / 1024).toFixed(0);

/** The broker's own view: each agent with its GPUs and the jobs holding them, then the rented instances. */
export function formatLeases(a: QueryResponse<'leases.active'>): string {
  const charged = a.leases.reduce((sum, l) => sum + l.pricePerHour, 0);
  const head = `🖥 <b>GPUs and slots</b>: ${plural(a.agents.length, 'agent')} · ${plural(a.leases.length, 'job')} holding a slot · ${money(charged)}/h charged`;
  if (a.agents.length === 0)
    return `${head}
No agent has reported yet.`;
  const agents = a.agents.map((agent) => {
    const devices = agent.gpus.length
      ? agent.gpus.map((g) => `GPU${g.index} ${esc(g.name)} ${gb(g.memoryUsedMb)}/${gb(g.memoryTotalMb)} GB · ${Math.round(g.utilization * 100)}%`).join(', ')
      : plural(agent.cpuSlots, 'CPU slot');
    const jobs = a.leases
      .filter((l) => l.agentId === agent.agentId)
      .map((l) => `${esc(l.symbol)} (${l.device === 'cpu' ? 'cpu' : `${l.device.replace('gpu:', 'GPU')} ${l.gpuMemoryGb} GB`}, ${l.status})`);
    const silent = agent.status === 'silent' ? ' ⚠️ silent' : '';
    return `• <code>${esc(agent.agentId)}</code> (${agent.provider})${silent}: ${devices}${jobs.length ? ` — ${listed(jobs, ', ')}` : ' — idle'}`;
  });
  const rented = a.instances.map((i) => `☁️ #${i.instanceId ?? '…'} ${esc(i.gpuName)} ×${i.numGpus} · ${money(i.pricePerHour)}/h · ${i.status}`);
  return [head, listed(agents, '\n'), ...(rented.length ? [`<b>Rented</b>: ${plural(rented.length, 'instance')}`, listed(rented, '\n')] : [])].join('\n');
}

const MAX_VERSIONS_LISTED = 10;

function decisionNote(d: VersionView['decision']): string {
  if (!d) return 'undecided';
  if (d.outcome === 'promote') return d.applied ? `promoted (${esc(d.rule)})` : `would be promoted (${esc(d.rule)})`;
  if (d.outcome === 'reject') return `rejected (${esc(d.rule)})`;
  if (d.outcome === 'not_comparable') return `not compared (${esc(d.rule)})`;
  return 'not evaluated';
}

export function formatVersions(v: QueryResponse<'models.versions'>): string {
  if (v.versions.length === 0) return `No versions of ${esc(v.symbol)} yet.`;
  const lines = v.versions
    .slice(0, MAX_VERSIONS_LISTED)
    .map(
      (x) =>
        `${STAGE_ICON[x.stage]} v${x.version} ${x.stage} · Sharpe ${x.metrics.sharpe.toFixed(2)} · hit ${pct(x.metrics.directionalHitRate)} · ${decisionNote(x.decision)} · ${x.createdAt.slice(0, 10)}`,
    );
  const more = v.total - lines.length;
  return [`🧠 <b>${esc(v.symbol)}</b> — ${plural(v.total, 'version')}, newest first`, ...lines, ...(more > 0 ? [`… and ${more} older`] : [])].join('\n');
}

/** The outcome of a /run: the scheduler's plan. */
export function formatPlan(m: EventMessage<'run.planned'>): string {
  const f = m.forecast;
  const skipped = m.skipped.length + (m.skippedOmitted ?? 0);
  const lines = [
    `📋 <b>Run ${esc(m.runId)} planned</b>: ${plural(m.jobs.length + (m.jobsOmitted ?? 0), 'job')}${skipped ? `, ${skipped} skipped` : ''} for ${m.date}${m.dryRun ? ' — dry run, nothing launched' : ''}`,
  ];
  if (m.jobs.length)
    lines.push(
      `order: ${listed(
        m.jobs.map((j) => esc(j.symbol)),
        ', ',
      )}`,
    );
  if (m.skipped.length)
    lines.push(
      `skipped: ${listed(
        m.skipped.map((s) => `${esc(s.symbol)} (${esc(clip(s.reason, 80))})`),
        ', ',
      )}`,
    );
  lines.push(`forecast: ~${eta(f.wallMinutes)} · ${f.gpuHours.toFixed(2)} GPU h · ${money(f.cost)}`);
  return lines.join('\n');
}

export function formatCommandResult(m: EventMessage<'command.result'>): string {
  return `${m.ok ? '✅' : '⚠️'} ${esc(m.message)}`;
}

export interface CommandHelp {
  usage: string;
  help: string;
  operator: boolean;
}

export function formatHelp(commands: CommandHelp[], isOperator: boolean): string {
  const line = (c: CommandHelp) => `${esc(c.usage)} — ${esc(c.help)}`;
  return [
    '<b>Trainyard bot</b>',
    ...commands.filter((c) => !c.operator).map(line),
    '',
    `<b>Operators only</b>${isOperator ? ' (you are one)' : ' (you are not one)'}`,
    ...commands.filter((c) => c.operator).map(line),
    '',
    'Flags of /run: --mode sequential|parallel|hybrid, --promote off|dry|auto, --priority urgent|high|normal|low, --force, --dry-run, --date YYYY-MM-DD, --max-concurrent N, --canary, --purpose production|search, --timeout-minutes N, --run-id ID, --featureset NAME, --driver builtin|command, --trainer NAME, --trainer-arg=ARG, --gpu-memory-gb N',
  ].join('\n');
}

/** A study: where it stands, the best trial's value and params, and the parameters that mattered most. */
export function formatStudy(s: StudyView): string {
  const done = s.trials.complete + s.trials.pruned + s.trials.failed;
  const head = `🔬 <b>Study ${esc(s.id)}</b> · ${esc(s.symbol)} · ${s.status} · ${done}/${s.trialsPlanned} trials (${s.trials.complete} complete, ${s.trials.pruned} pruned, ${s.trials.failed} failed, ${s.trials.running} running) · ${esc(s.sampler)} sampler, ${esc(s.pruner)} pruner`;
  if (!s.best) return `${head}\nNo trial scored yet.`;
  const params = Object.entries(s.best.params)
    .map(([k, v]) => `${esc(k)}=<code>${esc(String(typeof v === 'number' ? Number(v.toPrecision(6)) : v))}</code>`)
    .join(', ');
  const ranked = Object.entries(s.importance)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([k, v]) => `${esc(k)} ${Math.round(v * 100)}%`);
  return [head, `Best: trial #${s.best.trial}, ${esc(s.objective)} ${s.best.value.toFixed(4)} (${s.direction}) · ${params}`, ...(ranked.length ? [`What mattered: ${ranked.join(' · ')}`] : [])].join(
    '\n',
  );
}
