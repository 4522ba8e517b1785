import 'reflect-metadata';
import { loadConfigOrExit } from '@trainyard/config';
import { bootstrapService } from '@trainyard/runtime';
import { AppModule } from './app.module';
import { notifierEnv } from './config/notifier.config';

const config = loadConfigOrExit(notifierEnv);
void bootstrapService('notifier', AppModule.forRoot(config), { port: config.PORT, host: config.HOST, config });
