import { Injectable, OnModuleDestroy, Optional } from '@nestjs/common';
import { NatsBus } from '@trainyard/messaging';
import { MetricsRegistry } from './metrics.registry';

/** Counts the messages this service dead-lettered, by subject (relative to the installation's prefix). */
@Injectable()
export class MessagingMetrics implements OnModuleDestroy {
  readonly deadLettered;
  private readonly unhook?: () => void;

  constructor(metrics: MetricsRegistry, @Optional() bus?: NatsBus) {
    this.deadLettered = metrics.counter('trainyard_dead_lettered_messages_total', 'Messages sent to the dead-letter subject, by original subject', ['subject']);
    this.unhook = bus?.onDeadLetter((letter) => this.deadLettered.inc({ subject: letter.subject }));
  }

  onModuleDestroy(): void {
    this.unhook?.();
  }
}
