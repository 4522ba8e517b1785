import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Injectable, Logger } from '@nestjs/common';
import { sha256File } from '@trainyard/storage';

const run = promisify(execFile);

/** The repository root, from this file in either src/ or dist/. */
export const repoRoot = () => resolve(__dirname, '../../../..');

const AGENT_ENTRY = 'apps/trainer-agent/dist/main.js';
const AGENT_INSTRUMENTATION = 'apps/trainer-agent/dist/instrumentation.js';
/** Loaded by name at run time (Nest picks its HTTP driver so), invisible to a scan of require calls. */
const LOADED_BY_NAME = ['@nestjs/platform-express'];
/**
 * What the packages ship that Node never loads: source maps, TypeScript sources and declarations,
 * docs, their own tests. Left out, the bundle is 6 MB instead of 17 (tar's patterns match across
 * `/`), and every bootstrap copies and unpacks that much less.
 */
const NOT_LOADED = ['*.map', '*.ts', '*.mts', '*.cts', '*.md', '*.tsbuildinfo', 'node_modules/*/test', 'node_modules/*/tests', 'node_modules/*/__tests__'];

export interface AgentBundle {
  /** A gzipped tar of the built agent and the packages it loads, laid out as in the repository. */
  path: string;
  sha256: string;
  entry: string;
  instrumentation: string;
}

/** This process's own Node binary, gzipped once (gunzip is on every image; compressing it at each bootstrap cost seconds of CPU). */
export interface NodeBinary {
  path: string;
  /** Of the binary itself: an instance whose node.sha256 says so already has it. */
  sha256: string;
}

/**
 * What a rented machine needs to run the agent, built once per broker process from the built
 * workspace: the agent's dist, the libraries' dists, and only the npm packages the agent requires
 * (read from its compiled files, then their declared dependencies), not the whole node_modules.
 */
@Injectable()
export class AgentBundler {
  private readonly log = new Logger('AgentBundle');
  private building: Promise<AgentBundle> | null = null;
  private compressing: Promise<NodeBinary> | null = null;

  node(outDir: string): Promise<NodeBinary> {
    this.compressing ??= this.compressNode(outDir).catch((err) => {
      this.compressing = null;
      throw err;
    });
    return this.compressing;
  }

  private async compressNode(outDir: string): Promise<NodeBinary> {
    const started = Date.now();
    const sha256 = await sha256File(process.execPath);
    mkdirSync(outDir, { recursive: true });
    const path = join(outDir, `node-${process.version}-${sha256.slice(0, 16)}.gz`);
    if (!existsSync(path)) {
      await run('sh', ['-c', 'gzip -6 -c "$1" > "$2.part" && mv "$2.part" "$2"', 'sh', process.execPath, path]);
      this.log.log(`node ${process.version} gzipped to ${path} (${(statSync(path).size / 1e6).toFixed(1)} MB) in ${Date.now() - started} ms`);
    }
    return { path, sha256 };
  }

  bundle(outDir: string): Promise<AgentBundle> {
    this.building ??= this.build(outDir).catch((err) => {
      this.building = null;
      throw err;
    });
    return this.building;
  }

  private async build(outDir: string): Promise<AgentBundle> {
    const root = repoRoot();
    if (!existsSync(join(root, AGENT_ENTRY))) throw new Error(`the agent is not built (${AGENT_ENTRY} is missing): run npm run build`);
    const started = Date.now();
    const files = [...agentFiles(root)].sort();
    const digest = createHash('sha256');
    digest.update(`${NOT_LOADED.join(' ')}\n`);
    for (const f of files) digest.update(`${f}:${statSync(join(root, f)).mtimeMs}\n`);
    const id = digest.digest('hex').slice(0, 16);
    mkdirSync(outDir, { recursive: true });
    const path = join(outDir, `agent-${id}.tgz`);
    if (!existsSync(path)) {
      const list = join(outDir, `agent-${id}.files`);
      writeFileSync(list, files.join('\n') + '\n');
      await run('tar', ['-c', '--use-compress-program=gzip -1', '-f', `${path}.part`, '-C', root, ...NOT_LOADED.map((p) => `--exclude=${p}`), '-T', list], { maxBuffer: 1 << 24 });
      renameSync(`${path}.part`, path);
      this.log.log(`agent bundle ${path} (${(statSync(path).size / 1e6).toFixed(1)} MB, ${files.length} entries) in ${Date.now() - started} ms`);
    }
    return { path, sha256: await sha256File(path), entry: AGENT_ENTRY, instrumentation: AGENT_INSTRUMENTATION };
  }
}

function findPackage(from: string, name: string): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.js'))
    .map((e) => join(e.parentPath, e.name));
}

/** Bare module names a compiled file requires, workers and lazy requires included. */
function requiredPackages(file: string): string[] {
  const names = new Set<string>();
  for (const [, name] of readFileSync(file, 'utf8').matchAll(/require\(["']([^"'.][^"']*)["']\)/g)) {
    if (name === undefined || name.startsWith('node:')) continue;
    // A scoped package is its first two segments, any other its first.
    names.add(
      name
        .split('/')
        .slice(0, name.startsWith('@') ? 2 : 1)
        .join('/'),
    );
  }
  return [...names];
}

function agentFiles(root: string): Set<string> {
  const files = new Set<string>(['package.json', 'apps/trainer-agent/dist']);
  const packages = new Set<string>();
  const scanned = new Set<string>();
  const queue: Array<{ from: string; name: string }> = [];
  const scan = (dir: string) => {
    if (scanned.has(dir)) return;
    scanned.add(dir);
    for (const f of jsFiles(dir)) for (const name of requiredPackages(f)) queue.push({ from: dir, name });
  };
  scan(join(root, 'apps/trainer-agent/dist'));
  for (const name of LOADED_BY_NAME) queue.push({ from: root, name });
  while (queue.length) {
    const { from, name } = queue.pop()!;
    if (name.startsWith('@trainyard/')) {
      const lib = name.slice('@trainyard/'.length);
      files.add(`libs/${lib}/package.json`).add(`libs/${lib}/dist`).add(`node_modules/@trainyard/${lib}`);
      scan(join(root, 'libs', lib, 'dist'));
      continue;
    }
    const found = findPackage(from, name);
    if (!found) continue; // a builtin, or an optional dependency that is not installed
    const dir = realpathSync(found);
    if (packages.has(dir)) continue;
    packages.add(dir);
    const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    for (const dep of Object.keys({ ...pj.dependencies, ...pj.optionalDependencies })) queue.push({ from: dir, name: dep });
  }
  for (const dir of packages) files.add(relative(root, dir));
  return files;
}
