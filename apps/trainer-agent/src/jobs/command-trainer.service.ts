import { Inject, Injectable } from '@nestjs/common';
import { spawn } from 'node:child_process';
import { chown, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import type { JobSpec, Lease } from '@trainyard/contracts';
import type { ArtifactFile } from '../artifacts/artifact-publisher.service';
import { AGENT_CONFIG, type AgentConfig } from '../config/agent.config';
import { TrainerInputsService } from '../market-data/trainer-inputs.service';
import { endOfDataDate, timeframeMs } from '../training/candles';
import { CheckpointWatcher } from './checkpoint-watcher';
import { looksLikeOom, parseOutputLine, type ResultLine } from './command-output';
import { trainerEnvironment, trainerUser } from './trainer-allowlist';
import { AttemptError } from './training-errors';
import type { ProgressReport, TrainingRun } from './training-run';
import type { z } from 'zod';

const STOP_GRACE_MS = 5000;
const CHECKPOINT_POLL_MS = 2000;
const STDERR_TAIL = 40;

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else if (entry.isFile() && !entry.name.endsWith('.partial')) out.push(path);
  }
  return out.sort();
}

/** Hands a folder and what is in it to the trainer's account, so an unprivileged trainer can write its output there. */
async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await chownTree(child, uid, gid);
    else await chown(child, uid, gid);
  }
}

/**
 * The `command` driver: a trainer the agent's operator allowed (AGENT_TRAINERS), by name, with the
 * job's validated arguments after its command line; started without a shell, in a process group of
 * its own, as an unprivileged account where the agent can switch, with an environment that holds
 * none of the agent's credentials. It is told where its job spec and output folder are through the
 * environment, reports progress and its result as JSON lines on stdout, and every file it leaves in
 * the output folder becomes an artifact. Stopping it signals the whole group, so no child outlives it.
 */
@Injectable()
export class CommandTrainer {
  /** Read from the agent's environment once: walking process.env costs about a millisecond a job. */
  private readonly baseEnv: Record<string, string>;

  constructor(
    @Inject(AGENT_CONFIG) private readonly cfg: AgentConfig,
    private readonly inputs: TrainerInputsService,
  ) {
    this.baseEnv = trainerEnvironment(process.env, cfg.AGENT_TRAINER_ENV);
  }

  /** The command line the job's trainer stands for here; an AttemptError when this agent does not allow it. */
  allowedCommand(spec: JobSpec): string[] {
    if (spec.driver.kind !== 'command') throw new Error('the command driver runs command jobs only');
    const allowed = this.cfg.AGENT_TRAINERS.get(spec.driver.trainer);
    if (allowed) return allowed;
    const known = [...this.cfg.AGENT_TRAINERS.keys()];
    throw new AttemptError(
      'not_allowed',
      false,
      `trainer "${spec.driver.trainer}" is not allowed on agent ${this.cfg.AGENT_ID} (it allows ${known.length ? known.join(', ') : 'none: set AGENT_TRAINERS'})`,
    );
  }

