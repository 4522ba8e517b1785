import { z } from 'zod';
import * as E from './events';

export interface EventContract<S extends z.ZodType = z.ZodType, N extends string = string> {
  /** Logical name, also the Nest message pattern of its handlers. */
  readonly name: N;
  readonly schema: S;
  /** Subject below the installation prefix for one message. */
  subject(message: z.output<S>): string;
  /** Subject filter below the prefix that matches every message of this event. */
  readonly filter: string;
  /** Who may publish it: commands and events other systems may publish are public. */
  readonly public: boolean;
}

function contract<const N extends string, S extends z.ZodType>(name: N, schema: S, opts: { subject?: (m: z.output<S>) => string; filter?: string; public?: boolean } = {}): EventContract<S, N> {
  return {
    name,
    schema,
    subject: opts.subject ?? (() => name),
    filter: opts.filter ?? name,
    public: opts.public ?? false,
  };
}

/** Every message on the bus. Subjects are relative to the prefix (default `trainyard`). */
export const Events = {
  RunRequested: contract('run.requested', E.RunRequested, { public: true }),
  RunPlanned: contract('run.planned', E.RunPlanned),
  RunStarted: contract('run.started', E.RunStarted),
  RunCompleted: contract('run.completed', E.RunCompleted),
  JobRequested: contract('job.requested', E.JobRequested),
  JobLeased: contract('job.leased', E.JobLeased),
  AgentAssign: contract('agent.assign', E.AgentAssign, {
    subject: (m) => `agent.${m.lease.agentId}.assign`,
    filter: 'agent.*.assign',
  }),
  JobCancel: contract('job.cancel', E.JobCancel, { subject: (m) => `job.${m.jobId}.cancel`, filter: 'job.*.cancel', public: true }),
  JobStarted: contract('job.started', E.JobStarted),
  JobProgress: contract('job.progress', E.JobProgress),
  JobCheckpointed: contract('job.checkpointed', E.JobCheckpointed),
  JobResumed: contract('job.resumed', E.JobResumed),
  JobSucceeded: contract('job.succeeded', E.JobSucceeded),
  JobFailed: contract('job.failed', E.JobFailed),
  JobCancelled: contract('job.cancelled', E.JobCancelled),
  JobRetrying: contract('job.retrying', E.JobRetrying),
  JobGaveUp: contract('job.gave_up', E.JobGaveUp),
  AgentHeartbeat: contract('agent.heartbeat', E.AgentHeartbeat),
  LeaseReleased: contract('lease.released', E.LeaseReleased),
  LeaseLost: contract('lease.lost', E.LeaseLost),
  ModelRegistered: contract('model.registered', E.ModelRegistered),
  ModelPromoted: contract('model.promoted', E.ModelPromoted),
  ModelRejected: contract('model.rejected', E.ModelRejected),
  ModelRolledBack: contract('model.rolled_back', E.ModelRolledBack),
  StorageQuotaWarning: contract('storage.quota_warning', E.StorageQuotaWarning),
  RunCancel: contract('run.cancel', E.RunCancel, { public: true }),
  StudyRequested: contract('study.requested', E.StudyRequested, { public: true }),
  JobRetry: contract('job.retry', E.JobRetry, { public: true }),
  ModelPromote: contract('model.promote', E.ModelPromote, { public: true }),
  ModelRollback: contract('model.rollback', E.ModelRollback, { public: true }),
  CommandResult: contract('command.result', E.CommandResult),
  InstanceCreated: contract('instance.created', E.InstanceCreated),
  InstanceReady: contract('instance.ready', E.InstanceReady),
  InstanceDestroyed: contract('instance.destroyed', E.InstanceDestroyed),
  InstanceTransitioned: contract('instance.transitioned', E.InstanceTransitioned),
  InstanceAlert: contract('instance.alert', E.InstanceAlert),
} as const;

export type Events = typeof Events;
export type EventKey = keyof Events;
export type EventName = Events[EventKey]['name'];

type ByName = { [K in EventKey as Events[K]['name']]: Events[K] };

/** The validated message a handler receives. */
export type EventMessage<N extends EventName> = z.output<ByName[N]['schema']>;
/** What a publisher passes: envelope fields are filled in by the bus unless given. */
export type EventInput<N extends EventName> = Omit<z.input<ByName[N]['schema']>, 'schemaVersion' | 'id' | 'occurredAt'>;

const byName = new Map<string, EventContract>(Object.values(Events).map((c) => [c.name, c as EventContract]));

export function contractFor(name: string): EventContract {
  const c = byName.get(name);
  if (!c) throw new Error(`unknown event "${name}"`);
  return c;
}

export function allContracts(): EventContract[] {
  return [...byName.values()];
}

export const DEAD_LETTER_PREFIX = 'dlq';
export const deadLetterSubject = (subject: string) => `${DEAD_LETTER_PREFIX}.${subject}`;
