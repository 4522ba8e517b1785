#!/usr/bin/env node
'use strict';
/**
 * The fuzz suite (issue 18): hostile input on every subject the services consume and every HTTP
 * endpoint of the scheduler and the promoter, and hostile CLI flags, while a good run completes.
 *
 *   npm run build && npm run fuzz -- [--count N] [--seed S]
 *
 * The five services run as processes (the CLI's LocalStack) on a nats-server of the fuzzer's own,
 * open (the fuzzer plays a holder of every key: the worst case), and a fresh database on the
 * machine's PostgreSQL. Passing means: no service exits; every message its consumers must refuse is
 * dead-lettered exactly once per consumer, with a reason; no HTTP answer is a 5xx or shows a stack
 * trace, a file's content or an absolute path; every CLI refusal exits 2 with one line; no trainer
 * runs that the agent does not allow; and the good run succeeds.
 *
 * Plain CommonJS on purpose, like the chaos runner: it needs only `npm run build`.
 */
const { spawn, spawnSync } = require('node:child_process');
const { mkdtempSync, rmSync, existsSync, openSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

const ROOT = resolve(__dirname, '../..');

function parseArgs(argv) {
  const out = { count: 2000, seed: null, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--count') out.count = Number(next());
    else if (a === '--seed') out.seed = Number(next());
    else if (a === '--keep') out.keep = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run fuzz -- [--count 2000] [--seed S] [--keep]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(out.count) || out.count < 10) throw new Error('--count must be a whole number of at least 10');
  return out;
}

const { waitFor, freePorts } = require('../harness');

// ---------------------------------------------------------------- hostile values

const { mulberry32 } = require('../../apps/trainer-agent/dist/training/random.js');
const { allContracts, contractFor, SCHEMA_VERSION } = require('@trainyard/contracts');

function hostileGen(rand) {
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const big = () => 'A'.repeat(200_000 + Math.floor(rand() * 700_000));
  const strings = [
    '',
    ' ',
    '../../etc/passwd',
    '/etc/passwd',
    '..',
    'BTC/USDT',
    'btcusdt',
    'BTCUSDT\n',
    '$(id)',
    '`id`',
    '; rm -rf /',
    '%00',
    '\u0000',
    'ＢＴＣ',
    'a'.repeat(300),
    '{"__proto__":{"x":1}}',
    '<script>',
    'NaN',
    '-1',
    '1e309',
  ];
  const numbers = [-1, 0, -0.5, 1e308, -1e308, 2 ** 53 + 1, 3.7, 'NaN', 'Infinity', null, '12'];
  const value = () =>
    pick([
      () => pick(strings),
      () => pick(numbers),
      () => [],
      () => ({}),
      () => true,
      () => null,
      () => ({ __proto__: { polluted: true } }),
      () => ({ constructor: { prototype: { polluted: true } } }),
    ])();
  /** A message of `name` made wrong in one of many ways, starting from a valid one when there is one. */
  return function hostile(name, sample) {
    const base = sample ? JSON.parse(JSON.stringify(sample)) : { schemaVersion: SCHEMA_VERSION, id: `fuzz-${Math.floor(rand() * 1e9)}`, occurredAt: new Date().toISOString() };
    const keys = Object.keys(base);
    switch (Math.floor(rand() * 12)) {
      case 0:
        return { raw: pick(['{not json', '', '[]', 'null', '"x"', '{"a":', '\u0000\u0001', '{'.repeat(5000)]) };
      case 1: {
        const k = pick(keys);
        base[k] = value();
        return { body: base };
      }
      case 2: {
        delete base[pick(keys)];
        return { body: base };
      }
      case 3:
        base[pick(['extra', 'command', '__proto__', 'constructor', 'csv'])] = value();
        return { body: base };
      case 4:
        base.schemaVersion = pick([0, 2, 99, '1', null]);
        return { body: base };
      case 5:
        base[pick(keys.length ? keys : ['id'])] = big();
        return { body: base };
      case 6:
        return { raw: `{"__proto__":{"polluted":true},"schemaVersion":1,"id":"fuzz-proto-${Math.floor(rand() * 1e9)}","occurredAt":"${new Date().toISOString()}"}` };
      case 7:
        for (const k of ['symbol', 'jobId', 'runId', 'agentId', 'leaseId', 'featureset'])
          if (k in base || rand() < 0.3) base[k] = pick(['../../etc', '/etc/passwd', 'A/../B', '..', 'x'.repeat(500), '$(id)']);
        return { body: base };
      case 8:
        base.driver = pick([
          { kind: 'command', command: ['sh', '-c', 'id > /tmp/pwned'] },
          { kind: 'command', trainer: 'sh', args: ['-c', 'id'] },
          { kind: 'command', trainer: '../x' },
        ]);
        if (base.spec) base.spec.driver = base.driver;
        return { body: base };
      case 9:
        if (sample) return { body: { ...base, id: `fuzz-replay-${Math.floor(rand() * 1e9)}` }, replay: true };
        return { body: base };
      case 10:
        for (const k of keys) if (typeof base[k] === 'number') base[k] = pick([-1, 1e308, -0.0001]);
        base.date = pick(['2024-13-45', '0000-00-00', '2026-02-30', '99999-01-01']);
        return { body: base };
      default:
        base.symbols = pick([{ csv: '/etc/passwd' }, ['../etc'], [], { topN: -3 }, { topN: 1e9 }, Array.from({ length: 6000 }, () => 'BTCUSDT')]);
        return { body: base };
    }
  };
}

const TG_CHAT = 424242;
const TG_OPERATOR = 777001;

/**
 * A hostile post to the Telegram webhook: without the secret Telegram sends, with a wrong one, or
 * with it and an update that is malformed, huge, of another kind, or a command from a stranger (an
 * unknown chat, or a member of the allowed chat who is not an operator). Never from the operator.
 */
function hostileUpdate(rand, i) {
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const commands = [
    '/run BTCUSDT',
    '/run ../../etc/passwd',
    '/cancel daily-20261130',
    '/retry x-BTCUSDT',
    '/promote BTCUSDT 1',
    '/rollback BTCUSDT',
    '/status',
    '/help',
    `/run ${'A'.repeat(5000)}`,
    '/run@trainyard_test_bot BTCUSDT',
    '/rollback __proto__',
    '/run $(id)',
  ];
  const stranger = pick([
    { chat: 666, from: 666 },
    { chat: TG_CHAT, from: 555 },
    { chat: -100123, from: 555 },
    { chat: TG_CHAT, from: null },
  ]);
  const message = (text) => ({
    message_id: i + 1,
    date: Math.floor(Date.now() / 1000),
    chat: stranger.chat < 0 ? { id: stranger.chat, type: 'supergroup', title: 'x' } : { id: stranger.chat, type: 'private' },
    ...(stranger.from === null ? {} : { from: { id: stranger.from, is_bot: false, first_name: 'm' } }),
    text,
    entities: text.startsWith('/') ? [{ type: 'bot_command', offset: 0, length: text.split(' ')[0].length }] : [],
  });
  switch (Math.floor(rand() * 9)) {
    case 0:
      return { what: 'no secret', secret: 'none', update: { update_id: i, message: message('/run BTCUSDT') } };
    case 1:
      return { what: 'wrong secret', secret: 'wrong', update: { update_id: i, message: message('/rollback BTCUSDT') } };
    case 2:
      return { what: 'invalid JSON', secret: 'right', raw: pick(['{', 'null', '[]', '"x"', '{"update_id":', '\u0000']) };
    case 3:
      return { what: 'huge', secret: 'right', update: { update_id: i, message: message(`/run ${'B'.repeat(1_000_000)}`) } };
    case 4:
      return {
        what: 'wrong types',
        secret: 'right',
        update: pick([
          { update_id: 'x', message: 5 },
          { update_id: i, message: { ...message('/status'), chat: { id: { $gt: 0 } } } },
          { update_id: i, message: { ...message('/status'), text: 42 } },
          { update_id: -1 },
          { update_id: i, message: { ...message('/run BTCUSDT'), entities: [{ type: 'bot_command', offset: 900, length: 9 }] } },
        ]),
      };
    case 5:
      return { what: 'prototype keys', secret: 'right', raw: `{"update_id":${i},"__proto__":{"polluted":true},"message":${JSON.stringify(message('/status'))}}` };
    case 6:
      return {
        what: 'another kind',
        secret: 'right',
        update: pick([
          { update_id: i, edited_message: message('/run BTCUSDT') },
          { update_id: i, callback_query: { id: '1', data: '/run BTCUSDT', from: { id: TG_OPERATOR } } },
          { update_id: i, channel_post: message('/run BTCUSDT') },
        ]),
      };
    default:
      return { what: "a stranger's command", secret: 'right', update: { update_id: i, message: message(pick(commands)) } };
  }
}

/** Hostile invocations of the CLI; each must exit 2 (a usage error) with a line that shows nothing it read. */
const CLI_FLAG_SETS = [
  ['run', '--symbols', ''],
  ['run', '--symbols', 'BTCUSDT', '--lookback-candles', '5'],
  ['run', '--symbols', 'BTCUSDT', '--timeframe', '$(id)'],
  ['run', '--symbols', 'BTCUSDT', '--canary', '--live'],
  ['run', '--symbols', '../../etc/passwd'],
  ['run', '--symbols', 'BTCUSDT', '--date', '2024-13-45'],
  ['run', '--symbols', 'BTCUSDT', '--trainer', 'sh -c id'],
  ['run', '--symbols', 'BTCUSDT', '--trainer-arg=--x=/etc/passwd', '--trainer', 'pytorch'],
  ['run', '--symbols', 'BTCUSDT', '--max-concurrent', '-3'],
  ['run', '--symbols', 'x'.repeat(100000)],
  ['run', '--symbols', 'BTCUSDT', '--featureset', '../../x'],
  ['run', '--colour', 'red'],
  ['models', 'show', '../etc', 'x'],
  ['nats-config'],
  ['nats-config', '--out', '{dir}', '--port', '99999'],
  ['\u0001'],
  ['run', '--symbols', 'BTCUSDT', '--mode', '$(id)'],
];

// ---------------------------------------------------------------- the run

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const seed = opts.seed ?? Math.floor(Math.random() * 1e9);
  const rand = mulberry32(seed);
  const hostile = hostileGen(rand);
  const started = Date.now();
  console.log(`fuzz: ${opts.count} inputs, seed ${seed}`);
  const dir = mkdtempSync(join(tmpdir(), `trainyard-fuzz-${seed}-`));
  const { LocalStack, SERVICES } = require('../../tools/cli/dist/local-stack.js');
  const { createTestDatabase } = require('@trainyard/testing');
  const { NatsBus } = require('@trainyard/messaging');
  const [natsPort] = await freePorts(1);
  const natsUrl = `nats://127.0.0.1:${natsPort}`;
  const natsLog = openSync(join(dir, 'nats.log'), 'a');
  const nats = spawn(require('@trainyard/testing').natsServerBinary(), ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-sd', join(dir, 'nats')], { stdio: ['ignore', natsLog, natsLog] });
  const prefix = `fuzz${seed.toString(36)}`.toLowerCase();
  const db = await createTestDatabase();
  // The notifier takes Telegram updates by webhook, from the Bot API stand-in, so the webhook is fuzzed too.
  const telegram = await require('@trainyard/testing').startTelegramTestServer();
  const [webhookPort] = await freePorts(1);
  const webhookUrl = `http://127.0.0.1:${webhookPort}/telegram/updates`;
  const problems = [];
  const stack = new LocalStack({
    root: ROOT,
    log: () => undefined,
    env: {
      ...process.env,
      NATS_URL: natsUrl,
      TRAINYARD_PREFIX: prefix,
      DATABASE_URL: db.url,
      DATA_DIR: join(dir, 'data'),
      TRAINYARD_BASE_PORT: String((await freePorts(5))[0]),
      AGENT_ID: 'fuzz-agent',
      AGENT_NVIDIA_SMI: 'none',
      AGENT_CPU_SLOTS: '2',
      AGENT_HEARTBEAT_MS: '1000',
      SCHEDULER_LOOKBACK_CANDLES: '1000',
      BUS_RETRY_BASE_MS: '200',
      BUS_MAX_DELIVER: '3',
      OTEL_SDK_DISABLED: 'true',
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_URL: telegram.url,
      TELEGRAM_CHAT_IDS: String(TG_CHAT),
      TELEGRAM_OPERATOR_IDS: String(TG_OPERATOR),
      TELEGRAM_WEBHOOK_URL: webhookUrl,
      TELEGRAM_WEBHOOK_HOST: '127.0.0.1',
      TELEGRAM_WEBHOOK_PORT: String(webhookPort),
      VAST_API_KEY: '',
      S3_BUCKET: '',
    },
  });
  let bus;
  const cleanup = async () => {
    await bus?.onApplicationShutdown().catch(() => undefined);
    await stack.stop().catch(() => undefined);
    nats.kill('SIGKILL');
    await telegram.close().catch(() => undefined);
    await db.drop().catch(() => undefined);
  };
  try {
    await waitFor(
      () =>
        new Promise((done) => {
          const s = require('node:net').connect(natsPort, '127.0.0.1', () => {
            s.end();
            done(true);
          });
          s.on('error', () => done(false));
        }),
      'nats-server',
      20_000,
    );
    await stack.start();
    bus = await NatsBus.connect({ serviceName: 'fuzzer', natsUrl, prefix });
    const token = stack.apiToken;
    const say = (line) => console.log(`[${Math.round((Date.now() - started) / 1000)} s] ${line}`);
    say('stack up');
    const http = (name) => `http://127.0.0.1:${stack.portOf({ name })}`;

    // The good run, alongside everything else.
    const good = await fetch(`${http('scheduler')}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ runId: `good-${seed}`, symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'], promote: 'auto' }),
    });
    if (good.status !== 202) problems.push(`the good run was refused: ${good.status} ${await good.text()}`);

    // Samples of real messages to mutate and replay: what the good run publishes.
    const { readStored } = require('@trainyard/testing');
    process.env.TEST_NATS_URL = natsUrl;
    await waitFor(async () => (await readStored(prefix, 'job.succeeded')).length > 0, 'a first job.succeeded to sample', 120_000, 500);
    const samples = new Map();
    for (const e of await readStored(prefix, '>')) {
      const name = allContracts().find((c) => matches(`${prefix}.${c.filter}`, e.subject))?.name;
      if (name && !samples.has(name)) samples.set(name, e.data);
    }
    const consumed = allContracts();

    // The inputs: each hostile CLI invocation once, then 70% bus messages and the rest HTTP requests.
    const busInputs = Math.round((opts.count - CLI_FLAG_SETS.length) * 0.7);
    const cliInputs = CLI_FLAG_SETS.length;
    const webhookInputs = Math.round((opts.count - busInputs - cliInputs) * 0.2);
    const httpInputs = opts.count - busInputs - cliInputs - webhookInputs;
    const sent = [];
    let published = 0;
    const window = [];
    for (let i = 0; i < busInputs; i++) {
      const c = consumed[Math.floor(rand() * consumed.length)];
      const h = hostile(c.name, samples.get(c.name));
      const data = h.raw ?? JSON.stringify(h.body);
      const subject = `${prefix}.${c.filter.replace(/\*/g, () => (c.name === 'agent.assign' ? 'fuzz-agent' : `fuzz${i}`))}`;
      const expectRefused = h.raw !== undefined || !refusable(c, h.body).ok;
      window.push(
        bus.publishRaw(subject, data, `fuzz-${seed}-${i}`).then(
          (ack) => sent.push({ seq: ack.seq, subject, name: c.name, expectRefused, data }),
          (err) => {
            if (!/maximum payload|MAX_PAYLOAD/i.test(String(err))) problems.push(`publishing input ${i} on ${subject}: ${err.message}`);
          },
        ),
      );
      published++;
      if (window.length >= 64) await Promise.all(window.splice(0));
    }
    await Promise.all(window.splice(0));

    say(`${published} bus messages published`);
    // HTTP: every path of both OpenAPI documents, hostile paths, bodies and headers.
    const httpResults = { total: 0, s5xx: 0, leaks: 0 };
    const docs = [];
    for (const name of ['scheduler', 'promoter']) docs.push({ name, doc: await (await fetch(`${http(name)}/openapi.json`)).json() });
    const routes = docs.flatMap(({ name, doc }) => Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => ({ name, path, method: method.toUpperCase() }))));
    const pathValues = ['BTCUSDT', '..%2f..%2fetc%2fpasswd', '%00', 'x'.repeat(3000), '1e309', '-1', '__proto__', "'; DROP TABLE jobs; --", '%E0%A4%A', 'good-' + seed];
    for (let i = 0; i < httpInputs; i++) {
      const r = routes[Math.floor(rand() * routes.length)];
      const path =
        r.path.replace(/\{[^}]+\}/g, () => pathValues[Math.floor(rand() * pathValues.length)]) +
        (rand() < 0.3 ? `?${['limit=-1', 'limit=abc', 'status=../../', 'date=2024-13-45', 'symbol=%00', 'offset=1e99', 'a[b]=c', '__proto__[x]=1'][Math.floor(rand() * 8)]}` : '');
      const body = rand() < 0.2 ? '{bad json' : JSON.stringify(hostile('run.requested', samples.get('run.requested')).body ?? {});
      const auth = [`Bearer ${token}`, 'Bearer wrong-token-wrong-token', 'Basic YTpi', '', `Bearer ${'x'.repeat(5000)}`][Math.floor(rand() * (rand() < 0.7 ? 1 : 5))];
      const headers = { 'content-type': rand() < 0.9 ? 'application/json' : 'text/plain', ...(auth ? { authorization: auth } : {}) };
      try {
        const res = await fetch(`${http(r.name)}${path}`, { method: r.method, headers, body: r.method === 'GET' || r.method === 'HEAD' ? undefined : body, signal: AbortSignal.timeout(15_000) });
        const text = await res.text();
        httpResults.total++;
        if (res.status >= 500) {
          httpResults.s5xx++;
          problems.push(`${r.method} ${r.name}${path.slice(0, 80)}: ${res.status} ${text.slice(0, 200)}`);
        }
        // Data is data (an artifact's URI names a folder); an error must say what was wrong, not show internals.
        if (res.status >= 400 && leaks(text)) {
          httpResults.leaks++;
          problems.push(`${r.method} ${r.name}${path.slice(0, 80)}: the answer shows internals: ${text.slice(0, 200)}`);
        }
      } catch (err) {
        httpResults.total++;
        problems.push(`${r.method} ${r.name}${path.slice(0, 80)}: ${err.message}`);
      }
    }

    say(`${httpResults.total} HTTP requests answered`);
    // The Telegram webhook: posts without Telegram's secret, and hostile updates with it, none from
    // anyone allowed to change things. No 5xx, and no command reaches the bus from them.
    const secret = await waitFor(() => telegram.calls.find((c) => c.method === 'setWebhook')?.params.secret_token, 'the notifier to register its webhook', 60_000);
    const webhookResults = { total: 0, s5xx: 0 };
    for (let i = 0; i < webhookInputs; i++) {
      const h = hostileUpdate(rand, i);
      const headers = {
        'content-type': 'application/json',
        ...(h.secret === 'right' ? { 'x-telegram-bot-api-secret-token': secret } : h.secret === 'wrong' ? { 'x-telegram-bot-api-secret-token': 'f'.repeat(64) } : {}),
      };
      try {
        const res = await fetch(webhookUrl, { method: 'POST', headers, body: h.raw ?? JSON.stringify(h.update), signal: AbortSignal.timeout(15_000) });
        const text = await res.text();
        webhookResults.total++;
        if (res.status >= 500) {
          webhookResults.s5xx++;
          problems.push(`webhook update ${i} (${h.what}): ${res.status} ${text.slice(0, 200)}`);
        }
        if (leaks(text)) problems.push(`webhook update ${i} (${h.what}): the answer shows internals: ${text.slice(0, 200)}`);
      } catch (err) {
        webhookResults.total++;
        problems.push(`webhook update ${i} (${h.what}): ${err.message}`);
      }
    }
    say(`${webhookResults.total} webhook posts answered`);
    // CLI flags: each hostile invocation exits 2 (a usage error) with one line, never a trace.
    const cliResults = { total: 0, bad: 0 };
    for (const args of CLI_FLAG_SETS.map((set) => set.map((a) => (a === '{dir}' ? dir : a)))) {
      const r = spawnSync(process.execPath, [join(ROOT, 'tools/cli/bin/trainyard.js'), ...args], {
        env: { ...process.env, NATS_URL: natsUrl, TRAINYARD_PREFIX: prefix },
        encoding: 'utf8',
        timeout: 30_000,
      });
      cliResults.total++;
      if (r.status !== 2 || leaks(r.stderr + r.stdout)) {
        cliResults.bad++;
        problems.push(`trainyard ${args.join(' ').slice(0, 80)}: exit ${r.status}, ${(r.stderr || r.stdout).slice(0, 200)}`);
      }
    }

    say(`${cliResults.total} CLI runs done`);
    // The good run completes in normal time.
    // Asked of the scheduler's API: the stream now holds hostile run.completed messages of a megabyte.
    const completed = await waitFor(
      async () => {
        const res = await fetch(`${http('scheduler')}/runs/good-${seed}`, { headers: { authorization: `Bearer ${token}` } });
        const run = res.ok ? await res.json() : null;
        return run && ['succeeded', 'failed', 'partial', 'cancelled'].includes(run.status) ? { data: run } : null;
      },
      'the good run completed',
      600_000,
      1000,
    ).catch((e) => {
      problems.push(e.message);
      return null;
    });
    if (completed && completed.data.status !== 'succeeded') problems.push(`the good run ended ${completed.data.status}`);
    // The run's own time, request to completion, as the scheduler recorded it.
    const goodSeconds = completed ? Math.round((Date.parse(completed.data.completedAt) - Date.parse(completed.data.createdAt)) / 1000) : null;

    say(completed ? `the good run ${completed.data.status}` : 'the good run did not complete');
    // Every refused message: one letter per consumer of its subject, with a reason.
    const consumers = [];
    // The services' durable consumers; the fuzzer's own readers are ephemeral.
    for await (const ci of bus.jsm.consumers.list(bus.streamName)) if (ci.config.durable_name) consumers.push({ name: ci.name, filter: ci.config.filter_subject });
    const expected = new Map();
    for (const s of sent.filter((x) => x.expectRefused)) {
      for (const c of consumers.filter((c) => c.filter && matches(c.filter, s.subject))) expected.set(`${s.seq}|${c.name}`, s);
    }
    // Letters can be large (a refused 1 MB message is kept whole, or cut to fit): count them by their
    // ids (each letter's Nats-Msg-Id) from a headers-only reader, and read the reasons of a sample.
    const letterReader = await bus.js.consumers.get(bus.streamName, { filter_subjects: `${prefix}.dlq.>`, headers_only: true });
    const byKey = new Map();
    const drainLetterIds = async () => {
      for (;;) {
        const batch = await letterReader.fetch({ max_messages: 500, expires: 1000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          const key = letterKey({ id: m.headers?.get('Nats-Msg-Id') ?? '' });
          byKey.set(key, (byKey.get(key) ?? 0) + 1);
        }
        if (got === 0) return;
      }
    };
    await waitFor(
      async () => {
        await drainLetterIds();
        return [...expected.keys()].every((k) => byKey.has(k));
      },
      'a dead letter for every refused message',
      120_000 + opts.count * 20,
      2000,
    ).catch((e) => problems.push(e.message));
    const letterCount = [...byKey.values()].reduce((a, b) => a + b, 0);
    const sampleReader = await bus.js.consumers.get(bus.streamName, { filter_subjects: `${prefix}.dlq.>` });
    const sample = await sampleReader.fetch({ max_messages: 200, expires: 2000 });
    for await (const m of sample) {
      const l = JSON.parse(m.string());
      if (!l.reason) problems.push(`a letter without a reason: ${l.id}`);
      if (leaks(l.reason)) problems.push(`a letter's reason shows internals: ${l.reason.slice(0, 200)}`);
    }
    const missing = [...expected.keys()].filter((k) => !byKey.has(k));
    const twice = [...byKey.entries()].filter(([, n]) => n > 1);
    if (missing.length) {
      const shown = missing.slice(0, 5).map((k) => `${k} (${expected.get(k).subject}: ${expected.get(k).data.slice(0, 160)})`);
      problems.push(`${missing.length} refused messages without their letter, e.g. ${shown.join('; ')}`);
    }
    if (twice.length)
      problems.push(
        `${twice.length} messages dead-lettered more than once by one consumer, e.g. ${twice
          .slice(0, 3)
          .map(([k]) => k)
          .join(', ')}`,
      );

    // Only the allowed may act through the bot, and none of the fuzzed updates came from them.
    const commandSubjects = ['run.requested', 'run.cancel', 'job.*.cancel', 'job.retry', 'model.promote', 'model.rollback'];
    const fromTelegram = [];
    for (const filter of commandSubjects) {
      for (const e of await readStored(prefix, filter).catch(() => []))
        if (typeof e.data?.requestedBy === 'string' && e.data.requestedBy.startsWith('telegram:') && !sent.some((x) => x.subject === e.subject && x.data.includes(e.data.id ?? '\u0000')))
          fromTelegram.push(e);
    }
    if (fromTelegram.length)
      problems.push(`${fromTelegram.length} commands from fuzzed Telegram updates reached the bus, e.g. ${fromTelegram[0].subject} ${JSON.stringify(fromTelegram[0].data).slice(0, 200)}`);

    // Nothing ran that the agent does not allow, and no service ended.
    if (existsSync('/tmp/pwned')) problems.push('/tmp/pwned exists: a command ran');
    for (const e of stack.exits()) problems.push(`${e.name} exited (${e.exit})`);
    for (const s of SERVICES) {
      const live = await fetch(`${http(s.name)}/health/live`)
        .then((r) => r.status)
        .catch((e) => e.message);
      if (live !== 200) problems.push(`${s.name} is not live: ${live}`);
    }

    const refused = sent.filter((x) => x.expectRefused).length;
    console.log(`
| inputs | bus messages | refused by schema (expected letters) | letters | HTTP requests | HTTP 5xx | answers showing internals | webhook posts | webhook 5xx | commands from them | CLI runs | CLI not exit 2 | good run | seconds |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
| ${opts.count} | ${published} | ${refused} (${expected.size}) | ${letterCount} | ${httpResults.total} | ${httpResults.s5xx} | ${httpResults.leaks} | ${webhookResults.total} | ${webhookResults.s5xx} | ${fromTelegram.length} | ${cliResults.total} | ${cliResults.bad} | ${completed ? `${completed.data.status} in ${goodSeconds} s` : 'not complete'} | ${Math.round((Date.now() - started) / 1000)} |`);
  } catch (err) {
    problems.push(`fuzz runner: ${err.stack || err.message}`);
  } finally {
    await cleanup();
  }
  if (problems.length) {
    console.log(`\nFAIL (seed ${seed}; replay with npm run fuzz -- --count ${opts.count} --seed ${seed}):`);
    for (const p of problems.slice(0, 40)) console.log(`  - ${p}`);
    console.log(`  logs in ${dir}`);
    process.exit(1);
  }
  if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  console.log('\nPASS');
  process.exit(0);
}

/** Whether the transport refuses the message before any handler: JSON, schemaVersion, the contract. */
function refusable(contract, body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { ok: false };
  if (body.schemaVersion !== SCHEMA_VERSION) return { ok: false };
  return { ok: contractFor(contract.name).schema.safeParse(body).success };
}

/** A letter's message and consumer: its id is dlq-<STREAM>-<stream sequence>-<consumer>. */
function letterKey(letter) {
  const m = /^dlq-[A-Z0-9_-]+?-(\d+)-(.+)$/.exec(letter.id);
  return m ? `${m[1]}|${m[2]}` : letter.id;
}

/** A NATS subject filter (with * and >) against a subject. */
function matches(filter, subject) {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}

/** A stack trace, a path on this machine or a line of /etc/passwd in something a caller sees. */
function leaks(text) {
  return /\n\s+at .+:\d+:\d+|node_modules|root:x:0:0|\/work\/|\/home\/|\/tmp\/trainyard/.test(String(text ?? ''));
}

main().catch((e) => {
  console.error(e.stack || e.message);
  process.exit(2);
});
