import { startTelemetry } from '@trainyard/telemetry';

startTelemetry('notifier');
