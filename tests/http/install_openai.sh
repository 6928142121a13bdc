#!/bin/sh
# Installs the pinned openai npm package (package.json, package-lock.json)
# into tests/http/node_modules. Exit 77 (the test is skipped, visibly)
# when node or npm is missing or the registry cannot be reached.
set -u
cd "$(dirname "$0")"
command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed"; exit 77; }
command -v npm >/dev/null 2>&1 || { echo "SKIP: npm is not installed"; exit 77; }
if [ -f node_modules/openai/package.json ] && grep -q '"version": "4.104.0"' node_modules/openai/package.json; then
    exit 0
fi
if ! npm ci --no-audit --no-fund >npm-install.log 2>&1; then
    echo "SKIP: npm ci could not install openai (no registry?):"
    tail -5 npm-install.log
    exit 77
fi
