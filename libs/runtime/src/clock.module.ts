import { Global, Module } from '@nestjs/common';
import { Clock } from './clock';

/** One clock per app, for every feature: a test that moves time (overrideProvider(Clock)) moves it everywhere at once. */
@Global()
@Module({ providers: [Clock], exports: [Clock] })
export class ClockModule {}
