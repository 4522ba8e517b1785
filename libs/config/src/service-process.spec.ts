import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { natsServerEnv, SERVICE_NODE_FLAGS, serviceNodeArgs } from './service-process';

describe('how a service process starts', () => {
  it('runs the flags, then the tracing, then main', () => {
    expect(serviceNodeArgs('/app/apps/scheduler/dist')).toEqual([...SERVICE_NODE_FLAGS, '--require', '/app/apps/scheduler/dist/instrumentation.js', '/app/apps/scheduler/dist/main.js']);
  });

  it('starts the image the same way, so containers get the same flags', () => {
    const dockerfile = readFileSync(join(__dirname, '../../../Dockerfile'), 'utf8');
    const cmd = /^CMD .*$/m.exec(dockerfile)?.[0] ?? '';
    expect(cmd).toContain(`exec node ${SERVICE_NODE_FLAGS.join(' ')} --require ./apps/$APP/dist/instrumentation.js ./apps/$APP/dist/main.js`);
  });

  it("starts a stack's own nats-server on one Go thread unless GOMAXPROCS is set", () => {
    expect(natsServerEnv({})).toEqual({ GOMAXPROCS: '1' });
    expect(natsServerEnv({ GOMAXPROCS: '' })).toEqual({ GOMAXPROCS: '1' });
    expect(natsServerEnv({ GOMAXPROCS: '4' })).toEqual({ GOMAXPROCS: '4' });
  });
});
