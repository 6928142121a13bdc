#!/bin/sh
# Installs the pinned npm packages (package.json, package-lock.json) into
# tests/http/node_modules: the openai client (test_openai_node.py), the
# anthropic client (test_http_anthropic.py) and
# playwright-core, which drives Debian's chromium (test_console_browser.py;
# it downloads no browser). Exit 77 (the test is skipped, visibly) when
# node or npm is missing or the registry cannot be reached; once installed,
# nothing is fetched again (offline runs pass).
set -u
cd "$(dirname "$0")"
command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed"; exit 77; }
command -v npm >/dev/null 2>&1 || { echo "SKIP: npm is not installed"; exit 77; }
# Tests running at once (ctest -j) install one at a time
if command -v flock >/dev/null 2>&1; then
    exec 9>npm-install.lock
    flock -w 200 9 || { echo "SKIP: another npm install held tests/http/npm-install.lock for 200 s"; exit 77; }
fi
installed () {
    [ -f "node_modules/$1/package.json" ] && grep -q "\"version\": \"$2\"" "node_modules/$1/package.json"
}
if installed openai 4.104.0 && installed playwright-core 1.65.1 && installed @anthropic-ai/sdk 0.71.0; then
    exit 0
fi
if ! npm ci --no-audit --no-fund >npm-install.log 2>&1; then
    echo "SKIP: npm ci could not install openai, @anthropic-ai/sdk and playwright-core (no registry?):"
    tail -5 npm-install.log
    exit 77
fi
