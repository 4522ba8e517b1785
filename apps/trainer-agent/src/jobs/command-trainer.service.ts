import { Inject, Injectable } from '@nestjs/common';
import { chown, mkdir, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { JobSpec, Lease } from '@trainyard/contracts';
import { FileThread } from '@trainyard/storage';
import type { ArtifactFile } from '../artifacts/artifact-publisher.service';
import { AGENT_CONFIG, type AgentConfig } from '../config/agent.config';
import { TrainerInputsService } from '../market-data/trainer-inputs.service';
import { endOfDataDate, timeframeMs } from '../training/candles';
import { CheckpointWatcher } from './checkpoint-watcher';
import { looksLikeOom, parseOutputLine, type ResultLine } from './command-output';
import { trainerEnvironment, trainerUser, type AllowedTrainer, type TrainerUser } from './trainer-allowlist';
import { TrainerProcess, type TrainerExit } from './trainer-process';
import { TrainerWorkers } from './trainer-workers';
import { AttemptError } from './training-errors';
import type { ProgressReport, TrainingRun } from './training-run';
import type { z } from 'zod';

const STOP_GRACE_MS = 5000;
const CHECKPOINT_POLL_MS = 2000;
const STDERR_TAIL = 40;

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
 *
 * A `worker:` trainer is started once and fed jobs on stdin, one JSON line each with the job's
 * arguments and the variables a per-job process would have had; its `result` line ends the job and
 * it waits for the next. Its start-up (Python importing PyTorch: seconds) is paid once, not per job.
 * A worker that exits during a job fails that job as a per-job process would; a stopped job stops it.
 */
@Injectable()
export class CommandTrainer {
  /** Read from the agent's environment once: walking process.env costs about a millisecond a job. */
  private readonly baseEnv: Record<string, string>;
  private readonly homes = new Map<string, Promise<string>>();

  constructor(
    @Inject(AGENT_CONFIG) private readonly cfg: AgentConfig,
    private readonly inputs: TrainerInputsService,
    private readonly workers: TrainerWorkers,
    private readonly files: FileThread,
  ) {
    this.baseEnv = trainerEnvironment(process.env, cfg.AGENT_TRAINER_ENV);
  }

  /** The trainer the job names as this agent allows it; an AttemptError when this agent does not. */
  allowedTrainer(spec: JobSpec): AllowedTrainer {
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

  /** Workers' HOME: a folder of their own, not an attempt's output folder, whose files would all become artifacts. */
  private workerHome(user: TrainerUser | null): Promise<string> {
    const name = user?.name ?? 'agent';
    if (!this.homes.has(name))
      this.homes.set(
        name,
        (async () => {
          const home = join(resolve(this.cfg.AGENT_WORK_DIR), 'workers', name);
          await mkdir(home, { recursive: true });
          if (user) await chown(home, user.uid, user.gid);
          return home;
        })().catch((err) => {
          this.homes.delete(name);
          throw err;
        }),
      );
    return this.homes.get(name)!;
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
      /** The trainer's code version: a worker started for other code is not handed this job. */
      codeVersion?: string;
    },
  ): TrainingRun {
    const { onLog, onProgress } = hooks;
    const jobArgs = spec.driver.kind === 'command' ? spec.driver.args : [];
    let stopReason: string | null = null;
    let running: TrainerProcess | undefined;
    const result = (async () => {
      const trainer = this.allowedTrainer(spec);
      const [program, ...trainerArgs] = trainer.command;
      if (program === undefined) throw new AttemptError('not_allowed', false, `the trainer's command line on agent ${this.cfg.AGENT_ID} is empty`);
      const user = trainerUser(this.cfg.AGENT_TRAINER_USER);
      // In the output folder, so the artifacts keep the data the model was trained on; written in one hand-off.
      const inputs = await this.inputs.prepare(spec, join(workDir, 'inputs'));
      const specPath = join(workDir, 'job.json');
      await this.files.run('writeAll', { files: [{ path: specPath, data: JSON.stringify(spec, null, 2) + '\n' }, ...inputs.files] });
      onLog(`inputs: ${inputs.summary}`);
      if (user) {
        await chownTree(workDir, user.uid, user.gid);
        if (hooks.resumePath) await chown(hooks.resumePath, user.uid, user.gid);
      }
      const gpu = lease.device.startsWith('gpu:') ? lease.device.slice(4) : '';
      // Only the leased GPU is visible, as device 0; a CPU lease sees none.
      const deviceEnv = { TRAINYARD_DEVICE: gpu ? 'cuda:0' : 'cpu', CUDA_VISIBLE_DEVICES: gpu };
      const jobEnv: Record<string, string> = {
        TRAINYARD_JOB_SPEC: specPath,
        TRAINYARD_OUTPUT_DIR: workDir,
        ...deviceEnv,
        ...(hooks.resumePath ? { TRAINYARD_RESUME_FROM: hooks.resumePath } : {}),
        TRAINYARD_BATCH_SIZE_FACTOR: String(spec.batchSizeFactor ?? 1),
        ...inputs.env,
        // A regime specialist trains on its regime's candles only; unset for the plain model.
        ...(spec.variant ? { TRAINYARD_VARIANT: spec.variant } : {}),
      };
      const home = trainer.worker ? await this.workerHome(user) : workDir;
      if (stopReason) throw new AttemptError('cancelled', false, stopReason);
      // What a process cannot change once started: its GPU, the code it loaded, its account.
      const workerKey = [spec.driver.kind === 'command' ? spec.driver.trainer : '', lease.device, hooks.codeVersion ?? '', user?.name ?? ''].join('\0');
      const trainerProcess = trainer.worker
        ? this.workers.take(workerKey, () => ({ program, args: trainerArgs, env: { ...this.baseEnv, ...deviceEnv, HOME: home }, user, stdin: true }))
        : new TrainerProcess({ program, args: [...trainerArgs, ...jobArgs], env: { ...this.baseEnv, HOME: home, ...jobEnv }, user, stdin: false });
      running = trainerProcess;
      let outcome: z.output<typeof ResultLine> | undefined;
      // A worker's job ends at its result line or its exit; a per-job process's at its exit.
      let reported: (() => void) | undefined;
      const ended = new Promise<TrainerExit | null>((resolve, reject) => {
        if (trainer.worker) reported = () => resolve(null);
        trainerProcess.watchExit((end) => ('exit' in end ? resolve(end.exit) : reject(new AttemptError('trainer_error', false, end.error.message))));
      });
      const stderrTail: string[] = [];
      trainerProcess.listen({
        stdout: (line) => {
          const parsed = parseOutputLine(line);
          if (parsed.kind === 'progress') onProgress(parsed.value);
          else if (parsed.kind === 'result') {
            outcome = parsed.value;
            reported?.();
          } else onLog(parsed.text);
        },
        stderr: (line) => {
          onLog(`stderr: ${line}`);
          stderrTail.push(line);
          if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
        },
      });
      if (trainer.worker) trainerProcess.send({ type: 'job', args: jobArgs, env: jobEnv });
      const watcher = new CheckpointWatcher(workDir, this.files);
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
      const exit = await ended.finally(() => {
        clearInterval(watch);
        trainerProcess.watchExit(undefined);
      });
      if (exit === null) {
        trainerProcess.listen(undefined);
        running = undefined;
        if (!stopReason) this.workers.give(workerKey, trainerProcess);
      }
      await ship(true);
      if (stopReason) throw new AttemptError('cancelled', false, stopReason);
      const tail = stderrTail.slice(-8).join('\n');
      if (exit !== null && exit.code !== 0) {
        if (looksLikeOom(stderrTail.join('\n'), exit.signal)) throw new AttemptError('oom', true, `${program} ran out of memory${exit.signal ? ` (${exit.signal})` : ''}`, tail);
        throw new AttemptError('trainer_error', false, `${program} exited with ${exit.signal ?? `code ${exit.code}`}`, tail);
      }
      if (!outcome) throw new AttemptError('trainer_error', false, `${program} ${trainer.worker ? 'worker ' : ''}exited 0 without a {"type":"result"} line on stdout`, tail);
      // Checkpoints went up as they were written; the rest of the output folder goes up now.
      const files: ArtifactFile[] = [];
      for (const { name } of (await this.files.run('list', { dir: workDir, recursive: true })) ?? []) {
        if (!uploaded.has(name)) files.push({ name, path: join(workDir, ...name.split('/')) });
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
        summary: `${program} ${exit === null ? 'reported its result' : 'exited 0'}: hit rate ${outcome.metrics.directionalHitRate.toFixed(4)} sharpe ${outcome.metrics.sharpe.toFixed(3)}, ${files.length} files`,
      };
    })();
    return {
      result,
      stop: (reason) => {
        stopReason = reason;
        running?.stop(STOP_GRACE_MS);
      },
    };
  }
}
