import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Placement passes without a lock or a transaction (BrokerStore.dispatchState and grant): a pass
 * reads the epoch with what it places by, and its grant applies only while the epoch is still the
 * one it read, moving it on. A pass that lost to another replica's grant (the only thing that takes
 * capacity) grants nothing and reads again. A pass was a transaction of five round trips (BEGIN, the
 * advisory lock, the agents, the requests, the grant, COMMIT); it is now two.
 */
export class BrokerDispatchEpoch1763900000009 implements MigrationInterface {
  name = 'BrokerDispatchEpoch1763900000009';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE broker.dispatch_epoch (one boolean PRIMARY KEY DEFAULT true CHECK (one), n bigint NOT NULL)`);
    await q.query(`INSERT INTO broker.dispatch_epoch (n) VALUES (0)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE broker.dispatch_epoch`);
  }
}
