import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

/** TEST_NATS_URL may name a cluster's servers, separated by commas. */
export const testNatsUrl = () => process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/** A subject prefix (and so a stream) of its own for each test file, so runs never collide. */
export const testPrefix = (label = 't') => `${label}${randomBytes(4).toString('hex')}`.toLowerCase();

/** Reads every message stored under `<prefix>.<relative>` (a filter, wildcards allowed) so far; `natsUrl`: a server of the test's own. */
export async function readStored(prefix: string, relativeFilter: string, natsUrl = testNatsUrl()): Promise<{ subject: string; data: any }[]> {
  const nc = await connect({ servers: natsUrl.split(',') });
  try {
    const jsm = await jetstreamManager(nc);
    const stream = prefix.toUpperCase().replace(/[^A-Z0-9_-]/g, '_');
    const js = jsm.jetstream();
    const consumer = await js.consumers.get(stream, { filter_subjects: `${prefix}.${relativeFilter}` });
    const info = await consumer.info(true);
    const out: { subject: string; data: any }[] = [];
    let pending = info.num_pending;
    while (pending > 0) {
      const batch = await consumer.fetch({ max_messages: Math.min(pending, 256), expires: 2000 });
      let got = 0;
      for await (const m of batch) {
        out.push({ subject: m.subject, data: JSON.parse(m.string()) });
        got++;
      }
      if (got === 0) break;
      pending -= got;
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** Removes a test's stream and the KV buckets its services made (their streams are named KV_<bucket>); `natsUrl`: a server of the test's own. */
export async function deleteTestStream(prefix: string, natsUrl = testNatsUrl()): Promise<void> {
  const nc = await connect({ servers: natsUrl.split(',') });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(prefix.toUpperCase().replace(/[^A-Z0-9_-]/g, '_')).catch(() => undefined);
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(`KV_${prefix}-`)) await jsm.streams.delete(name).catch(() => undefined);
    }
  } finally {
    await nc.close();
  }
}
