import 'reflect-metadata';
import { loadConfigOrExit } from '@trainyard/config';
import { bootstrapService } from '@trainyard/runtime';
import { AppModule } from './app.module';
import { brokerEnv } from './config/broker.config';

const config = loadConfigOrExit(brokerEnv);
void bootstrapService('gpu-broker', AppModule.forRoot(config), { port: config.PORT, host: config.HOST, config });
