import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { AGENT_CONFIG, type AgentConfig } from '../config/agent.config';
import { TrainerProcess, type TrainerLaunch } from './trainer-process';
import { AttemptError } from './training-errors';

const CLOSE_GRACE_MS = 5000;

interface Idle {
  worker: TrainerProcess;
  timer: NodeJS.Timeout;
}

/**
 * The idle processes of `worker:` trainers, by what they were started for (trainer, device, code
 * version): a job takes one or starts one, and gives it back when it reported its result. A worker
 * serves one job at a time; one idle for AGENT_TRAINER_WORKER_IDLE_SECONDS is closed, so it does not
 * hold a GPU's memory for nothing, and one started for older code is never handed a job again.
 */
@Injectable()
export class TrainerWorkers implements OnApplicationShutdown {
  private readonly log = new Logger(TrainerWorkers.name);
  private readonly idle = new Map<string, Idle[]>();
  private readonly closing = new Set<Promise<void>>();
  private stopped = false;

  constructor(@Inject(AGENT_CONFIG) private readonly cfg: AgentConfig) {}

  /** An idle worker started for `key`, or a new one started with `launch()`. */
  take(key: string, launch: () => TrainerLaunch): TrainerProcess {
    // Not the trainer's fault: the job goes back to be trained elsewhere.
    if (this.stopped) throw new AttemptError('agent_lost', true, 'the agent is stopping');
    const list = this.idle.get(key) ?? [];
    for (let entry = list.pop(); entry; entry = list.pop()) {
      clearTimeout(entry.timer);
      if (entry.worker.alive) return entry.worker;
    }
    const worker = new TrainerProcess(launch());
    this.log.log(`started a ${key.split('\0')[0]} worker (pid ${worker.pid})`);
    // A worker that dies while idle leaves the pool; while busy, its job reads the exit.
    void worker.exited
      .finally(() => {
        const list = this.idle.get(key);
        const entry = list?.find((e) => e.worker === worker);
        if (entry) this.remove(key, entry);
      })
      .catch(() => undefined);
    return worker;
  }

  /** A worker that finished its job, ready for the next; closed instead when the agent is stopping. */
  give(key: string, worker: TrainerProcess): void {
    if (!worker.alive) return;
    if (this.stopped) return void this.close(worker);
    const entry: Idle = {
      worker,
      timer: setTimeout(() => {
        this.remove(key, entry);
        void this.close(worker);
      }, this.cfg.AGENT_TRAINER_WORKER_IDLE_SECONDS * 1000),
    };
    entry.timer.unref();
    const list = this.idle.get(key) ?? [];
    list.push(entry);
    this.idle.set(key, list);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    for (const [key, list] of this.idle) {
      for (const entry of [...list]) {
        this.remove(key, entry);
        void this.close(entry.worker);
      }
    }
    await Promise.all(this.closing);
  }

  private remove(key: string, entry: Idle): void {
    clearTimeout(entry.timer);
    const list = this.idle.get(key);
    const at = list?.indexOf(entry) ?? -1;
    if (at >= 0) list!.splice(at, 1);
    if (list?.length === 0) this.idle.delete(key);
  }

  private close(worker: TrainerProcess): Promise<void> {
    const closed = worker.close(CLOSE_GRACE_MS).finally(() => this.closing.delete(closed));
    this.closing.add(closed);
    return closed;
  }
}
