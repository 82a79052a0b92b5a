import type { HttpHandler } from '@azure/functions';

/** Liveness for load balancers and `npm start`: answers once the app has loaded its configuration. */
export const health: HttpHandler = () => Promise.resolve({ status: 200, jsonBody: { status: 'ok' } });
