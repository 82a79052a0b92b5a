// Everything `azd up` provisions for the durable agent runs app. Subscription scope, as azd expects: this
// file creates the resource group and deploys the modules into it. docs/deployment.md explains each
// parameter, setting and role.
targetScope = 'subscription'

// --- azd ---------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region for the Function App and everything else, unless aiLocation says otherwise. Must offer Flex Consumption.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of whoever runs azd (azd fills AZURE_PRINCIPAL_ID). Gets data roles for local runs against Azure; empty skips them.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

// --- App Service Authentication ------------------------------------------------------------------------

@minLength(1)
@description('Application (client) id of the Microsoft Entra app registration for the API. The azd preprovision hook creates one and stores it as AUTH_CLIENT_ID when unset.')
param authClientId string

// --- Models ------------------------------------------------------------------------------------------

@description('Region for the AI Foundry account and its model deployments; empty means location. Model availability and quota differ by region.')
param aiLocation string = ''

@description('Azure OpenAI data-plane API version the app uses (AZURE_OPENAI_API_VERSION): v1 (the GA v1 API, no dated version) or a dated version.')
param openAiApiVersion string = 'v1'

// Default models: ones the model retirement table lists as GA, open to new customers, read on 2026-12-07
// (Learn, "Model retirement schedule", Foundry Models sold by Azure, revision of 2026-07-07: source
// MicrosoftDocs/azure-ai-docs articles/foundry/openai/includes/concepts-model-retirement-schedule-content.md,
// https://learn.microsoft.com/azure/foundry/openai/concepts/model-retirement-schedule). gpt-4o and
// gpt-4o-mini retired on 2026-10-01 and gpt-4.1 on 2026-10-14. GA models take no new customers 12 months
// after launch (Learn, "Foundry Models lifecycle and support policy"): gpt-5.4-mini (2026-03-17) until
// 2027-03-17, gpt-5.4 (2026-03-05) until 2027-03-05. Both serve Chat Completions on the v1 API with Global
// Standard. Check the table again before a deployment past those dates and move the defaults on.
// Both are reasoning models (max_completion_tokens, no temperature): the *ModelKind parameters say so.

@description('Fast model: planning and subtasks.')
param fastModelName string = 'gpt-5.4-mini'
param fastModelVersion string = '2026-03-17'
@description('Deployment name of the fast model (AZURE_OPENAI_FAST_DEPLOYMENT).')
param fastDeploymentName string = 'gpt-5.4-mini'
@description('How the fast model takes requests (AZURE_OPENAI_FAST_KIND): reasoning (o-series, GPT-5 family) or chat.')
@allowed([
  'reasoning'
  'chat'
])
param fastModelKind string = 'reasoning'
param fastSkuName string = 'GlobalStandard'
@description('Fast model capacity in thousands of tokens per minute.')
@minValue(1)
param fastCapacity int = 100

@description('Strong model: synthesis.')
param strongModelName string = 'gpt-5.4'
param strongModelVersion string = '2026-03-05'
@description('Deployment name of the strong model (AZURE_OPENAI_STRONG_DEPLOYMENT).')
param strongDeploymentName string = 'gpt-5.4'
@description('How the strong model takes requests (AZURE_OPENAI_STRONG_KIND): reasoning or chat.')
@allowed([
  'reasoning'
  'chat'
])
param strongModelKind string = 'reasoning'
param strongSkuName string = 'GlobalStandard'
@description('Strong model capacity in thousands of tokens per minute.')
@minValue(1)
param strongCapacity int = 50

@description('reasoning_effort sent to reasoning deployments (AZURE_OPENAI_REASONING_EFFORT).')
@allowed([
  'none'
  'minimal'
  'low'
  'medium'
  'high'
  'xhigh'
])
param reasoningEffort string = 'low'

// --- Durable storage provider -------------------------------------------------------------------------

@description('AzureStorage (default; queues and tables in the app\'s storage account) or DurableTaskScheduler (managed; switches host.json through app settings).')
@allowed([
  'AzureStorage'
  'DurableTaskScheduler'
])
param durableStorageProvider string = 'AzureStorage'

@allowed([
  'Consumption'
  'Dedicated'
])
param durableTaskSchedulerSku string = 'Consumption'

@description('Durable Functions task hub (TASK_HUB_NAME); also the Durable Task Scheduler task hub name.')
@minLength(3)
@maxLength(45)
param taskHubName string = 'agentruns'

// --- Scale and telemetry ----------------------------------------------------------------------------

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Always-ready instances for the durable group (orchestrations, activities, entities); Microsoft recommends 1 for Durable Functions on Flex Consumption. 0 scales to zero.')
@minValue(0)
@maxValue(20)
param durableAlwaysReadyInstanceCount int = 1

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Log Analytics daily ingestion cap in GB; -1 is no cap.')
param logDailyQuotaGb int = -1

// --- App behaviour (defaults equal src/config.ts; a test keeps them equal) ---------------------------

param resultsContainerName string = 'results'
param modelCacheContainerName string = 'model-cache'
@minValue(0)
param modelCacheTtlSeconds int = 0
@minValue(1)
param quotaDefaultMonthlyTokens int = 200000
@minValue(1)
param runDefaultMaxTokens int = 20000
@minValue(1)
@maxValue(32)
param runMaxSubtasks int = 8
@minValue(1)
@maxValue(20)
param runMaxToolTurns int = 6
@minValue(1)
param runMaxPromptChars int = 8000
@minValue(1)
param runMaxBodyBytes int = 65536
@minValue(1)
param approvalDefaultTimeoutMinutes int = 60
@minValue(1)
@maxValue(10)
param approvalMaxRevisions int = 3
@minValue(1)
@maxValue(3600)
param researchTimeoutSeconds int = 600
param toolsAllowNetwork bool = false