  start(
    spec: JobSpec,
    lease: Lease,
    workDir: string,
    hooks: {
      onLog: (line: string) => void;
      onProgress: (p: ProgressReport) => void;
      /** A checkpoint the program finished writing; awaited before the outcome is reported. */
      onCheckpoint: (file: ArtifactFile) => Promise<void>;
      /** Local copy of the checkpoint to resume from, fetched by the caller. */
      resumePath?: string;
    },
  ): TrainingRun {
    const { onLog, onProgress } = hooks;
    const jobArgs = spec.driver.kind === 'command' ? spec.driver.args : [];
    let stopReason: string | null = null;
    let pid: number | undefined;
    const result = (async () => {
      const [program, ...args] = [...this.allowedCommand(spec), ...jobArgs];
      if (program === undefined) throw new AttemptError('not_allowed', false, `the trainer's command line on agent ${this.cfg.AGENT_ID} is empty`);
      const user = trainerUser(this.cfg.AGENT_TRAINER_USER);
      await mkdir(workDir, { recursive: true });
      const specPath = join(workDir, 'job.json');
      await writeFile(specPath, JSON.stringify(spec, null, 2) + '\n');
      // In the output folder, so the artifacts keep the data the model was trained on.
      const inputs = await this.inputs.write(spec, join(workDir, 'inputs'));
      onLog(`inputs: ${inputs.summary}`);
      if (user) {
        await chownTree(workDir, user.uid, user.gid);
        if (hooks.resumePath) await chown(hooks.resumePath, user.uid, user.gid);
      }
      const gpu = lease.device.startsWith('gpu:') ? lease.device.slice(4) : '';
      const child = spawn(program, args, {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(user ? { uid: user.uid, gid: user.gid } : {}),
        env: {
          ...this.baseEnv,
          HOME: workDir,
          TRAINYARD_JOB_SPEC: specPath,
          TRAINYARD_OUTPUT_DIR: workDir,
          TRAINYARD_DEVICE: gpu ? 'cuda:0' : 'cpu',
          // Only the leased GPU is visible, as device 0; a CPU lease sees none.
          CUDA_VISIBLE_DEVICES: gpu,
          ...(hooks.resumePath ? { TRAINYARD_RESUME_FROM: hooks.resumePath } : {}),
          TRAINYARD_BATCH_SIZE_FACTOR: String(spec.batchSizeFactor ?? 1),
          ...inputs.env,
          // A regime specialist trains on its regime's candles only; unset for the plain model.
          ...(spec.variant ? { TRAINYARD_VARIANT: spec.variant } : {}),
        },
      });
      pid = child.pid;
      if (stopReason && pid !== undefined) process.kill(-pid, 'SIGTERM');
      let outcome: z.output<typeof ResultLine> | undefined;
      const stderrTail: string[] = [];
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const parsed = parseOutputLine(line);
        if (parsed.kind === 'progress') onProgress(parsed.value);
        else if (parsed.kind === 'result') outcome = parsed.value;
        else onLog(parsed.text);
      });
      createInterface({ input: child.stderr! }).on('line', (line) => {
        onLog(`stderr: ${line}`);
        stderrTail.push(line);
        if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
      });
      const watcher = new CheckpointWatcher(workDir);
      const uploaded = new Set<string>();
      let shipping = Promise.resolve();
      const ship = (final: boolean) =>
        (shipping = shipping.then(async () => {
          for (const file of await watcher.poll(final)) {
            await hooks.onCheckpoint(file);
            uploaded.add(file.name);
          }
        }));
      const watch = setInterval(() => void ship(false).catch((err) => onLog(`checkpoint not uploaded yet: ${err.message}`)), CHECKPOINT_POLL_MS);
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
        child.once('error', (err) => reject(new AttemptError('trainer_error', false, `cannot start ${program}: ${err.message}`)));
        child.once('close', (c, s) => resolve([c, s]));
      }).finally(() => clearInterval(watch));
      await ship(true);
      if (stopReason) throw new AttemptError('cancelled', false, stopReason);
      const tail = stderrTail.slice(-8).join('\n');
      if (code !== 0) {
        if (looksLikeOom(stderrTail.join('\n'), signal)) throw new AttemptError('oom', true, `${program} ran out of memory${signal ? ` (${signal})` : ''}`, tail);
        throw new AttemptError('trainer_error', false, `${program} exited with ${signal ?? `code ${code}`}`, tail);
      }
      if (!outcome) throw new AttemptError('trainer_error', false, `${program} exited 0 without a {"type":"result"} line on stdout`, tail);
      // Checkpoints went up as they were written; the rest of the output folder goes up now.
      const files: ArtifactFile[] = [];
      for (const path of await filesUnder(workDir)) {
        const name = relative(workDir, path);
        if (!uploaded.has(name)) files.push({ name, path });
      }
      const end = endOfDataDate(spec.date);
      return {
        featureset: outcome.featureset ?? spec.featureset,
        metrics: outcome.metrics,
        ...(outcome.allDataMetrics ? { allDataMetrics: outcome.allDataMetrics } : {}),
        evaluationWindow: outcome.evaluationWindow ?? {
          from: new Date(end - spec.lookbackCandles * timeframeMs(spec.timeframe)).toISOString(),
          to: new Date(end).toISOString(),
          candles: spec.lookbackCandles,
        },
        files,
        summary: `${program} exited 0: hit rate ${outcome.metrics.directionalHitRate.toFixed(4)} sharpe ${outcome.metrics.sharpe.toFixed(3)}, ${files.length} files`,
      };
    })();
    return {
      result,
      stop: (reason) => {
        stopReason = reason;
        if (pid === undefined) return;
        const group = -pid;
        const signal = (s: NodeJS.Signals) => {
          try {
            process.kill(group, s);
          } catch {
            // The group is already gone.
          }
        };
        signal('SIGTERM');
        setTimeout(() => signal('SIGKILL'), STOP_GRACE_MS).unref();
      },
    };
  }
}
