/**
 * The URLs of the Durable Task extension's HTTP API on this host: its base paths, the links a started
 * instance is answered with, and what a durable client input binding receives.
 */

export const publicBasePath = '/runtime/webhooks/durabletask';
export const rpcBasePath = '/durabletask';

/**
 * What a durable client input binding receives: the URL templates of this host's management API. With a
 * system key (`--auth azure`) the URLs carry it as `code=`, as the extension's do in Azure, and the rpc
 * base may be on another origin (the extension's own loopback port).
 */
export function durableClientBindingData(
  origin: string,
  hubName: string,
  options: { rpcOrigin?: string; systemKey?: string | undefined } = {},
): Record<string, unknown> {
  const base = `${origin}${publicBasePath}`;
  const code = options.systemKey ? `code=${encodeURIComponent(options.systemKey)}` : '';
  const query = `taskHub=${encodeURIComponent(hubName)}&connection=Storage${code ? `&${code}` : ''}`;
  return {
    taskHubName: hubName,
    connectionName: 'Storage',
    creationUrls: {
      createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?${query}`,
      createAndWaitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${query}`,
    },
    managementUrls: managementUrls(base, 'INSTANCEID', query),
    baseUrl: base,
    requiredQueryStringParameters: code,
    rpcBaseUrl: `${options.rpcOrigin ?? origin}${rpcBasePath}/`,
  };
}

/** The management links of one instance (or of `INSTANCEID`, the template a client fills in). */
export function managementUrls(base: string, id: string, query: string): Record<string, string> {
  const instance = `${base}/instances/${id === 'INSTANCEID' ? id : encodeURIComponent(id)}`;
  return {
    id,
    statusQueryGetUri: `${instance}?${query}`,
    sendEventPostUri: `${instance}/raiseEvent/{eventName}?${query}`,
    terminatePostUri: `${instance}/terminate?reason={text}&${query}`,
    rewindPostUri: `${instance}/rewind?reason={text}&${query}`,
    purgeHistoryDeleteUri: `${instance}?${query}`,
    restartPostUri: `${instance}/restart?${query}`,
    suspendPostUri: `${instance}/suspend?reason={text}&${query}`,
    resumePostUri: `${instance}/resume?reason={text}&${query}`,
  };
}
