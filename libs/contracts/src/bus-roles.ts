import type { EventName } from './subjects';
import type { QueryName } from './queries';

/**
 * Who may do what on the bus. Each service, the agents, and two kinds of outside client get a
 * role; the generated NATS configuration (`trainyard nats-config`) turns each into subject
 * permissions, so a credential can publish only the events its role publishes.
 */
export const BUS_ROLES = ['scheduler', 'broker', 'promoter', 'notifier', 'agent', 'requester', 'operator'] as const;
export type BusRole = (typeof BUS_ROLES)[number];

/** The services' roles: they consume with durable consumers named `<role>__…` and write dead letters. */
export const SERVICE_ROLES = ['scheduler', 'broker', 'promoter', 'notifier', 'agent'] as const satisfies readonly BusRole[];
export type ServiceRole = (typeof SERVICE_ROLES)[number];

/** The roles that may publish each event. An event no role lists is published by nobody. */
export const PUBLISHERS: Record<EventName, readonly BusRole[]> = {
  'run.requested': ['scheduler', 'notifier', 'requester', 'operator'],
  'run.planned': ['scheduler'],
  'run.started': ['scheduler'],
  'run.completed': ['scheduler'],
  'run.cancel': ['notifier', 'operator'],
  'study.requested': ['requester', 'operator'],
  'job.requested': ['scheduler', 'broker'],
  'job.leased': ['broker'],
  'agent.assign': ['broker'],
  'job.cancel': ['scheduler', 'broker', 'notifier', 'operator'],
  'job.retry': ['notifier', 'operator'],
  'job.started': ['agent'],
  'job.progress': ['agent'],
  'job.checkpointed': ['agent'],
  'job.resumed': ['agent'],
  'job.succeeded': ['agent'],
  'job.failed': ['agent'],
  'job.cancelled': ['agent', 'broker'],
  'job.retrying': ['scheduler'],
  'job.gave_up': ['scheduler'],
  'agent.heartbeat': ['agent'],
  'lease.released': ['broker'],
  'lease.lost': ['broker'],
  'model.registered': ['promoter'],
  'model.promoted': ['promoter'],
  'model.rejected': ['promoter'],
  'model.rolled_back': ['promoter'],
  'model.promote': ['notifier', 'operator'],
  'model.rollback': ['notifier', 'operator'],
  'storage.quota_warning': ['promoter'],
  'command.result': ['scheduler', 'promoter', 'broker'],
  'instance.created': ['broker'],
  'instance.ready': ['broker'],
  'instance.destroyed': ['broker'],
  'instance.transitioned': ['broker'],
  'instance.alert': ['broker'],
};

/** The queries each role answers and asks. */
export const QUERIES: Record<BusRole, { answers: readonly QueryName[]; asks: readonly QueryName[] }> = {
  scheduler: { answers: ['runs.active', 'runs.recent', 'runs.find', 'runs.jobs', 'runs.costs', 'studies.find'], asks: [] },
  broker: { answers: ['leases.active'], asks: [] },
  promoter: { answers: ['models.versions', 'models.of_run'], asks: ['runs.jobs'] },
  notifier: { answers: [], asks: ['runs.active', 'runs.recent', 'runs.find', 'runs.costs', 'studies.find', 'leases.active', 'models.versions', 'models.of_run'] },
  agent: { answers: [], asks: [] },
  requester: { answers: [], asks: [] },
  operator: { answers: [], asks: ['runs.active', 'runs.recent', 'runs.find', 'runs.costs', 'studies.find', 'leases.active', 'models.versions', 'models.of_run'] },
};

/** The capacity bucket: the broker writes it, the scheduler and the notifier read it. */
export const CAPACITY_WRITERS: readonly BusRole[] = ['broker'];
export const CAPACITY_READERS: readonly BusRole[] = ['broker', 'scheduler', 'notifier'];

/** Events an outside role may watch live (core subscription, no JetStream API). */
export const WATCHES: Record<'requester' | 'operator', readonly string[]> = {
  requester: ['run.>'],
  operator: ['run.>', 'job.>', 'model.>', 'command.result'],
};
