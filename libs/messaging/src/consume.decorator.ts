import { applyDecorators, UseFilters } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import type { EventName } from '@trainyard/contracts';
import { RethrowRpcErrors } from './rethrow-rpc-errors.filter';

export interface ConsumeOptions {
  /** Replaces the event's filter, e.g. one agent's own `agent.<id>.assign`. Relative to the prefix. */
  filter?: string;
  /** Durable name suffix when one service consumes the same event twice. */
  durable?: string;
  /** Messages handled at once; 1 keeps them in stream order. */
  concurrency?: number;
  ackWaitMs?: number;
  maxDeliver?: number;
}

/** Marks a controller method as the handler of an event, delivered at least once from a durable consumer. */
export const Consume = (event: EventName, options: ConsumeOptions = {}) =>
  applyDecorators(EventPattern(event, { trainyard: options }), UseFilters(RethrowRpcErrors));
