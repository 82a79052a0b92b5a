// Optional: a Durable Task Scheduler and its task hub, the managed alternative to Azure Storage as the
// Durable Functions storage provider. main.bicep deploys this module only when
// durableStorageProvider is 'DurableTaskScheduler'; functionapp.bicep then switches host.json to it
// through AzureFunctionsJobHost__ app settings. The app's identity gets Durable Task Data Contributor
// in rbac.bicep.

param name string
param location string
param tags object = {}

@description('Task hub name; the same value as TASK_HUB_NAME, which host.json reads as hubName.')
param taskHubName string

@description('Consumption bills per action with no baseline; Dedicated bills capacity units around the clock.')
@allowed([
  'Consumption'
  'Dedicated'
])
param skuName string = 'Consumption'

@description('Capacity units; used only by the Dedicated SKU.')
@minValue(1)
param skuCapacity int = 1

@description('Networks that may reach the scheduler; identity-based auth still applies to every call.')
param ipAllowlist string[] = [
  '0.0.0.0/0'
]

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    ipAllowlist: ipAllowlist
    sku: skuName == 'Dedicated'
      ? {
          name: skuName
          capacity: skuCapacity
        }
      : {
          name: skuName
        }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
}

output schedulerId string = scheduler.id
output schedulerName string = scheduler.name
output endpoint string = scheduler.properties.endpoint
output taskHubName string = taskHub.name
