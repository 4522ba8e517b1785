import type { NodeSDK } from '@opentelemetry/sdk-node';

let sdk: NodeSDK | undefined;

/**
 * Starts tracing before Nest loads, so HTTP is patched before anything requires it. Off unless
 * OTEL_EXPORTER_OTLP_ENDPOINT is set (and OTEL_SDK_DISABLED is not), so a plain run costs nothing.
 */
export function startTelemetry(serviceName: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (sdk || env.OTEL_SDK_DISABLED === 'true' || !env.OTEL_EXPORTER_OTLP_ENDPOINT) return false;
  // Only when on, and synchronously: the SDK must patch http before this preload returns and Nest loads.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createSdk } = require('./otel-sdk') as typeof import('./otel-sdk');
  sdk = createSdk(serviceName, env);
  sdk.start();
  const stop = () => void sdk?.shutdown().catch(() => undefined);
  process.once('SIGTERM', stop);
  process.once('beforeExit', stop);
  return true;
}

export async function stopTelemetry(): Promise<void> {
  await sdk?.shutdown();
  sdk = undefined;
}
