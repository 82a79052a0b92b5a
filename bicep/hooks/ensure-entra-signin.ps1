# azd postprovision hook (Windows): the same steps as ensure-entra-signin.sh. Adds the app's Easy Auth
# callback (/.auth/login/aad/callback) as a web redirect URI of the app registration and enables ID tokens,
# so browsers can sign in to the approval page.
$ErrorActionPreference = 'Stop'

if (-not $env:AUTH_CLIENT_ID) { Write-Error 'AUTH_CLIENT_ID is not set; run this through azd after the preprovision hook.' }
if (-not $env:SERVICE_API_URI) { Write-Error 'SERVICE_API_URI is not set; run this through azd after provisioning.' }
$callback = "$($env:SERVICE_API_URI.TrimEnd('/'))/.auth/login/aad/callback"
if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
  Write-Error "The Azure CLI (az) is not installed: add $callback as a web redirect URI of the app registration $($env:AUTH_CLIENT_ID) and enable ID tokens yourself."
}

$existing = @(az ad app show --id $env:AUTH_CLIENT_ID --query 'web.redirectUris' -o json | ConvertFrom-Json)
$issuing = az ad app show --id $env:AUTH_CLIENT_ID --query 'web.implicitGrantSettings.enableIdTokenIssuance' -o tsv
if (($existing -contains $callback) -and ($issuing -eq 'true')) {
  Write-Host "Browser sign-in is set up ($callback)."
  exit 0
}

# Graph replaces the whole list: send the existing URIs with the callback added.
$uris = @($existing + $callback | Where-Object { $_ } | Sort-Object -Unique)
$body = @{ web = @{ redirectUris = $uris; implicitGrantSettings = @{ enableIdTokenIssuance = $true } } } |
  ConvertTo-Json -Depth 5 -Compress
$file = New-TemporaryFile
Set-Content -Path $file -Value $body
az rest --method PATCH --uri "https://graph.microsoft.com/v1.0/applications(appId='$($env:AUTH_CLIENT_ID)')" `
  --headers 'Content-Type=application/json' --body "@$file" | Out-Null
Remove-Item $file
Write-Host "Browser sign-in set up: $callback is a redirect URI of $($env:AUTH_CLIENT_ID), with ID tokens."
