#!/usr/bin/env bash
# Checks the deploy files with the platforms' own tools (make lint-deploy):
#   - template.yaml with cfn-lint (pip install cfn-lint);
#   - s.yaml with Serverless Devs' own parser (@serverless-devs/parse-spec, the
#     code `s` runs), installed into .bin/node_modules on first use: without
#     a .env it must refuse every command (deploy, info, remove, logs, plan,
#     local invoke), naming the missing secret; with one it must resolve, as
#     a dry run (scripts/check-s-yaml.js);
#   - both descriptors' dry-run and concurrency defaults, and the RAM policies
#     in deploy/ against the API actions the code calls (go test ./deploy/).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
if command -v cfn-lint >/dev/null; then
  echo "== cfn-lint template.yaml"
  cfn-lint template.yaml || status=1
else
  echo "cfn-lint not found: pip install cfn-lint" >&2
  status=1
fi
if command -v npm >/dev/null; then
  if [ ! -d .bin/node_modules/@serverless-devs/parse-spec ]; then
    mkdir -p .bin
    npm install --silent --no-audit --no-fund --prefix .bin @serverless-devs/parse-spec@0.0.29 >/dev/null
  fi
  echo "== s.yaml (Serverless Devs parse-spec)"
  NODE_PATH=.bin/node_modules node scripts/check-s-yaml.js s.yaml || status=1
else
  echo "npm not found: s.yaml is not checked" >&2
  status=1
fi
echo "== deploy defaults and policies (go test ./deploy/)"
"${GO:-go}" test -count=1 ./deploy/ || status=1
exit $status
