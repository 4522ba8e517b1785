import { Injectable } from '@nestjs/common';

/** Time as an injectable, so schedules, timeouts and backoffs can be driven by tests. */
@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }
}
