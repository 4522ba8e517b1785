import type { QueryResponse, RunView } from '@trainyard/contracts';
import { htmlToText } from '../alerts/html';
import { formatCosts, formatRunLine } from './bot-format';

const window = (since: string, cost: number, over: Partial<QueryResponse<'runs.costs'>['today']> = {}) => ({ since, cost, jobs: 40, trainHours: 3.25, runs: 2, ...over });

describe('/costs and run lines: work beside spend', () => {
  it('shows the work (leases) and the spend (what the GPU provider billed) of today and this week', () => {
    const text = formatCosts({
      today: window('2026-11-23T00:00:00.000Z', 2.5, { spend: 7.8049, instances: 3 }),
      week: window('2026-11-23T00:00:00.000Z', 10, { spend: 31.2, instances: 1 }),
    });
    expect(htmlToText(text)).toBe(
      [
        '💰 Costs (UTC) — work: the leases of jobs finished · spend: what the GPU provider billed',
        'Today: work $2.50 — 40 jobs, 3.3 train hours, 2 runs',
        '   spend $7.80 — 3 instances destroyed',
        'This week (since Mon, 23 Nov): work $10.00 — 40 jobs, 3.3 train hours, 2 runs',
        '   spend $31.20 — 1 instance destroyed',
      ].join('\n'),
    );
    expect(text).toContain('spend <b>$7.80</b>');
  });

  it('shows the work alone from a scheduler that does not report spend', () => {
    expect(htmlToText(formatCosts({ today: window('2026-11-23T00:00:00.000Z', 2.5), week: window('2026-11-23T00:00:00.000Z', 10) }))).toBe(
      '💰 Costs (jobs finished, UTC)\nToday: work $2.50 — 40 jobs, 3.3 train hours, 2 runs\nThis week (since Mon, 23 Nov): work $10.00 — 40 jobs, 3.3 train hours, 2 runs',
    );
  });

  it('puts a run’s spend beside its work once an instance of it was billed', () => {
    const run: RunView = {
      runId: 'daily-20261121',
      date: '2026-11-21',
      trigger: 'cron',
      status: 'succeeded',
      mode: 'hybrid',
      maxConcurrent: 4,
      requestedBy: null,
      createdAt: '2026-11-22T00:15:00.000Z',
      startedAt: '2026-11-22T00:15:01.000Z',
      completedAt: '2026-11-22T01:15:01.000Z',
      totalJobs: 2,
      jobs: { succeeded: 2 },
      cost: 0.4,
      etaMinutes: null,
    };
    expect(htmlToText(formatRunLine({ ...run, spend: 1.37 }))).toBe('✅ daily-20261121 2026-11-21 · cron — 2/2 done · $0.40 work, $1.37 spend');
    expect(htmlToText(formatRunLine({ ...run, spend: 0 }))).toBe('✅ daily-20261121 2026-11-21 · cron — 2/2 done · $0.40');
    expect(htmlToText(formatRunLine(run))).toBe('✅ daily-20261121 2026-11-21 · cron — 2/2 done · $0.40');
  });
});
