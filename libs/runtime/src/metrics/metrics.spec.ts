import { Controller, Injectable, Module, type INestApplication } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventMessage } from '@trainyard/contracts';
import { Consume, MessagingModule, NatsBus } from '@trainyard/messaging';
import { bootTestApp, deleteTestStream, seriesValue, testNatsUrl, testPrefix, waitFor } from '@trainyard/testing';
import { MetricsModule, MetricsRegistry } from '../index';

@Controller()
class ProbeController {
  @Consume('run.requested')
  async onRun(@Payload() _m: EventMessage<'run.requested'>) {}
}

@Injectable()
class ProbeMetrics {
  readonly handled;
  constructor(metrics: MetricsRegistry) {
    this.handled = metrics.counter('trainyard_probe_handled_total', 'Probe counter', ['kind']);
    let reads = 0;
    metrics.sampledGauge({ name: 'trainyard_probe_reads', help: 'Reads at scrape time', sample: async () => [{ labels: {}, value: ++reads }] });
    metrics.sampledGauge({
      name: 'trainyard_probe_broken',
      help: 'A sample that fails',
      sample: async () => {
        throw new Error('table is gone');
      },
    });
  }
}

const appModule = (service: string, prefix: string) => {
  @Module({
    imports: [MessagingModule.forRootAsync({ useFactory: () => ({ serviceName: service, natsUrl: testNatsUrl(), prefix }) }), MetricsModule.forRoot({ service })],
    controllers: [ProbeController],
    providers: [ProbeMetrics],
  })
  class ProbeApp {}
  return ProbeApp;
};

describe('metrics endpoint (real NATS)', () => {
  const prefix = testPrefix('met');
  let a: INestApplication;
  let b: INestApplication;
  const scrape = async (app: INestApplication) => {
    const res = await fetch(`${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain;.*version=0\.0\.4/);
    return res.text();
  };

  beforeAll(async () => {
    // Two apps in one process, as in the tests of the apps: their series must not collide.
    a = await bootTestApp({ imports: [appModule('probe-a', prefix)] });
    b = await bootTestApp({ imports: [appModule('probe-b', `${prefix}b`)] });
    await a.listen(0, '127.0.0.1');
    await b.listen(0, '127.0.0.1');
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await deleteTestStream(prefix);
    await deleteTestStream(`${prefix}b`);
  });

  it('serves process metrics and the app series, labelled with the service, one registry per app', async () => {
    a.get(ProbeMetrics).handled.inc({ kind: 'x' }, 2);
    const [textA, textB] = [await scrape(a), await scrape(b)];
    expect(textA).toMatch(/^process_cpu_user_seconds_total\{service="probe-a"\} /m);
    expect(textA).toMatch(/^nodejs_eventloop_lag_seconds\{service="probe-a"\} /m);
    expect(seriesValue(textA, 'trainyard_probe_handled_total', { kind: 'x', service: 'probe-a' })).toBe(2);
    expect(seriesValue(textB, 'trainyard_probe_handled_total', { kind: 'x' })).toBeUndefined();
    expect(textB).toMatch(/service="probe-b"/);
    expect(textB).not.toMatch(/service="probe-a"/);
  });

  it('reads sampled series at each scrape, and a failing sample does not break the endpoint', async () => {
    const first = seriesValue(await scrape(a), 'trainyard_probe_reads');
    const second = seriesValue(await scrape(a), 'trainyard_probe_reads');
    expect(second).toBe((first ?? 0) + 1);
    expect(await scrape(a)).toMatch(/# TYPE trainyard_probe_broken gauge/);
  });

  it('counts dead-lettered messages by subject, per app', async () => {
    const before = seriesValue(await scrape(a), 'trainyard_dead_lettered_messages_total', { subject: 'run.requested' }) ?? 0;
    const bus = a.get(NatsBus);
    await bus.publishRaw(bus.subject('run.requested'), '{not json', 'malformed-1');
    await bus.publishRaw(bus.subject('run.requested'), JSON.stringify({ schemaVersion: 1, id: 'x', occurredAt: new Date().toISOString(), trigger: 'cli', symbols: ['../etc'] }), 'invalid-1');
    const after = await waitFor(async () => {
      const v = seriesValue(await scrape(a), 'trainyard_dead_lettered_messages_total', { subject: 'run.requested' });
      return v !== undefined && v >= before + 2 ? v : null;
    }, 'the dead-letter counter to move');
    expect(after).toBe(before + 2);
    expect(seriesValue(await scrape(b), 'trainyard_dead_lettered_messages_total', { subject: 'run.requested' })).toBeUndefined();
  });
});
