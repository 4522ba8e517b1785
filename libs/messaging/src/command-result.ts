import { HttpException } from '@nestjs/common';
import type { EventMessage } from '@trainyard/contracts';
import { PermanentError } from './errors';
import type { NatsBus } from './nats-bus';

type Command = EventMessage<'run.cancel' | 'job.cancel' | 'job.retry' | 'model.promote' | 'model.rollback'>;

/**
 * Runs an operator's command and tells the bus what became of it (`command.result`, keyed on the
 * command's id). A refusal (an HTTP 4xx from the code the REST API shares, or a PermanentError) is an
 * answer, not a failure; anything else is thrown, so the command comes back and is tried again.
 */
export async function runCommand(bus: NatsBus, command: string, m: Command, run: () => Promise<string>): Promise<void> {
  let ok = true;
  let message: string;
  try {
    message = await run();
  } catch (err) {
    const refused = (err instanceof HttpException && err.getStatus() < 500) || err instanceof PermanentError;
    if (!refused) throw err;
    ok = false;
    message = (err as Error).message;
  }
  await bus.publish('command.result', { commandId: m.id, command, ok, message: message.slice(0, 1000), requestedBy: m.requestedBy }, { id: `${m.id}-result` });
}
