import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EventInput } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { BROKER_CONFIG, type BrokerConfig } from '../config/broker.config';
import type { SshKeyPair } from './ssh-key';
import { VastApi } from './vast-api';

type AlertKind = EventInput<'instance.alert'>['kind'];

/** What every part of renting shares: this process's identity, its SSH key, whether renting is on, and its alerts. */
@Injectable()
export class VastContext {
  private readonly log = new Logger('Vast');
  /** This process's life; instances recorded under another one have lost their tunnel. */
  readonly bootId = randomUUID();
  key: SshKeyPair | null = null;
  private disabledReason: string | null = null;
  private readonly stop = new AbortController();

  constructor(
    private readonly api: VastApi,
    private readonly bus: NatsBus,
    @Inject(BROKER_CONFIG) private readonly cfg: BrokerConfig,
  ) {}

  /** Whether the API key is configured at all. */
  get configured(): boolean {
    return this.api.enabled;
  }

  /** Whether new instances may be rented now. */
  get enabled(): boolean {
    return this.api.enabled && !this.disabledReason && !this.stopping;
  }

  get stopping(): boolean {
    return this.stop.signal.aborted;
  }

  /** Aborted when shutdown begins. */
  get stopSignal(): AbortSignal {
    return this.stop.signal;
  }

  /** Every wait of a launch ends early on shutdown, so the broker stops within seconds at any moment. */
  beginShutdown(): void {
    this.stop.abort('the broker is stopping');
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopping) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.stop.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.stop.signal.addEventListener('abort', done);
    });
  }

  get installation(): string {
    return this.cfg.VAST_INSTALLATION ?? this.cfg.TRAINYARD_PREFIX;
  }

  /** Every label of ours starts so; other installations on the same account are never touched. */
  get labelPrefix(): string {
    return `trainyard.${this.installation}.`;
  }

  async disable(reason: string): Promise<void> {
    if (this.disabledReason) return;
    this.disabledReason = reason;
    this.log.error(`renting on Vast.ai is off: ${reason}`);
    await this.alert('auth_failed', reason, null);
  }

  async alert(kind: AlertKind, message: string, instanceId: number | null): Promise<void> {
    await this.bus.publish('instance.alert', { kind, message, instanceId }).catch((err) => this.log.warn(`alert not sent: ${(err as Error).message}`));
  }
}
