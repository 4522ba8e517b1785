import { Controller, INestApplication, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createHash } from 'node:crypto';
import type { EventMessage } from '@trainyard/contracts';
import { deleteTestStream, readStored, testNatsUrl, testPrefix, waitFor } from '@trainyard/testing';
import { Consume, connectJetStream, MessagingModule, NatsBus, NoStreamError, type DeadLetterNotice } from './index';

const handled: { runId: string; at: number }[] = [];

@Controller()
class FloodProbe {
  @Consume('run.requested')
  async onRun(@Payload() m: EventMessage<'run.requested'>) {
    handled.push({ runId: m.runId ?? '', at: Date.now() });
  }
}

const request = (runId: string) => ({ runId, trigger: 'event' as const, symbols: ['BTCUSDT'] });
const ACK_WAIT_MS = 1500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('dead letters and termination (real NATS, any server version)', () => {
  const prefix = testPrefix('dl');
  let app: INestApplication;
  let bus: NatsBus;
  const notices: DeadLetterNotice[] = [];
  const errorLog = jest.spyOn(Logger.prototype, 'error');

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        MessagingModule.forRootAsync({
          useFactory: () => ({ serviceName: 'dlprobe', natsUrl: testNatsUrl(), prefix, maxDeliver: 4, retryBaseMs: 200, ackWaitMs: ACK_WAIT_MS }),
        }),
      ],
      controllers: [FloodProbe],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    connectJetStream(app);
    await app.startAllMicroservices();
    await app.init();
    bus = app.get(NatsBus);
    bus.onDeadLetter((n) => notices.push(n));
  });

  afterAll(async () => {
    errorLog.mockRestore();
    await app.close();
    await deleteTestStream(prefix);
  });

  const ackPending = async () => {
    let pending = 0;
    for await (const c of bus.jsm.consumers.list(bus.streamName)) pending += c.num_ack_pending;
    return pending;
  };
  const lettersFor = async (marker: string) => (await readStored(prefix, 'dlq.run.requested')).filter((l) => l.data.data.includes(marker));
  /** The "dead-lettered" log lines for the messages these letters came from (a letter's id names the message's seq). */
  const deadLetteredLogs = (letters: { data: { id: string } }[]) => {
    const seqs = new Set(letters.map((l) => Number(/^dlq-[^-]+-(\d+)-/.exec(l.data.id)?.[1])));
    return errorLog.mock.calls.filter(([entry]) => {
      const e = entry as { event?: string; seq?: number };
      return e?.event === 'message_dead_lettered' && seqs.has(e.seq ?? -1);
    });
  };

  it('terminates every dead-lettered message for good: more bad messages than max_ack_pending do not stall the good one, and each yields one letter', async () => {
    const bad = 24; // max_ack_pending is 16
    for (let i = 0; i < bad; i++) await bus.publishRaw(bus.subject('run.requested'), `{flood-${i} not json`, `flood-${i}`);
    const sent = Date.now();
    await bus.publish('run.requested', request('after-flood'));
    const good = await waitFor(() => handled.find((h) => h.runId === 'after-flood'), 'the good message after the flood', 4000);
    expect(good.at - sent).toBeLessThan(ACK_WAIT_MS);

    // Past two ack waits: a message terminated in a form the server ignores would have come back by now.
    await sleep(2 * ACK_WAIT_MS + 500);
    const letters = await lettersFor('{flood-');
    expect(letters).toHaveLength(bad);
    expect(new Set(letters.map((l) => l.data.data)).size).toBe(bad);
    expect(letters.every((l) => l.data.deliveryCount === 1)).toBe(true);
    expect(notices.filter((n) => /malformed JSON/.test(n.reason))).toHaveLength(bad);
    expect(deadLetteredLogs(letters)).toHaveLength(bad);
    expect(await ackPending()).toBe(0);
  });

  it('dead-letters a message near max_payload with its payload truncated, a sha256 and the original size', async () => {
    const maxPayload = bus.nc.info!.max_payload;
    // Quotes and control characters double or sextuple when JSON-escaped inside the letter.
    const unit = 'big "quoted" \\ \u0001 é ';
    const body = `{"runId":"huge-${'x'}", ${unit.repeat(Math.floor((maxPayload - 4096) / Buffer.byteLength(unit)))}`;
    const bytes = Buffer.from(body);
    expect(bytes.length).toBeGreaterThan(maxPayload - 8192);
    await bus.publishRaw(bus.subject('run.requested'), body, 'huge-bad');
    await bus.publish('run.requested', request('after-huge'));
    await waitFor(() => handled.find((h) => h.runId === 'after-huge'), 'the good message after the huge one', 4000);

    const letter = await waitFor(async () => (await lettersFor('{"runId":"huge-'))[0], 'the letter of the huge message', 5000);
    expect(letter.data.truncated).toBe(true);
    expect(letter.data.dataBytes).toBe(bytes.length);
    expect(letter.data.dataSha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(body.startsWith(letter.data.data)).toBe(true);
    expect(letter.data.data.length).toBeGreaterThan(1000);
    expect(Buffer.byteLength(JSON.stringify(letter.data))).toBeLessThanOrEqual(maxPayload);
    expect(letter.data.reason).toMatch(/malformed JSON/);

    await sleep(2 * ACK_WAIT_MS);
    expect(await lettersFor('{"runId":"huge-')).toHaveLength(1);
    expect(notices.filter((n) => n.deliveryCount === 1 && /malformed/.test(n.reason)).length).toBe(24 + 1);
    expect(await ackPending()).toBe(0);
  });

  it('keeps a small letter whole, with its size and sha256', async () => {
    await bus.publishRaw(bus.subject('run.requested'), '{small not json', 'small-bad');
    const letter = await waitFor(async () => (await lettersFor('{small not json'))[0], 'the small letter', 5000);
    expect(letter.data).toMatchObject({ data: '{small not json', dataBytes: 15, dataSha256: createHash('sha256').update('{small not json').digest('hex') });
    expect(letter.data.truncated).toBeUndefined();
  });

  it('when the dead letter cannot be stored, logs no "dead-lettered", naks, and letters the message once on a later delivery', async () => {
    const realPublish = bus.publishRaw.bind(bus);
    let refused = 0;
    const spy = jest.spyOn(bus, 'publishRaw').mockImplementation(async (subject, ...rest) => {
      if (subject.includes('.dlq.') && refused < 3) {
        refused++;
        throw new Error('simulated: the dead letter could not be stored');
      }
      return realPublish(subject, ...rest);
    });
    try {
      await bus.publishRaw(bus.subject('run.requested'), '{unlucky not json', 'unlucky');
      const letters = await waitFor(
        async () => {
          const l = await lettersFor('{unlucky');
          return l.length ? l : null;
        },
        'the letter once storing works again',
        10_000,
      );
      expect(refused).toBe(3);
      expect(letters).toHaveLength(1);
      expect(letters[0]?.data.deliveryCount).toBe(2);
      expect(deadLetteredLogs(letters)).toHaveLength(1);
      expect(notices.filter((n) => n.deliveryCount === 2)).toHaveLength(1);
      await sleep(2 * ACK_WAIT_MS);
      expect(await lettersFor('{unlucky')).toHaveLength(1);
      expect(await ackPending()).toBe(0);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('publishing where no stream stores the subject (real NATS)', () => {
  const prefix = testPrefix('nostream');
  let bus: NatsBus;

  beforeAll(async () => {
    bus = await NatsBus.connect({ serviceName: 'nostream-probe', natsUrl: testNatsUrl(), prefix });
  });

  afterAll(async () => {
    await bus.onApplicationShutdown();
    await deleteTestStream(prefix);
  });

  it('fails loudly, naming the subject and the stream, when the stream is gone', async () => {
    const nc = await connect({ servers: testNatsUrl() });
    try {
      await (await jetstreamManager(nc)).streams.delete(bus.streamName);
    } finally {
      await nc.close();
    }
    const err = await bus.publish('run.requested', request('not-lost')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoStreamError);
    await expect(bus.publish('run.requested', request('not-lost'))).rejects.toThrow(new RegExp(`no JetStream stream stores ${prefix}\\.run\\.requested.*${bus.streamName}`));
  });

  it('fails loudly for a subject outside every stream', async () => {
    await expect(bus.publishRaw(`${prefix}-elsewhere.x`, '{}')).rejects.toThrow(/no JetStream stream stores .*-elsewhere\.x.*not published/);
  });
});
