#!/bin/sh
# Installs the Debian packages xinf needs, only those missing (so a second
# run is instant and needs no network).
set -eu
# python3-numpy: the reference forward pass; iproute2 (ip) and util-linux
# (unshare): the tests that build private network namespaces; nftables (nft):
# the fault-injection tests in tests/netns that drop traffic between them.
# libmicrohttpd-dev and libjansson-dev: the HTTP gateway (README, "The
# front door"); python3-jinja2: the reference renderer the chat-template
# tests compare against; clang and libclang-rt-14-dev: libFuzzer for the
# fuzz harnesses (scripts/fuzz.sh); chromium: the web console's test drives
# it headless through playwright-core (tests/http); libssl-dev: libcrypto's
# SHA-256 for model files sent between nodes (actors/xinf_transfer.c);
# libgnutls28-dev: the gateway's HTTPS (libmicrohttpd's TLS library; the
# node checks the certificate and key with it first); python3-regex: the
# pre-tokenizers' real regexes (\p{L}) the hand-written splitters are
# tested against (tests/tokenizer/test_tokenizer_regex.py).
PACKAGES="build-essential cmake pkg-config libzmq3-dev libczmq-dev libmsgpack-dev
          python3 python3-zmq python3-msgpack python3-numpy iproute2 util-linux nftables
          libmicrohttpd-dev libjansson-dev python3-jinja2 clang libclang-rt-14-dev chromium
          libssl-dev libgnutls28-dev python3-regex"
missing=""
for package in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $package"
    fi
done
if [ -n "$missing" ]; then
    echo "xinf setup: installing$missing"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
