#!/bin/sh
# setup.sh: installs the reference tokenizers pinned by package-lock.json
# (npm ci, no install scripts) into WORK_DIR/node_modules for the
# tokenizer_vocab_* tests; does nothing when that install is current.
# Without node/npm or a reachable registry it says why and exits 0, and the
# vocabulary tests then report themselves skipped.
# Usage: setup.sh SRC_DIR WORK_DIR
src=$1
work=$2
mkdir -p "$work" || exit 1
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "tokenizer_vocab_setup: node or npm not found; the vocabulary tests will skip"
    exit 0
fi
if [ -d "$work/node_modules" ] && cmp -s "$src/package-lock.json" "$work/package-lock.json"; then
    echo "tokenizer_vocab_setup: reference packages already installed in $work"
    exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$work/" || exit 1
rm -rf "$work/node_modules"
cd "$work" || exit 1
if npm ci --ignore-scripts --no-audit --no-fund --prefer-offline \
          --fetch-retries=1 --fetch-timeout=30000; then
    echo "tokenizer_vocab_setup: installed the reference packages in $work"
else
    rm -rf node_modules
    echo "tokenizer_vocab_setup: npm ci failed (registry unreachable?); the vocabulary tests will skip"
fi
exit 0
