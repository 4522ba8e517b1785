import { Controller, INestApplication } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { EventMessage } from '@trainyard/contracts';
import { deleteTestStream, readStored, testNatsUrl, testPrefix, waitFor } from '@trainyard/testing';
import { Consume, connectJetStream, MessagingModule, NatsBus, PermanentError } from './index';
import { durableName } from './provisioning';

const exporter = new InMemorySpanExporter();
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));

type Seen = { runId: string; at: number; traceId?: string };
const seen: Seen[] = [];
const failOnce = new Set<string>();

@Controller()
class ProbeController {
  @Consume('run.requested')
  async onRun(@Payload() m: EventMessage<'run.requested'>) {
    seen.push({ runId: m.runId ?? '', at: Date.now(), traceId: trace.getActiveSpan()?.spanContext().traceId });
    if (m.runId === 'permanent') throw new PermanentError('refers to nothing we know');
    if (m.runId === 'always-fails') throw new Error('database is down');
    if (m.runId && failOnce.has(m.runId)) {
      failOnce.delete(m.runId);
      throw new Error('transient glitch');
    }
  }
}

const progressSeen: string[] = [];

@Controller()
class ProgressProbeController {
  @Consume('job.progress', { concurrency: 4 })
  async onProgress(@Payload() m: EventMessage<'job.progress'>) {
    progressSeen.push(m.jobId);
  }
}

const request = (runId: string) => ({ runId, trigger: 'event' as const, symbols: ['BTCUSDT'] });

describe('JetStream transport (real NATS)', () => {
  const prefix = testPrefix('msg');
  let app: INestApplication;
  let bus: NatsBus;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        MessagingModule.forRootAsync({
          useFactory: () => ({ serviceName: 'probe', natsUrl: testNatsUrl(), prefix, maxDeliver: 3, retryBaseMs: 400 }),
        }),
      ],
      controllers: [ProbeController, ProgressProbeController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    connectJetStream(app);
    await app.startAllMicroservices();
    await app.init();
    bus = app.get(NatsBus);
  });

  afterAll(async () => {
    await app.close();
    await deleteTestStream(prefix);
  });

  const deliveries = (runId: string) => seen.filter((s) => s.runId === runId);

  it('de-duplicates a publish repeated with the same id', async () => {
    await bus.publish('run.requested', request('dup'), { id: 'same-id' });
    await bus.publish('run.requested', request('dup'), { id: 'same-id' });
    await bus.publish('run.requested', request('dup-marker'));
    await waitFor(() => deliveries('dup-marker').length === 1, 'marker');
    expect(deliveries('dup')).toHaveLength(1);
  });

  it('redelivers after a delay when the handler fails transiently', async () => {
    failOnce.add('flaky');
    await bus.publish('run.requested', request('flaky'));
    await waitFor(() => deliveries('flaky').length === 2, 'redelivery');
    const [first, second] = deliveries('flaky');
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(350);
  });

  it('dead-letters malformed and invalid messages with the reason and keeps consuming', async () => {
    await bus.publishRaw(bus.subject('run.requested'), '{not json', 'bad-json');
    await bus.publishRaw(bus.subject('run.requested'), JSON.stringify({ schemaVersion: 1, id: 'x', occurredAt: new Date().toISOString(), trigger: 'cli', symbols: ['../etc'] }), 'bad-schema');
    await bus.publishRaw(bus.subject('run.requested'), JSON.stringify({ schemaVersion: 9, id: 'y' }), 'bad-version');
    await bus.publishRaw(bus.subject('run.requested'), JSON.stringify({ schemaVersion: 'V'.repeat(200_000), id: 'z' }), 'huge-version');
    await bus.publish('run.requested', request('after-bad'));
    await waitFor(() => deliveries('after-bad').length === 1, 'the good message after bad ones');
    const letters = await waitFor(async () => {
      const l = await readStored(prefix, 'dlq.run.requested');
      return l.length >= 4 ? l : null;
    }, 'dead letters');
    const reasons = letters.map((l) => l.data.reason).join('\n');
    expect(reasons).toMatch(/malformed JSON/);
    expect(reasons).toMatch(/symbols/);
    expect(reasons).toMatch(/unsupported schemaVersion 9/);
    // The sender's value is recognisable in the reason, never echoed whole.
    expect(letters[3]?.data.reason).toMatch(/^unsupported schemaVersion "VVVV.*… \(200002 characters\)/);
    expect(letters[3]?.data.reason.length).toBeLessThan(200);
    expect(letters[0]?.data).toMatchObject({ subject: `${prefix}.run.requested`, data: '{not json', consumer: expect.stringContaining('probe') });
  });

  it('dead-letters a permanent failure at once, and a transient one on its last delivery', async () => {
    await bus.publish('run.requested', request('permanent'));
    await bus.publish('run.requested', request('always-fails'));
    const letters = await waitFor(
      async () => {
        const l = (await readStored(prefix, 'dlq.run.requested')).filter((x) => /permanent|always-fails/.test(x.data.data));
        return l.length >= 2 ? l : null;
      },
      'dead letters of failing handlers',
      20_000,
    );
    expect(deliveries('permanent')).toHaveLength(1);
    expect(deliveries('always-fails')).toHaveLength(3);
    const byRun = Object.fromEntries(letters.map((l) => [JSON.parse(l.data.data).runId, l.data]));
    expect(byRun['permanent'].reason).toMatch(/PermanentError: refers to nothing/);
    expect(byRun['always-fails'].reason).toMatch(/last delivery \(3\/3\).*database is down/);
    expect(byRun['always-fails'].deliveryCount).toBe(3);
  });

  it('carries the trace context from publisher to handler', async () => {
    const tracer = trace.getTracer('test');
    const root = tracer.startSpan('request');
    await context.with(trace.setSpan(context.active(), root), () => bus.publish('run.requested', request('traced')));
    root.end();
    await waitFor(() => deliveries('traced').length === 1, 'traced delivery');
    expect(deliveries('traced')[0]?.traceId).toBe(root.spanContext().traceId);
    const names = exporter
      .getFinishedSpans()
      .filter((s) => s.spanContext().traceId === root.spanContext().traceId)
      .map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining([`publish ${prefix}.run.requested`, `process ${prefix}.run.requested`]));
  });

  it('asks the server for more messages once per eight, not once per message or two', async () => {
    const durable = durableName('probe', 'job.progress');
    const pulls = bus.nc.subscribe(`$JS.API.CONSUMER.MSG.NEXT.${bus.streamName}.${durable}`);
    let asked = 0;
    void (async () => {
      for await (const _ of pulls) asked++;
    })();
    await bus.nc.flush();
    const n = 64;
    await Promise.all(Array.from({ length: n }, (_, i) => bus.publish('job.progress', { jobId: `pull-${i}`, runId: 'pulls', symbol: 'BTCUSDT', attempt: 1, percent: 50 })));
    await waitFor(() => progressSeen.filter((id) => id.startsWith('pull-')).length === n, 'every progress handled');
    pulls.unsubscribe();
    // A buffer of 16 asked again at half: about n / 8 pulls (nats.js's default asked every other message: n / 2).
    expect(asked).toBeGreaterThan(0);
    expect(asked).toBeLessThanOrEqual(n / 8 + 2);
  });

  it('refuses to publish a payload that breaks its schema', async () => {
    await expect(bus.publish('run.requested', { trigger: 'cli', symbols: ['bad/sym'] } as never)).rejects.toThrow(/refusing to publish invalid run.requested: symbols/);
  });
});
