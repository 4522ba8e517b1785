import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { resourceFromAttributes } from '@opentelemetry/resources';

/** The tracing SDK, apart so that it is loaded (some 470 modules) only when tracing is on. */
export function createSdk(serviceName: string, env: NodeJS.ProcessEnv): NodeSDK {
  return new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? serviceName, 'service.namespace': 'trainyard' }),
    traceExporter: new OTLPTraceExporter(),
    // Scrapes and health probes every few seconds would bury the runs' traces.
    instrumentations: [new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => /^\/(metrics|health)(\/|\?|$)/.test(req.url ?? '') })],
  });
}
