/**
 * The URLs of the Durable Task extension's HTTP API on this host: its base paths, the links a started
 * instance is answered with, and what a durable client input binding receives.
 */

export const publicBasePath = '/runtime/webhooks/durabletask';
export const rpcBasePath = '/durabletask';

/** What a durable client input binding receives: the URL templates of this host's management API. */
export function durableClientBindingData(origin: string, hubName: string): Record<string, unknown> {
  const base = `${origin}${publicBasePath}`;
  const query = `taskHub=${encodeURIComponent(hubName)}&connection=Storage`;
  return {
    taskHubName: hubName,
    connectionName: 'Storage',
    creationUrls: {
      createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?${query}`,
      createAndWaitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${query}`,
    },
    managementUrls: managementUrls(base, 'INSTANCEID', query),
    baseUrl: base,
    requiredQueryStringParameters: '',
    rpcBaseUrl: `${origin}${rpcBasePath}/`,
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
