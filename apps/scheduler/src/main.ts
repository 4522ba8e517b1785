import 'reflect-metadata';
import { loadConfigOrExit } from '@trainyard/config';
import { bootstrapService } from '@trainyard/runtime';
import { AppModule } from './app.module';
import { schedulerEnv } from './config/scheduler.config';

const config = loadConfigOrExit(schedulerEnv);
void bootstrapService('scheduler', AppModule.forRoot(config), { port: config.PORT, host: config.HOST, config });
