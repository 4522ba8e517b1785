import { startTelemetry } from '@trainyard/telemetry';

startTelemetry('promoter');
