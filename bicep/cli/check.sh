#!/usr/bin/env bash
# Compiles and lints bicep/main.bicep (and every module it uses) with the pinned Bicep CLI, and fails on
# any diagnostic, warnings included. The CLI comes from NuGet through bicep/cli/BicepCli.csproj and is kept
# under .tools/ (git-ignored), so a second run needs no network.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
version="$(sed -n 's/.*Azure.Bicep.CommandLine.linux-x64" Version="\[\([^]]*\)\]".*/\1/p' "$root/bicep/cli/BicepCli.csproj")"
tools="$root/.tools/bicep-cli"
bicep="$tools/packages/azure.bicep.commandline.linux-x64/$version/tools/bicep"

if [ ! -x "$bicep" ]; then
  echo "== installing Bicep CLI $version from NuGet into .tools/"
  mkdir -p "$tools"
  cp "$root/bicep/cli/BicepCli.csproj" "$tools/"
  dotnet restore "$tools/BicepCli.csproj" --packages "$tools/packages" --nologo --verbosity quiet
  chmod +x "$bicep"
fi
"$bicep" --version

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
status=0
echo "== bicep build bicep/main.bicep"
"$bicep" build "$root/bicep/main.bicep" --outdir "$out" 2>"$out/build.txt" || status=1
echo "== bicep lint bicep/main.bicep"
"$bicep" lint "$root/bicep/main.bicep" 2>"$out/lint.txt" >>"$out/lint.txt" || status=1
cat "$out/build.txt" "$out/lint.txt"
if [ "$status" -ne 0 ] || [ -s "$out/build.txt" ] || [ -s "$out/lint.txt" ]; then
  echo "Bicep reported problems (warnings count)" >&2
  exit 1
fi
echo "== Bicep: no errors, no warnings"
