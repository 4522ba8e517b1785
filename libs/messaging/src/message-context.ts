import { BaseRpcContext } from '@nestjs/microservices';
import type { JsMsg } from '@nats-io/jetstream';

/** What a handler may want beyond the payload: the raw message, its subject and how often it was delivered. */
export class JetStreamContext extends BaseRpcContext<[JsMsg]> {
  get message(): JsMsg {
    return this.args[0];
  }
  get subject(): string {
    return this.message.subject;
  }
  get deliveryCount(): number {
    return this.message.info.deliveryCount;
  }
  /** Resets the ack timer, for handlers that run longer than ack_wait. */
  working(): void {
    this.message.working();
  }
}
