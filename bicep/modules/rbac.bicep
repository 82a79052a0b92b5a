// Every role assignment of the deployment, in one place. Names are guid(scope, principal, role), so a
// re-deployment finds the same assignment instead of failing with RoleAssignmentExists, and nothing
// else in bicep/ may create a role assignment (test/infra checks both).

@description('Principal (object) id of the app\'s user-assigned managed identity.')
param appPrincipalId string

@description('Optional: object id of the person or pipeline running azd, for local runs against Azure and the DTS dashboard. Empty skips those assignments.')
param deployerPrincipalId string = ''

@description('Principal type of deployerPrincipalId.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param deployerPrincipalType string = 'User'

param storageAccountName string
param aiAccountName string
param aiProjectName string
param applicationInsightsName string

@description('Durable Task Scheduler name; empty when Azure Storage is the durable provider.')
param durableTaskSchedulerName string = ''

// Built-in role definition ids (the same in every tenant).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  cognitiveServicesOpenAIUser: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'
  azureAIUser: '53ca6127-db72-4b80-b1b0-d745d6d5456d'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  durableTaskDataContributor: '0ad04412-c4d5-4796-b79c-f76d14c8d402'
}

var withDeployer = !empty(deployerPrincipalId)
var withScheduler = !empty(durableTaskSchedulerName)

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource aiAccount 'Microsoft.CognitiveServices/accounts@2025-06-01' existing = {
  name: aiAccountName

  resource project 'projects' existing = {
    name: aiProjectName
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' existing = if (withScheduler) {
  name: durableTaskSchedulerName
}

// --- The app's managed identity ---------------------------------------------------------------------

// Host storage (AzureWebJobsStorage), the deployment package, result blobs and the model cache. Owner
// rather than Contributor because the Functions host manages blob leases and containers for the task hub.
resource appBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

// Durable Functions' Azure Storage provider keeps its control and work-item queues here.
resource appQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roles.storageQueueDataContributor
    )
  }
}

// ... and its history and instance tables (entities, too), and the app's run index table
// (RUN_INDEX_TABLE, src/runIndex/): rows written at each run's start and end, read by the run list.
resource appTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roles.storageTableDataContributor
    )
  }
}

// Chat completions on the fast and strong deployments, keyless.
resource appOpenAIUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(aiAccount.id, appPrincipalId, roles.cognitiveServicesOpenAIUser)
  scope: aiAccount
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roles.cognitiveServicesOpenAIUser
    )
  }
}

// Agent Service data actions in the project: create agents, threads and runs for research subtasks.
resource appAIUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(aiAccount::project.id, appPrincipalId, roles.azureAIUser)
  scope: aiAccount::project
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.azureAIUser)
  }
}

// Application Insights has local auth disabled: the host sends telemetry with this identity.
resource appMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appPrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roles.monitoringMetricsPublisher
    )
  }
}

// Only with the Durable Task Scheduler: orchestrations, activities and entities go through it.
resource appDurableTaskContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withScheduler) {
  name: guid(scheduler.id, appPrincipalId, roles.durableTaskDataContributor)
  scope: scheduler
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roles.durableTaskDataContributor
    )
  }
}

// --- The deployer (optional): run the app locally against these resources, open the DTS dashboard ----

resource deployerBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withDeployer) {
  name: guid(storage.id, deployerPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

resource deployerOpenAIUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withDeployer) {
  name: guid(aiAccount.id, deployerPrincipalId, roles.cognitiveServicesOpenAIUser)
  scope: aiAccount
  properties: {
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roles.cognitiveServicesOpenAIUser
    )
  }
}

resource deployerAIUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withDeployer) {
  name: guid(aiAccount::project.id, deployerPrincipalId, roles.azureAIUser)
  scope: aiAccount::project
  properties: {
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.azureAIUser)
  }
}

resource deployerDurableTaskContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withDeployer && withScheduler) {
  name: guid(scheduler.id, deployerPrincipalId, roles.durableTaskDataContributor)
  scope: scheduler
  properties: {
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roles.durableTaskDataContributor
    )
  }
}
