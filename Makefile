# modeltool: the two Quick-start commands (see README.md). Each installs what it needs first.
SHELL := /bin/bash
SWIFT ?= swift
RELEASE_BIN := .build/release/modeltool
DEBUG_BIN := .build/debug/modeltool

.PHONY: setup demo test build release crosscheck generate

setup:
	@bash Tools/setup.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release --product modeltool

## The main job on the bundled example: what the model is made of, then a lossless round trip.
demo: release
	@bash Tools/demo.sh $(RELEASE_BIN)

## Every test: generated-code check, cross-checks against the onnx package, libFuzzer smoke runs, then the Swift tests.
test: setup
	bash Tools/generate-onnx-c.sh --check
	$(SWIFT) build
	bash Tools/crosscheck.sh $(DEBUG_BIN)
	bash Tools/fuzz-smoke.sh
	$(SWIFT) test --disable-swift-testing 2>&1 | tee .build/test.log; status=$${PIPESTATUS[0]}; \
	  bash Tools/test-summary.sh .build/test.log; exit $$status

generate:
	bash Tools/generate-onnx-c.sh
