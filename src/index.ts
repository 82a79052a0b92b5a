import { app } from '@azure/functions';
import { loadConfig } from './config';
import { health } from './functions/health';
import { functionNames } from './names';

// Composition root: configuration is read once, here, and a bad setting stops the app at start with
// one message listing every problem.
const config = loadConfig();

app.setup({ enableHttpStream: false });

app.http(functionNames.health, {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: health,
});

export { config };
