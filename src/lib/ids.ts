/**
 * Checks for ids that arrive in routes and headers, done before any durable call so that a malformed id
 * never reaches the store as an instance id or entity key.
 */

/** Run ids come from the starter (`crypto.randomUUID()`, with or without dashes). */
const runIdPattern = /^[A-Za-z0-9-]{8,64}$/;

/**
 * User ids come from App Service Authentication (`x-ms-client-principal-id`: an Entra object id, or a
 * provider's numeric or dotted id) or, in dev mode, from whoever sends the header. They become entity
 * keys, so no `@`, `/`, spaces or control characters.
 */
const userIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isValidRunId(id: string): boolean {
  return runIdPattern.test(id);
}

export function isValidUserId(id: string): boolean {
  return userIdPattern.test(id);
}

/** What a person is told when an id is refused. */
export const runIdRule = 'A run id is 8 to 64 letters, digits or dashes.';
export const userIdRule =
  'A user id is 1 to 128 letters, digits, dots, underscores or dashes, starting with a letter or digit.';