// --- Secrets -----------------------------------------------------------------------------------------

@secure()
@minLength(32)
@description('Signs per-run URLs and approval events. Generated when not given, so each provision rotates it (per-run URLs handed out before then stop working by signature; callers can still use them signed in). Pass a fixed value to keep it.')
param runUrlSigningKey string = '${newGuid()}${newGuid()}'

// Set once per environment (`azd env set WEBHOOK_SECRET_SEED "$(openssl rand -base64 32)"`), so the
// webhook secret stays the same across deployments and receivers keep verifying; rotate by setting a
// new one and deploying.
@secure()
@minLength(24)
@description('Random seed of the webhook signing secret (WEBHOOK_SECRET is whsec_ + its base64).')
param webhookSecretSeed string

// --- Names -------------------------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-api-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var useDurableTaskScheduler = durableStorageProvider == 'DurableTaskScheduler'
var aiRegion = empty(aiLocation) ? location : aiLocation

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-api-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    resultsContainerName: resultsContainerName
    modelCacheContainerName: modelCacheContainerName
    deploymentContainerName: deploymentContainerName
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    retentionInDays: logRetentionInDays
    dailyQuotaGb: logDailyQuotaGb
  }
}

module ai 'modules/ai.bicep' = {
  name: 'ai'
  scope: rg
  params: {
    accountName: 'ais-${resourceToken}'
    projectName: 'proj-${resourceToken}'
    bingName: 'bing-${resourceToken}'
    location: aiRegion
    tags: tags
    fast: {
      name: fastDeploymentName
      model: fastModelName
      version: fastModelVersion
      sku: fastSkuName
      capacity: fastCapacity
    }
    strong: {
      name: strongDeploymentName
      model: strongModelName
      version: strongModelVersion
      sku: strongSkuName
      capacity: strongCapacity
    }
  }
}

module durableTask 'modules/durabletask.bicep' = if (useDurableTaskScheduler) {
  name: 'durabletask'
  scope: rg
  params: {
    name: 'dts-${resourceToken}'
    location: location
    tags: tags
    taskHubName: taskHubName
    skuName: durableTaskSchedulerSku
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    appPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    storageAccountName: storage.outputs.name
    aiAccountName: ai.outputs.accountName
    aiProjectName: ai.outputs.projectName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    durableTaskSchedulerName: useDurableTaskScheduler ? durableTask!.outputs.schedulerName : ''
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    durableAlwaysReadyInstanceCount: durableAlwaysReadyInstanceCount
    taskHubName: taskHubName
    openAiEndpoint: ai.outputs.openAiEndpoint
    openAiApiVersion: openAiApiVersion
    fastDeploymentName: ai.outputs.fastDeploymentName
    strongDeploymentName: ai.outputs.strongDeploymentName
    fastModelKind: fastModelKind
    strongModelKind: strongModelKind
    reasoningEffort: reasoningEffort
    aiProjectEndpoint: ai.outputs.projectEndpoint
    bingConnectionId: ai.outputs.bingConnectionId
    resultsContainerName: resultsContainerName
    modelCacheContainerName: modelCacheContainerName
    modelCacheTtlSeconds: modelCacheTtlSeconds
    quotaDefaultMonthlyTokens: quotaDefaultMonthlyTokens
    runDefaultMaxTokens: runDefaultMaxTokens
    runMaxSubtasks: runMaxSubtasks
    runMaxToolTurns: runMaxToolTurns
    runMaxPromptChars: runMaxPromptChars
    runMaxBodyBytes: runMaxBodyBytes
    approvalDefaultTimeoutMinutes: approvalDefaultTimeoutMinutes
    approvalMaxRevisions: approvalMaxRevisions
    researchTimeoutSeconds: researchTimeoutSeconds
    toolsAllowNetwork: toolsAllowNetwork
    runUrlSigningKey: runUrlSigningKey
    webhookSecret: 'whsec_${base64(webhookSecretSeed)}'
    durableTaskSchedulerEndpoint: useDurableTaskScheduler ? durableTask!.outputs.endpoint : ''
    authClientId: authClientId
  }
  // The app starts as soon as it exists: let it find its roles in place.
  dependsOn: [
    rbac
  ]
}

// --- Outputs: azd stores them in .azure/<env>/.env; the names match the app settings they feed -------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.uri
output AUTH_CLIENT_ID string = authClientId

output AZURE_CLIENT_ID string = identity.outputs.clientId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AzureWebJobsStorage__blobServiceUri string = storage.outputs.blobEndpoint
output TASK_HUB_NAME string = taskHubName
output RESULTS_CONTAINER string = resultsContainerName
output MODEL_CACHE_CONTAINER string = modelCacheContainerName

output AZURE_OPENAI_ENDPOINT string = ai.outputs.openAiEndpoint
output AZURE_OPENAI_API_VERSION string = openAiApiVersion
output AZURE_OPENAI_FAST_DEPLOYMENT string = ai.outputs.fastDeploymentName
output AZURE_OPENAI_STRONG_DEPLOYMENT string = ai.outputs.strongDeploymentName
output AZURE_OPENAI_FAST_KIND string = fastModelKind
output AZURE_OPENAI_STRONG_KIND string = strongModelKind
output AZURE_OPENAI_REASONING_EFFORT string = reasoningEffort
output AZURE_AI_PROJECT_ENDPOINT string = ai.outputs.projectEndpoint
output BING_CONNECTION_ID string = ai.outputs.bingConnectionId

output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
output DURABLE_STORAGE_PROVIDER string = durableStorageProvider
output DURABLE_TASK_SCHEDULER_ENDPOINT string = useDurableTaskScheduler ? durableTask!.outputs.endpoint : ''
