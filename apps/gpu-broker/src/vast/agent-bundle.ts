import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Injectable, Logger } from '@nestjs/common';
import { sha256File } from '@trainyard/storage';

const run = promisify(execFile);

/** The repository root, from this file in either src/ or dist/. */
export const repoRoot = () => resolve(__dirname, '../../../..');

/** Made by `npm run build` (tools/agent-bundle.js): the agent and every package it loads, as one file. */
const BUNDLE_DIR = 'apps/trainer-agent/dist/bundle';
const MANIFEST = `${BUNDLE_DIR}/inputs.json`;

export interface AgentBundle {
  /** A gzipped tar of the root package.json (the built-in trainer's version) and the bundled agent, laid out as in the repository. */
  path: string;
  sha256: string;
  /** The file Node runs, relative to the unpacked folder. */
  entry: string;
}

interface BundleManifest {
  outputs: string[];
  inputs: Array<{ path: string; sha256: string }>;
}

/**
 * Writes `path` whole or not at all, through a file of this call's own: another broker sharing the
 * data folder, or this one's gzip left running by a restart, may be writing the same file meanwhile.
 */
async function written(path: string, write: (part: string) => Promise<unknown>): Promise<void> {
  const part = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.part`;
  try {
    await write(part);
    renameSync(part, path);
  } finally {
    rmSync(part, { force: true });
  }
}

/** Left in the folder this long, another build's file is no longer anyone's: a broker sharing it has used its own by then. */
const LEFT_OVER_MS = 3_600_000;

/**
 * Removes what earlier builds (`kind`: an older agent, another Node) and interrupted writes left in
 * `outDir`, once an hour old; every build and Node upgrade would otherwise add one for good.
 */
function tidy(outDir: string, kind: RegExp, current: string): void {
  const cutoff = Date.now() - LEFT_OVER_MS;
  for (const name of readdirSync(outDir)) {
    const path = join(outDir, name);
    if (path === current || !(kind.test(name) || name.endsWith('.part'))) continue;
    try {
      if (statSync(path).mtimeMs < cutoff) rmSync(path, { force: true });
    } catch {
      // Gone meanwhile: another broker tidied it.
    }
  }
}

/** This process's own Node binary, gzipped once (gunzip is on every image; compressing it at each bootstrap cost seconds of CPU). */
export interface NodeBinary {
  path: string;
  /** Of the binary itself: an instance whose node.sha256 says so already has it. */
  sha256: string;
}

/**
 * What a rented machine needs to run the agent, packed once per broker process from the workspace's
 * build: the bundled agent (one file, where its node_modules were 8,000 files that took an
 * instance seconds to create) and the Node binary beside it.
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
      await written(path, (part) => run('sh', ['-c', 'gzip -6 -c "$1" > "$2"', 'sh', process.execPath, part]));
      this.log.log(`node ${process.version} gzipped to ${path} (${(statSync(path).size / 1e6).toFixed(1)} MB) in ${Date.now() - started} ms`);
    }
    tidy(outDir, /^node-.*\.gz$/, path);
    return { path, sha256 };
  }

  /** `root`: the built workspace the bundle comes from. */
  bundle(outDir: string, root = repoRoot()): Promise<AgentBundle> {
    this.building ??= this.build(outDir, root).catch((err) => {
      this.building = null;
      throw err;
    });
    return this.building;
  }

  private async build(outDir: string, root: string): Promise<AgentBundle> {
    if (!existsSync(join(root, MANIFEST))) throw new Error(`the agent is not built (${MANIFEST} is missing): run npm run build`);
    const manifest = JSON.parse(readFileSync(join(root, MANIFEST), 'utf8')) as BundleManifest;
    // The workspace's own files change (or go) with a build, which a bundle made before it does not hold.
    // Packages change only with npm ci, and an image prunes dev packages, so node_modules is not read.
    for (const input of manifest.inputs) {
      if (input.path.startsWith('node_modules/')) continue;
      const current = existsSync(join(root, input.path)) ? await sha256File(join(root, input.path)) : null;
      if (current !== input.sha256) throw new Error(`the agent bundle is older than ${input.path}: run npm run build`);
    }
    const started = Date.now();
    const files = ['package.json', ...manifest.outputs.map((f) => `${BUNDLE_DIR}/${f}`)];
    const digest = createHash('sha256');
    for (const f of files) digest.update(`${f}:${await sha256File(join(root, f))}\n`);
    const id = digest.digest('hex').slice(0, 16);
    mkdirSync(outDir, { recursive: true });
    const path = join(outDir, `agent-${id}.tgz`);
    if (!existsSync(path)) {
      await written(path, (part) => run('tar', ['-czf', part, '-C', root, ...files]));
      this.log.log(`agent bundle ${path} (${(statSync(path).size / 1e6).toFixed(1)} MB) in ${Date.now() - started} ms`);
    }
    tidy(outDir, /^agent-.*\.(tgz|files)$/, path);
    return { path, sha256: await sha256File(path), entry: `${BUNDLE_DIR}/agent.js` };
  }
}
