#!/usr/bin/env bash
# Generates Sources/CONNX from Schemas/onnx.proto with protoc-c.
#   Tools/generate-onnx-c.sh          rewrite the committed files
#   Tools/generate-onnx-c.sh --check  fail when a fresh generation differs from what is committed
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc-c >/dev/null || { echo "generate-onnx-c: protoc-c missing (run Tools/setup.sh)" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
protoc-c --proto_path=Schemas --c_out="$out" Schemas/onnx.proto
# SwiftPM wants public headers under include/; the .c file includes "onnx.pb-c.h" by name, which
# the target's header search path resolves.
mkdir -p "$out/include"
mv "$out/onnx.pb-c.h" "$out/include/onnx.pb-c.h"

if [ "${1:-}" = "--check" ]; then
  status=0
  diff -u Sources/CONNX/onnx.pb-c.c "$out/onnx.pb-c.c" >/dev/null || status=1
  diff -u Sources/CONNX/include/onnx.pb-c.h "$out/include/onnx.pb-c.h" >/dev/null || status=1
  if [ $status -ne 0 ]; then
    echo "generate-onnx-c: Sources/CONNX differs from protoc-c's output for Schemas/onnx.proto; run Tools/generate-onnx-c.sh and commit" >&2
    exit 1
  fi
  echo "generate-onnx-c: Sources/CONNX matches Schemas/onnx.proto"
else
  mkdir -p Sources/CONNX/include
  cp "$out/onnx.pb-c.c" Sources/CONNX/onnx.pb-c.c
  cp "$out/include/onnx.pb-c.h" Sources/CONNX/include/onnx.pb-c.h
  echo "generate-onnx-c: wrote Sources/CONNX"
fi
