/**
 * Start-up and the CLI (issue 14): `trainyard up`'s LocalStack with the embedded database and a
 * nats-server of its own, from start() to all five services ready, in an empty DATA_DIR (fresh) and
 * again in the same one (warm); then, against that running stack, the wall time of
 * `trainyard --help` and `trainyard models list` as separate processes. Medians of ROUNDS.
 */
require('reflect-metadata');
const { spawnSync } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { loadavg, tmpdir } = require('node:os');
const { join } = require('node:path');
const { LocalStack } = require('../tools/cli/dist/local-stack');
const { freePorts, runAsScript } = require('../tools/harness');

const ROOT = join(__dirname, '..');
const ROUNDS = 3;
const CLI_CALLS = 7;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function stackEnv(dataDir) {
  const [natsPort, base] = await freePorts(6);
  const env = { ...process.env, DATA_DIR: dataDir, NATS_URL: `nats://127.0.0.1:${natsPort}`, TRAINYARD_BASE_PORT: String(base) };
  for (const k of ['DATABASE_URL', 'TRAINYARD_API_TOKEN', 'API_OPERATOR_TOKENS', 'OTEL_EXPORTER_OTLP_ENDPOINT']) delete env[k];
  return env;
}

/** ms from start() to ready; `then` runs against the started stack before it stops. */
async function timedStart(dataDir, then) {
  const stack = new LocalStack({ root: ROOT, env: await stackEnv(dataDir), log: () => undefined });
  const t0 = performance.now();
  try {
    await stack.start();
    const ms = performance.now() - t0;
    if (then) await then(stack);
    return ms;
  } finally {
    await stack.stop();
  }
}

function cliMs(args, env) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'tools/cli/bin/trainyard.js'), ...args], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`trainyard ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return performance.now() - t0;
}

async function runStartupBench() {
  const fresh = [];
  const warm = [];
  const help = [];
  const models = [];
  const loads = [];
  for (let round = 0; round < ROUNDS; round++) {
    const dir = mkdtempSync(join(tmpdir(), 'trainyard-startup-'));
    try {
      loads.push(loadavg()[0]);
      fresh.push(await timedStart(dir));
      warm.push(
        await timedStart(dir, async (stack) => {
          const env = { ...process.env, PROMOTER_URL: `http://127.0.0.1:${stack.portOf({ name: 'promoter' })}`, TRAINYARD_API_TOKEN: stack.apiToken };
          for (let i = 0; i < CLI_CALLS; i++) {
            help.push(cliMs(['--help'], env));
            models.push(cliMs(['models', 'list'], env));
          }
        }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const load = `load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`;
  return {
    'startup.up_fresh': { value: Math.round(median(fresh)), unit: 'ms', target: `< 10000 on an idle machine (${load})` },
    'startup.up_warm': { value: Math.round(median(warm)), unit: 'ms', target: `< 10000 on an idle machine (${load})` },
    'cli.help': { value: Math.round(median(help)), unit: 'ms', target: '< 500' },
    'cli.models_list': { value: Math.round(median(models)), unit: 'ms', target: '< 500, stack running' },
  };
}

module.exports = { runStartupBench };

runAsScript(module, runStartupBench);
