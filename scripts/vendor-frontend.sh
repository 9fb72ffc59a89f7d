#!/usr/bin/env bash
# Refresh the vendored front-end files from the npm registry (run by hand; the files are committed).
set -euo pipefail
dest="$(cd "$(dirname "$0")/.." && pwd)/src/prolo/web/static/vendor"
work=$(mktemp -d)
cd "$work"
npm pack --silent swagger-ui-dist@5.35.0 htmx.org@2.0.11 >/dev/null
tar xzf swagger-ui-dist-5.35.0.tgz && mv package swagger
tar xzf htmx.org-2.0.11.tgz && mv package htmx
cp swagger/swagger-ui-bundle.js swagger/swagger-ui.css swagger/LICENSE "$dest/swagger-ui/"
cp htmx/dist/htmx.min.js htmx/LICENSE "$dest/htmx/"
rm -rf "$work"
