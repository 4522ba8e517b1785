import { startTelemetry } from '@trainyard/telemetry';

startTelemetry('trainer-agent');
