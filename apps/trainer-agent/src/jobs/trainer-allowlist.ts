import { execFileSync } from 'node:child_process';
import { TrainerName } from '@trainyard/contracts';

/** A trainer this agent allows: its command line, and whether it runs as a long-lived worker. */
export interface AllowedTrainer {
  command: string[];
  /** Started once and fed jobs one after another on stdin (`worker:` entries), instead of a process per job. */
  worker: boolean;
}

const WORKER = 'worker:';

/**
 * `AGENT_TRAINERS`: the command lines this agent may run, by name, as `name=command line` entries
 * separated by `;` (`pytorch=python3 examples/pytorch/train.py`); `worker:name=command line` for a
 * trainer that stays running and takes jobs on stdin. Words are split on whitespace; no shell ever
 * reads them. Throws a message naming the bad entry.
 */
export function parseTrainers(text: string | undefined): Map<string, AllowedTrainer> {
  const trainers = new Map<string, AllowedTrainer>();
  for (const entry of (text ?? '')
    .split(';')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const eq = entry.indexOf('=');
    const named = eq < 0 ? entry : entry.slice(0, eq).trim();
    const worker = named.startsWith(WORKER);
    const name = worker ? named.slice(WORKER.length).trim() : named;
    const words =
      eq < 0
        ? []
        : entry
            .slice(eq + 1)
            .trim()
            .split(/\s+/)
            .filter(Boolean);
    if (!TrainerName.safeParse(name).success) throw new Error(`"${name.slice(0, 40)}" is not a trainer name (a lower-case letter, then letters, digits, "_" or "-")`);
    if (words.length === 0) throw new Error(`trainer "${name}" has no command line (write ${name}=program args…)`);
    if (trainers.has(name)) throw new Error(`trainer "${name}" is listed twice`);
    trainers.set(name, { command: words, worker });
  }
  return trainers;
}

export interface TrainerUser {
  name: string;
  uid: number;
  gid: number;
}

const users = new Map<string, TrainerUser>();

/**
 * The account trainers run as (AGENT_TRAINER_USER): only an agent running as root can switch, and
 * unset or `root` means no switch. Not switched by default because the account must be able to read
 * the trainer and reach the work folder, which under root's home it cannot.
 */
export function trainerUser(configured: string | undefined): TrainerUser | null {
  if (!configured || configured === 'root' || typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  if (!users.has(configured)) users.set(configured, lookUpUser(configured));
  return users.get(configured)!;
}

function lookUpUser(name: string): TrainerUser {
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8', timeout: 5000 }).trim();
  } catch {
    throw new Error(`AGENT_TRAINER_USER ${name}: no such user on this machine`);
  }
  const [, , uid, gid] = line.split(':');
  return { name, uid: Number(uid), gid: Number(gid) };
}

/** What a trainer may see of the agent's environment: what programs need to run, never the agent's credentials. */
const PASSED = /^(PATH|LANG|LANGUAGE|LC_[A-Z]+|TZ|TMPDIR|LD_LIBRARY_PATH|PYTHONPATH|VIRTUAL_ENV|CONDA_PREFIX|(CUDA|NVIDIA|NCCL|TORCH|OMP|MKL|OPENBLAS)_[A-Z0-9_]+)$/;

export function trainerEnvironment(agentEnv: NodeJS.ProcessEnv, extra: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(agentEnv)) if (v !== undefined && (PASSED.test(k) || extra.includes(k))) env[k] = v;
  return env;
}
