#!/usr/bin/env node
/**
 * `npm run bench`: runs each benchmark of the built apps, prints a table and writes
 * bench/results.json as { "<name>": { "value": n, "unit": "…", "target": "…" } }.
 */
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const suites = [
  () => require('../apps/scheduler/dist/bench/scheduler.bench.js').runSchedulerBench(),
  () => require('../apps/trainer-agent/dist/bench/agent.bench.js').runAgentBench(),
  () => require('../apps/gpu-broker/dist/bench/bootstrap.bench.js').runBrokerBench(),
  () => require('../libs/search/dist/bench/search.bench.js').runSearchBench(),
  () => require('../apps/scheduler/dist/bench/study.bench.js').runStudyBench(),
  () => require('./disk-growth.bench.js').runDiskGrowthBench(),
  () => require('./dispatch.bench.js').runDispatchBench(),
  () => require('./stack.bench.js').runStackBench(),
  () => require('./startup.bench.js').runStartupBench(),
];

(async () => {
  const results = {};
  for (const suite of suites) Object.assign(results, await suite());
  const rows = Object.entries(results).map(([name, r]) => [name, String(r.value), r.unit, r.target]);
  const header = ['benchmark', 'value', 'unit', 'target'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  writeFileSync(join(__dirname, 'results.json'), JSON.stringify(results, null, 2) + '\n');
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
