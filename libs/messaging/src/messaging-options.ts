export interface MessagingOptions {
  /** Names durable consumers and the producer in traces. */
  serviceName: string;
  /** One server, or several separated by commas (a cluster). */
  natsUrl: string;
  /** Replicas of the stream; 3 on a cluster so that losing one node loses nothing. */
  streamReplicas?: number;
  /** Follow the servers a cluster announces (default); off behind a tunnel, where only natsUrl is reachable. */
  discoverServers?: boolean;
  /** How this client proves its role: an nkey seed, or a user and password; none on an open server. */
  auth?: { nkeySeed?: string; user?: string; password?: string };
  /**
   * Create or update the stream at connect (services, default). Off for outside clients, whose
   * role may not touch the JetStream API: they only publish and watch.
   */
  provision?: boolean;
  /** Subject prefix; the stream is named after it, so tests and installations never collide. */
  prefix: string;
  /** Deliveries before a failing message goes to the dead-letter subject. */
  maxDeliver?: number;
  /** First nak delay; doubles with each delivery up to retryMaxMs. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** How long a delivered message may go unacknowledged before it is delivered again (after a crash, say). */
  ackWaitMs?: number;
  /** Stream retention in days. */
  maxAgeDays?: number;
  /** Publish de-duplication window. */
  duplicateWindowMinutes?: number;
}

export const MESSAGING_OPTIONS = Symbol('MESSAGING_OPTIONS');

export const streamNameFor = (prefix: string) => prefix.toUpperCase().replace(/[^A-Z0-9_-]/g, '_');

/** The servers in a NATS_URL, in order. */
export const natsServers = (natsUrl: string): string[] =>
  natsUrl
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
