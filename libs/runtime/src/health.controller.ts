import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { NatsBus } from '@trainyard/messaging';
import { ReadinessRegistry } from './readiness.registry';

const CHECK_TIMEOUT_MS = 3000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref())]);
}

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly registry: ReadinessRegistry,
    private readonly bus: NatsBus,
  ) {}

  /** The process answers: restart it if not. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([async () => this.indicators.check('process').up({ pid: process.pid })]);
  }

  /** It can do its work: the bus is connected with its stream, and every registered dependency answers. */
  @Get('ready')
  @HealthCheck()
  ready() {
    const nats = async () => {
      const s = this.indicators.check('nats');
      if (this.bus.nc.isClosed()) return s.down({ message: 'connection closed' });
      try {
        await withTimeout(this.bus.jsm.streams.info(this.bus.streamName), CHECK_TIMEOUT_MS);
        return s.up({ stream: this.bus.streamName });
      } catch (err) {
        return s.down({ message: String((err as Error).message ?? err) });
      }
    };
    const registered = this.registry.entries().map(([name, check]) => async () => {
      const s = this.indicators.check(name);
      try {
        return s.up((await withTimeout(check(), CHECK_TIMEOUT_MS)) ?? {});
      } catch (err) {
        return s.down({ message: String((err as Error).message ?? err) });
      }
    });
    return this.health.check([nats, ...registered]);
  }
}
