import { startTelemetry } from '@trainyard/telemetry';

startTelemetry('scheduler');
