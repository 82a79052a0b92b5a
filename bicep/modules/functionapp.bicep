// The Function App on the Flex Consumption plan (FC1), Node.js 22, running as the user-assigned identity.
// This module is the one place where app settings are written: test/infra/settings-drift.test.ts reads
// the keys of the 'appsettings' object below and compares them with src/config.ts and
// local.settings.sample.json.

param name string
param planName string
param location string
param tags object = {}

@description('Resource id of the user-assigned managed identity the app runs as.')
param identityId string

@description('Client id of that identity (AZURE_CLIENT_ID and the __clientId settings).')
param identityClientId string

param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string

@description('Flex Consumption scale-out limit for the app (40-1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Always-ready instances for the durable group; 0 scales the durable triggers to zero.')
@minValue(0)
param durableAlwaysReadyInstanceCount int = 1

// --- Values for the app's own settings (src/config.ts) ---
param taskHubName string
param openAiEndpoint string
param openAiApiVersion string
param fastDeploymentName string
param strongDeploymentName string
@allowed([
  'reasoning'
  'chat'
])
param fastModelKind string
@allowed([
  'reasoning'
  'chat'
])
param strongModelKind string
param reasoningEffort string
param aiProjectEndpoint string
param bingConnectionId string
param resultsContainerName string
param modelCacheContainerName string
param modelCacheTtlSeconds int
param quotaDefaultMonthlyTokens int
param runDefaultMaxTokens int
param runMaxSubtasks int
param runMaxToolTurns int
param runMaxPromptChars int
param runMaxBodyBytes int
param approvalDefaultTimeoutMinutes int
param approvalMaxRevisions int
param researchTimeoutSeconds int
param toolsAllowNetwork bool
@secure()
@description('Signs per-run URLs and approval events (RUN_URL_SIGNING_KEY).')
param runUrlSigningKey string

@secure()
@description('Signs webhooks (Standard Webhooks): whsec_ followed by base64 of random bytes.')
param webhookSecret string

@description('Durable Task Scheduler endpoint; empty keeps Azure Storage as the durable storage provider.')
param durableTaskSchedulerEndpoint string = ''

// --- App Service Authentication ---
@description('Application (client) id of the Microsoft Entra app registration that protects the API.')
param authClientId string

@description('Tenant that issues the tokens the API accepts.')
param authTenantId string = tenant().tenantId

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

var useDurableTaskScheduler = !empty(durableTaskSchedulerEndpoint)

// Every setting the app reads (src/config.ts) plus the host-level settings the Functions host reads.
// Values are strings: ints through string(), booleans spelled out (string(true) would give 'True').
var appSettings = {
  // Functions host and durable storage, identity-based: no connection string, no key.
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AZURE_CLIENT_ID: identityClientId
  TASK_HUB_NAME: taskHubName

  // Application Insights with local auth disabled: the host and the app's own exporter (which reads this
  // setting too, src/telemetry/setup.ts) authenticate as the identity (Monitoring Metrics Publisher).
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identityClientId}'
  // The app's own GenAI spans go there too; prompts and answers stay out of them.
  OTEL_GENAI_CAPTURE_CONTENT: 'false'

  // Models and agents, keyless (no AZURE_OPENAI_API_KEY in Azure).
  AZURE_OPENAI_ENDPOINT: openAiEndpoint
  AZURE_OPENAI_API_VERSION: openAiApiVersion
  AZURE_OPENAI_FAST_DEPLOYMENT: fastDeploymentName
  AZURE_OPENAI_STRONG_DEPLOYMENT: strongDeploymentName
  // Reasoning models take max_completion_tokens and no temperature (src/agents/modelKinds.ts).
  AZURE_OPENAI_FAST_KIND: fastModelKind
  AZURE_OPENAI_STRONG_KIND: strongModelKind
  AZURE_OPENAI_REASONING_EFFORT: reasoningEffort
  AZURE_AI_PROJECT_ENDPOINT: aiProjectEndpoint
  BING_CONNECTION_ID: bingConnectionId

  // Blob containers created by storage.bicep.
  RESULTS_CONTAINER: resultsContainerName
  MODEL_CACHE_CONTAINER: modelCacheContainerName
  MODEL_CACHE_TTL_SECONDS: string(modelCacheTtlSeconds)

  // Callers are identified by App Service Authentication (authsettingsV2 below), never trusted headers.
  AUTH_MODE: 'appservice'
  // Per-run URLs and approval events are signed with this key; users never get the task hub's system key.
  RUN_URL_SIGNING_KEY: runUrlSigningKey
  STATUS_URLS: 'scoped'

  // Quotas and limits.
  QUOTA_DEFAULT_MONTHLY_TOKENS: string(quotaDefaultMonthlyTokens)
  RUN_DEFAULT_MAX_TOKENS: string(runDefaultMaxTokens)
  RUN_MAX_SUBTASKS: string(runMaxSubtasks)
  RUN_MAX_TOOL_TURNS: string(runMaxToolTurns)
  RUN_MAX_PROMPT_CHARS: string(runMaxPromptChars)
  RUN_MAX_BODY_BYTES: string(runMaxBodyBytes)
  APPROVAL_DEFAULT_TIMEOUT_MINUTES: string(approvalDefaultTimeoutMinutes)
  APPROVAL_MAX_REVISIONS: string(approvalMaxRevisions)
  RESEARCH_TIMEOUT_SECONDS: string(researchTimeoutSeconds)
  TOOLS_ALLOW_NETWORK: toolsAllowNetwork ? 'true' : 'false'

  // Webhooks: signed with this secret, and never sent to private or link-local addresses in Azure.
  WEBHOOK_SECRET: webhookSecret
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false'
}

