import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { gunzipSync } from 'node:zlib';
import { AgentBundler } from './agent-bundle';

jest.setTimeout(120_000);

/** A port nothing listens on: the agent's NATS connection fails there, after it has loaded. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs the agent until its first log line (every module it loads at start is loaded by then), then stops it. */
function firstLogLine(cwd: string, entry: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry], { cwd, env: { PATH: process.env.PATH!, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += String(d);
      if (out.includes('\n')) {
        child.kill('SIGKILL');
        resolve(out.split('\n')[0]!);
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += String(d)));
    child.on('exit', (code) => reject(new Error(`the agent exited (${code}) before logging: ${err.slice(-2000)}`)));
  });
}

/** The bundle a bootstrap copies to a rented machine, made by the workspace's build. */
describe('AgentBundler', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ty-bundle-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('packs the agent as a few files that run in an empty folder: the agent, with tracing on or off, and its training thread', async () => {
    const bundle = await new AgentBundler().bundle(join(dir, 'out'));
    const entries = execFileSync('tar', ['-tzf', bundle.path], { encoding: 'utf8' })
      .split('\n')
      .filter((e) => e && !e.endsWith('/'));
    expect(entries.sort()).toEqual(['apps/trainer-agent/dist/bundle/agent.js', 'apps/trainer-agent/dist/bundle/builtin-worker.js', 'package.json']);
    expect(bundle.entry).toBe('apps/trainer-agent/dist/bundle/agent.js');
    expect(statSync(bundle.path).size).toBeLessThan(4e6);
    const machine = join(dir, 'machine');
    mkdirSync(machine);
    execFileSync('tar', ['-xzf', bundle.path, '-C', machine]);

    const nats = `nats://127.0.0.1:${await closedPort()}`;
    const tracingOnOrOff: Array<Record<string, string>> = [{ OTEL_SDK_DISABLED: 'true' }, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}` }];
    for (const tracing of tracingOnOrOff) {
      const line = JSON.parse(await firstLogLine(machine, bundle.entry, { NATS_URL: nats, AGENT_NVIDIA_SMI: 'none', ...tracing })) as { service: string; event: string };
      expect([line.service, line.event]).toEqual(['trainer-agent', 'service_starting']);
    }

    // Given nothing to train, the training thread answers with the trainer's own error: it loaded whole.
    const worker = new Worker(join(machine, 'apps/trainer-agent/dist/bundle/builtin-worker.js'), { workerData: {} });
    const answer = await new Promise<{ type: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(answer.type).toBe('error');
  });

  it('gzips Node whole when two brokers sharing the data folder do it at the same moment', async () => {
    const out = join(dir, 'shared');
    const [a, b] = await Promise.all([new AgentBundler().node(out), new AgentBundler().node(out)]);
    expect(a).toEqual(b);
    expect(readdirSync(out)).toEqual([basename(a.path)]);
    const unpacked = createHash('sha256')
      .update(gunzipSync(readFileSync(a.path)))
      .digest('hex');
    expect(unpacked).toBe(a.sha256);
  });

  it('removes, an hour after, what earlier builds and interrupted writes left in its folder, and nothing else', async () => {
    const out = join(dir, 'tidy');
    mkdirSync(out);
    // This Node gzipped already (made once for the file), so that the folder's own is not made again.
    const gzipped = await new AgentBundler().node(join(dir, 'shared'));
    copyFileSync(gzipped.path, join(out, basename(gzipped.path)));
    const hourAgo = new Date(Date.now() - 3_700_000);
    const leftOver = ['agent-0000000000000000.tgz', 'agent-0000000000000000.files', 'agent-1111.tgz.77-ab12cd34.part', 'node-v18.0.0-0000000000000000.gz'];
    const young = ['agent-2222222222222222.tgz', 'node-v19.0.0-2222222222222222.gz.88-ef56ab78.part'];
    const notOurs = ['vast_ed25519', 'notes.txt'];
    for (const name of [...leftOver, ...young, ...notOurs]) writeFileSync(join(out, name), 'x');
    for (const name of [...leftOver, ...notOurs]) utimesSync(join(out, name), hourAgo, hourAgo);
    const bundler = new AgentBundler();
    const [bundle, node] = await Promise.all([bundler.bundle(out), bundler.node(out)]);
    expect(readdirSync(out).sort()).toEqual([basename(bundle.path), basename(node.path), ...young, ...notOurs].sort());
  });

  it('refuses a bundle older than the workspace it would come from, and a workspace that was never built', async () => {
    const root = join(dir, 'workspace');
    mkdirSync(join(root, 'apps/trainer-agent/dist/bundle'), { recursive: true });
    mkdirSync(join(root, 'libs/x/dist'), { recursive: true });
    writeFileSync(join(root, 'package.json'), '{"name":"trainyard","version":"0.0.0"}');
    writeFileSync(join(root, 'apps/trainer-agent/dist/bundle/agent.js'), '');
    writeFileSync(join(root, 'libs/x/dist/a.js'), 'module.exports = 2;');
    const manifest = (sha256: string) => JSON.stringify({ outputs: ['agent.js'], inputs: [{ path: 'libs/x/dist/a.js', sha256 }] });
    writeFileSync(join(root, 'apps/trainer-agent/dist/bundle/inputs.json'), manifest('0'.repeat(64)));
    await expect(new AgentBundler().bundle(join(dir, 'stale'), root)).rejects.toThrow('the agent bundle is older than libs/x/dist/a.js: run npm run build');

    const current = execFileSync('sha256sum', [join(root, 'libs/x/dist/a.js')], { encoding: 'utf8' }).split(' ')[0]!;
    writeFileSync(join(root, 'apps/trainer-agent/dist/bundle/inputs.json'), manifest(current));
    const bundle = await new AgentBundler().bundle(join(dir, 'current'), root);
    expect(execFileSync('tar', ['-tzf', bundle.path], { encoding: 'utf8' }).split('\n').filter(Boolean).sort()).toEqual(['apps/trainer-agent/dist/bundle/agent.js', 'package.json']);

    // A workspace file the bundle was made from, gone since: the build that removed it made no bundle.
    rmSync(join(root, 'libs/x/dist/a.js'));
    await expect(new AgentBundler().bundle(join(dir, 'gone'), root)).rejects.toThrow('the agent bundle is older than libs/x/dist/a.js: run npm run build');

    rmSync(join(root, 'apps/trainer-agent/dist/bundle/inputs.json'));
    await expect(new AgentBundler().bundle(join(dir, 'unbuilt'), root)).rejects.toThrow('the agent is not built (apps/trainer-agent/dist/bundle/inputs.json is missing): run npm run build');
  });
});
