import 'reflect-metadata';
import { loadConfigOrExit } from '@trainyard/config';
import { bootstrapService } from '@trainyard/runtime';
import { AppModule } from './app.module';
import { agentEnv } from './config/agent.config';

const config = loadConfigOrExit(agentEnv);
void bootstrapService('trainer-agent', AppModule.forRoot(config), { port: config.PORT, host: config.HOST, config, vars: { agentId: config.AGENT_ID } });
