// One storage account for everything the app keeps: the Functions host (AzureWebJobsStorage), the
// Durable Functions task hub (queues and tables, when Azure Storage is the durable provider), result
// blobs, the model response cache, the run index (a table), and the Flex Consumption deployment package. Shared keys are off:
// every caller authenticates with Microsoft Entra ID, so there is no connection string to leak.

@description('Storage account name: 3-24 lowercase letters and digits, globally unique.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object = {}

@description('Blob container for final answers and research notes (RESULTS_CONTAINER).')
param resultsContainerName string

@description('Blob container for the optional model response cache (MODEL_CACHE_CONTAINER).')
param modelCacheContainerName string

@description('Table of the run index (RUN_INDEX_TABLE): runs by owner, newest first, and the runs not yet seen to end.')
param runIndexTableName string

@description('Blob container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }

  resource blobs 'blobServices' = {
    name: 'default'

    resource results 'containers' = {
      name: resultsContainerName
      properties: {
        publicAccess: 'None'
      }
    }

    resource modelCache 'containers' = {
      name: modelCacheContainerName
      properties: {
        publicAccess: 'None'
      }
    }

    resource deploymentPackage 'containers' = {
      name: deploymentContainerName
      properties: {
        publicAccess: 'None'
      }
    }
  }

  // The app creates it on first use too (locally, in Azurite); created here, a first request never waits.
  resource tables 'tableServices' = {
    name: 'default'

    resource runIndex 'tables' = {
      name: runIndexTableName
    }
  }
}

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
