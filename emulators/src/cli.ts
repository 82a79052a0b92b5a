/**
 * `npm run emulators -- [--port 7072] [--latency-ms N] [--chunk-delay-ms N] [--agent-run-ms N] [--host 127.0.0.1]`
 * Runs the AI emulators until SIGINT or SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startEmulators } from './index';

function nonNegative(name: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new Error(`--${name} must be a number, 0 or more, got "${raw}".`);
  }
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '7072' },
      host: { type: 'string', default: '127.0.0.1' },
      'latency-ms': { type: 'string', default: '0' },
      'chunk-delay-ms': { type: 'string', default: '0' },
      'agent-run-ms': { type: 'string', default: '1500' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(
      'Usage: npm run emulators -- [--port 7072] [--latency-ms 0] [--chunk-delay-ms 0] [--agent-run-ms 1500] [--host 127.0.0.1] [--verbose]',
    );
    return;
  }
  const port = nonNegative('port', values.port);
  if (!Number.isInteger(port) || port > 65535)
    throw new Error(`--port must be a port number (0-65535), got "${values.port}".`);

  const emulators = await startEmulators({
    port,
    host: values.host,
    latencyMs: nonNegative('latency-ms', values['latency-ms']),
    streamChunkDelayMs: nonNegative('chunk-delay-ms', values['chunk-delay-ms']),
    agentRunDurationMs: nonNegative('agent-run-ms', values['agent-run-ms']),
    ...(values.verbose ? { log: (line: string) => console.log(line) } : {}),
  });
  console.log(
    `AI emulators at ${emulators.url}  AZURE_OPENAI_ENDPOINT=${emulators.openaiEndpoint}  ` +
      `AZURE_AI_PROJECT_ENDPOINT=${emulators.projectEndpoint}  AZURE_OPENAI_API_KEY=${emulators.apiKey}  (control API: ${emulators.url}/_emulator/)`,
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping the AI emulators.`);
    emulators.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error instanceof Error ? error.message : error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
