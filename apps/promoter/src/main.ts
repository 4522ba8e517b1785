import 'reflect-metadata';
import { loadConfigOrExit } from '@trainyard/config';
import { bootstrapService } from '@trainyard/runtime';
import { AppModule } from './app.module';
import { promoterEnv } from './config/promoter.config';

const config = loadConfigOrExit(promoterEnv);
void bootstrapService('promoter', AppModule.forRoot(config), { port: config.PORT, host: config.HOST, config });
