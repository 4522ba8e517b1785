import { applyDecorators, UseFilters } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import type { EventName } from '@trainyard/contracts';
import { RethrowRpcErrors } from './rethrow-rpc-errors.filter';

export interface ConsumeOptions {
  /** Replaces the event's filter, relative to the prefix; `{name}` is filled from the transport's vars. */
  filter?: string;
  /** Names the durable instead of the filter (`{name}` filled likewise), e.g. one per agent. */
  durable?: string;
  /** Messages handled at once; 1 keeps them in stream order. */
  concurrency?: number;
  ackWaitMs?: number;
  maxDeliver?: number;
}

/** Marks a controller method as the handler of an event, delivered at least once from a durable consumer. */
export const Consume = (event: EventName, options: ConsumeOptions = {}) => applyDecorators(EventPattern(event, { trainyard: options }), UseFilters(RethrowRpcErrors));