// With the Durable Task Scheduler, app settings override host.json's durableTask.storageProvider, so the
// committed host.json (Azure Storage) stays the same for local runs and for this option.
var durableTaskSchedulerSettings = {
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd finds the app to deploy the 'api' service to by this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
    }
    // Flex Consumption takes runtime, scale and deployment from here, not from app settings
    // (FUNCTIONS_WORKER_RUNTIME and WEBSITE_RUN_FROM_PACKAGE are not used on this plan).
    functionAppConfig: {
      runtime: {
        name: 'node'
        version: '22'
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        // One instance always ready for the durable group, as Microsoft recommends for Durable Functions on
        // Flex Consumption: orchestrations, timers and approvals resume without a cold start (Learn,
        // durable-functions-azure-storage-provider#flex-consumption-plan). host.json sets the queue polling
        // interval that goes with it (10 s).
        alwaysReady: durableAlwaysReadyInstanceCount > 0
          ? [
              {
                name: 'durable'
                instanceCount: durableAlwaysReadyInstanceCount
              }
            ]
          : []
      }
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: union(appSettings, useDurableTaskScheduler ? durableTaskSchedulerSettings : {})
  }

  // App Service Authentication with Microsoft Entra ID (docs/deployment.md, "Calling the API"). Every path
  // needs a signed-in caller but the health probe: browsers without a session are redirected to sign in
  // (the approval page, its event stream and its decisions work on the session cookie), other clients get
  // 401 and send a bearer token; the Durable Functions management webhook included, since its system key
  // (the ?code= in Durable's raw status URLs) is task-hub wide and must not be the only gate. No token
  // store: the app reads only the x-ms-client-principal headers, and calls nothing on the user's behalf.
  // The same globalValidation, login and provider values are in functionapp.authsettings.json, which the
  // devhost plays locally (npm start -- --auth azure); test/infra/easyauth-settings.test.ts keeps them equal.
  resource auth 'config' = {
    name: 'authsettingsV2'
    properties: {
      platform: {
        enabled: true
        runtimeVersion: '~1'
      }
      globalValidation: {
        requireAuthentication: true
        unauthenticatedClientAction: 'RedirectToLoginPage'
        redirectToProvider: 'azureactivedirectory'
        excludedPaths: [
          '/api/health'
        ]
      }
      identityProviders: {
        azureActiveDirectory: {
          enabled: true
          registration: {
            clientId: authClientId
            openIdIssuer: '${environment().authentication.loginEndpoint}${authTenantId}/v2.0'
          }
          validation: {
            allowedAudiences: [
              'api://${authClientId}'
              authClientId
            ]
          }
        }
      }
      login: {
        tokenStore: {
          enabled: false
        }
      }
      httpSettings: {
        requireHttps: true
        forwardProxy: {
          convention: 'NoProxy'
        }
      }
    }
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
output uri string = 'https://${site.properties.defaultHostName}'
