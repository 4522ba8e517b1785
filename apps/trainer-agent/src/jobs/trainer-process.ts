import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Where a trainer's output lines go: the job it is running now. */
export interface TrainerOutput {
  stdout(line: string): void;
  stderr(line: string): void;
}

export interface TrainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TrainerLaunch {
  program: string;
  args: string[];
  env: Record<string, string>;
  user?: { uid: number; gid: number } | null;
  /** A worker reads its jobs on stdin; a trainer started for one job gets none. */
  stdin: boolean;
}

/**
 * A trainer's process: started without a shell, in a process group of its own, its output lines
 * handed to whoever listens now. Stopping it signals the whole group, so no child outlives it.
 */
export class TrainerProcess {
  /** Resolves once it has exited and its output is read; rejects when it could not be started. */
  readonly exited: Promise<TrainerExit>;
  private output: TrainerOutput | undefined;
  private readonly child: ChildProcess;
  private done = false;
  private ended: { exit: TrainerExit } | { error: Error } | undefined;
  private exitWatcher: ((end: { exit: TrainerExit } | { error: Error }) => void) | undefined;

  constructor(readonly launch: TrainerLaunch) {
    const { program, args, env, user } = launch;
    this.child = spawn(program, args, {
      detached: true,
      stdio: [launch.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
      env,
    });
    // A worker that died leaves a broken pipe: its exit is what reports it.
    this.child.stdin?.on('error', () => undefined);
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.output?.stdout(line));
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.output?.stderr(line));
    this.exited = new Promise<TrainerExit>((resolve, reject) => {
      this.child.once('error', (err) => {
        const error = new Error(`cannot start ${program}: ${err.message}`);
        this.end({ error });
        reject(error);
      });
      this.child.once('close', (code, signal) => {
        this.end({ exit: { code, signal } });
        resolve({ code, signal });
      });
    });
    // Whoever watches hears of a failed start; the promise is for those who await it.
    this.exited.catch(() => undefined);
  }

  /**
   * Calls `watcher` once it has exited (at once if it has), replacing the last one's; undefined
   * stops watching. A worker's jobs each watch in turn, so nothing of a finished job stays attached
   * to a process that may serve thousands more.
   */
  watchExit(watcher: ((end: { exit: TrainerExit } | { error: Error }) => void) | undefined): void {
    this.exitWatcher = watcher;
    if (watcher && this.ended) watcher(this.ended);
  }

  private end(ended: { exit: TrainerExit } | { error: Error }): void {
    this.done = true;
    this.ended = ended;
    this.exitWatcher?.(ended);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.done && this.child.pid !== undefined;
  }

  /** Sends its output to `output` from now on; undefined drops it. */
  listen(output: TrainerOutput | undefined): void {
    this.output = output;
  }

  /** One JSON line on its stdin. */
  send(message: object): void {
    this.child.stdin!.write(JSON.stringify(message) + '\n');
  }

  /** SIGTERM to the whole group, then SIGKILL after `graceMs` if anything of it is left. */
  stop(graceMs: number): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    const signal = (s: NodeJS.Signals) => {
      try {
        process.kill(-pid, s);
      } catch {
        // The group is already gone.
      }
    };
    signal('SIGTERM');
    setTimeout(() => signal('SIGKILL'), graceMs).unref();
  }

  /** Asks a worker to end by closing its stdin; stops it after `graceMs` if it does not. */
  close(graceMs: number): Promise<void> {
    this.child.stdin?.end();
    const timer = setTimeout(() => this.stop(graceMs), graceMs);
    timer.unref();
    return this.exited.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
  }
}
