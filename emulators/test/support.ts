import { AzureOpenAI } from 'openai';
import { startEmulators, type EmulatorOptions, type Emulators } from '../src';

export interface RunningEmulators {
  server: Emulators;
  /** The real AzureOpenAI client, pointed at the emulated endpoint. */
  openai: AzureOpenAI;
}

/**
 * Starts the emulators on a free port before the tests of the calling file (or describe block) and stops
 * them after; the fields are there once the tests run.
 */
export function emulatorsForThisFile(options: Omit<EmulatorOptions, 'port'> = {}): RunningEmulators {
  const running = {} as RunningEmulators;
  beforeAll(async () => {
    running.server = await startEmulators({ ...options, port: 0 });
    running.openai = new AzureOpenAI({
      endpoint: running.server.openaiEndpoint,
      apiKey: running.server.apiKey,
      apiVersion: '2024-10-21',
    });
  });
  afterAll(async () => {
    await running.server?.stop();
  });
  return running;
}
