import { startTelemetry } from '@trainyard/telemetry';

startTelemetry('gpu-broker');
