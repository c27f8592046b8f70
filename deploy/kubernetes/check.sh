#!/bin/sh
# Check the manifests of this folder: YAML lint (Debian's yamllint, strict,
# default rules), then each object against the Kubernetes API schemas of the
# npm package kubernetes-models (types, enums, required fields), installed
# into a temporary folder. Needs yamllint, node and npm; exits non-zero on
# any finding.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
yamllint -s "$dir"/*.yaml
echo "yamllint: clean"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm init -y >/dev/null
npm install --silent --no-audit --no-fund kubernetes-models@5 js-yaml@4 >/dev/null 2>&1
cat >validate.mjs <<'JS'
import fs from "node:fs";
import yaml from "js-yaml";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { Pod } from "kubernetes-models/v1/Pod";
const models = { "apps/v1 DaemonSet": DaemonSet, "v1 Pod": Pod };
let bad = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of yaml.loadAll(fs.readFileSync(file, "utf8"))) {
    const Model = models[`${doc.apiVersion} ${doc.kind}`];
    const what = `${file.replace(/.*\//, "")}: ${doc.kind} ${doc.metadata.name}`;
    if (!Model) {
      console.log(`${what}: no schema here for ${doc.apiVersion}`);
      bad++;
      continue;
    }
    try {
      new Model(doc).validate();
      console.log(`${what}: valid`);
    } catch (e) {
      console.log(`${what}: ${e.message}`);
      bad++;
    }
  }
}
process.exit(bad ? 1 : 0);
JS
node validate.mjs "$dir"/*.yaml
