#!/usr/bin/env bash
# Builds the libFuzzer harnesses (Fuzz/) with -sanitize=fuzzer,address and runs one:
#   Tools/fuzz.sh NAME SECONDS [extra libFuzzer options]
#   Tools/fuzz.sh build            only build .build-fuzz/modeltool-fuzz
# NAME: onnx keras-config keras-zip npy npz idx idx-gz jpeg png apoz-stats. Seeds come from Fixtures; new corpus
# entries go to .build-fuzz/corpus/NAME, findings to .build-fuzz/findings/NAME/.
# The libraries are compiled here module by module with swiftc (SwiftPM cannot link an executable
# whose main is libFuzzer's driver together with instrumented libraries).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/.build-fuzz
mkdir -p "$out/obj"
cd "$root"
clang_rt=$(dirname "$(swiftc -print-target-info | sed -n 's/.*"runtimeResourcePath": "\(.*\)".*/\1/p')")/clang
fuzzer_lib=$(ls "$(dirname "$(dirname "$(command -v swiftc)")")"/lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a | head -1)
# -enable-testing: the image harnesses reach the decoders (internal to Datasets) with @testable.
flags=(-sanitize=fuzzer,address -Onone -gline-tables-only -enable-testing -parse-as-library -I "$out/obj" -Xcc -fmodule-map-file=$out/obj/CHDF5.modulemap -Xcc -fmodule-map-file=Sources/CZlibSystem/module.modulemap
       -Xcc -fmodule-map-file=Sources/CTurboJPEG/module.modulemap -Xcc -fmodule-map-file=Sources/CSPNG/module.modulemap
       -Xcc -fmodule-map-file=$out/obj/CONNX.modulemap -Xcc -fmodule-map-file=.build/checkouts/ZIPFoundation/Sources/CZLib/module.modulemap -swift-version 5)

build() {
    local stamp=$out/obj/stamp
    local newest
    newest=$(find Sources Fuzz Tools/fuzz.sh -newer "$stamp" -print -quit 2>/dev/null || echo rebuild)
    if [ -f "$stamp" ] && [ -z "$newest" ] && [ -x "$out/modeltool-fuzz" ]; then return; fi
    printf 'module CONNX {\n  header "%s"\n  export *\n}\n' "$root/Sources/CONNX/include/onnx.pb-c.h" > "$out/obj/CONNX.modulemap"
    clang -c -g -fsanitize=fuzzer-no-link,address -w -I Sources/CONNX/include Sources/CONNX/onnx.pb-c.c -o "$out/obj/CONNX.o"
    # libhdf5 is opened with dlopen by the CHDF5 forwarders, as in the SwiftPM build.
    printf 'module CHDF5 {\n  header "%s"\n  export *\n}\n' "$root/Sources/CHDF5/include/CHDF5.h" > "$out/obj/CHDF5.modulemap"
    clang -c -g -fsanitize=fuzzer-no-link,address -I Sources/CHDF5/include Sources/CHDF5/loader.c -o "$out/obj/CHDF5.o"
    module() {  # module NAME SOURCES...
        local name=$1; shift
        # Up to date when no source is newer (a changed module's dependents rebuild on their own change only).
        if [ -f "$out/obj/$name.o" ] && [ -z "$(find "$@" -newer "$out/obj/$name.o" -print -quit)" ]; then return; fi
        echo "fuzz build: $name" >&2
        swiftc "${flags[@]}" -module-name "$name" -emit-module -emit-module-path "$out/obj/$name.swiftmodule" \
            -wmo -c "$@" -o "$out/obj/$name.o"
    }
    module ModelIR $(find Sources/ModelIR -name '*.swift')
    module FileIO $(find Sources/FileIO -name '*.swift')
    flags+=(-Xcc -D_GNU_SOURCE=1)  # as ZIPFoundation's own package sets it
    module ZIPFoundation $(find .build/checkouts/ZIPFoundation/Sources/ZIPFoundation -name '*.swift')
    module ModelFormats $(find Sources/ModelFormats -name '*.swift')
    module Datasets $(find Sources/Datasets -name '*.swift')
    # The APoZ statistics reader lives in ModelPipeline, whose full build would pull in training
    # and trimming: the runtime is built whole (it needs BLAS), ModelPipeline only from the files
    # the reader needs, under the name its sources import (nothing else links against it here).
    flags+=(-Xcc -fmodule-map-file=Sources/CBLAS/module.modulemap)
    module ModelRuntime $(find Sources/ModelRuntime -name '*.swift')
    module ModelPipeline Sources/ModelPipeline/Statistics/ApozStatistics.swift Sources/ModelPipeline/Statistics/StatisticsFile.swift \
        Sources/ModelPipeline/Statistics/ModelFingerprint.swift Sources/ModelPipeline/Statistics/SHA256.swift
    echo "fuzz build: modeltool-fuzz" >&2
    swiftc "${flags[@]/-parse-as-library/}" -module-name modeltool_fuzz Fuzz/*.swift -c -wmo -o "$out/obj/modeltool-fuzz.o"
    swiftc -sanitize=address -g "$out"/obj/*.o -o "$out/modeltool-fuzz" -Xlinker "$fuzzer_lib" -lstdc++ \
        -ldl -lz -lprotobuf-c -lturbojpeg -lspng -lopenblas 2>&1 | grep -v 'Cannot export' >&2 || true
    test -x "$out/modeltool-fuzz"
    touch "$stamp"
}

build
[ "${1:-}" = build ] && exit 0
name=${1:?usage: Tools/fuzz.sh NAME SECONDS}
seconds=${2:-60}
shift 2 || true
case $name in
    onnx) seeds="Fixtures/models Fixtures/roundtrip Fixtures/bad" ;;
    keras-config) seeds="" ;;
    keras-zip) seeds="" ;;
    npy|npz|idx|idx-gz|jpeg|png|apoz-stats) seeds="" ;;
    *) echo "unknown harness $name" >&2; exit 2 ;;
esac
corpus=$out/corpus/$name
mkdir -p "$corpus" "$out/findings/$name"
# Seed corpora: small files of the right kind from Fixtures (only once).
if [ -z "$(ls -A "$corpus")" ]; then
    case $name in
        onnx) find Fixtures/models Fixtures/roundtrip Fixtures/bad -name '*.onnx' -size -600k -exec cp {} "$corpus/" \; ;;
        keras-config) cp Fixtures/keras/*.json "$corpus/"
                      for k in Fixtures/keras/*.keras; do
                          python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("config.json"))' \
                              "$k" > "$corpus/$(basename "$k").json"
                      done ;;
        keras-zip) cp Fixtures/keras/*.keras "$corpus/" ;;
        npy) cp Fixtures/fashion-mnist/input100_f32.npy "$corpus/"; head -c 2000 Fixtures/fashion-mnist/images.npy > "$corpus/images-head.npy" ;;
        npz) for f in Fixtures/keras/k2_sequential.npz Fixtures/keras/k3_conv1d.npz; do cp "$f" "$corpus/"; done ;;
        idx) cp Fixtures/fashion-mnist/labels100-idx1-ubyte "$corpus/"; head -c 4000 Fixtures/fashion-mnist/images100-idx3-ubyte > "$corpus/images-head" ;;
        idx-gz) cp Fixtures/fashion-mnist/labels100-idx1-ubyte "$corpus/"; head -c 4000 Fixtures/fashion-mnist/images100-idx3-ubyte > "$corpus/images-head" ;;
        jpeg) cp Fixtures/images/*.jpg "$corpus/" ;;
        # Every colour type and bit depth (Tools/fixtures/make_fuzz_seeds.py) and two Fashion-MNIST images.
        png) cp Fixtures/fuzz/*.png "$corpus/"; cp Fixtures/fashion-mnist/png200/0/0019.png Fixtures/fashion-mnist/png200/9/0000.png "$corpus/" ;;
        apoz-stats) cp Fixtures/fuzz/apoz_stats.json "$corpus/" ;;
    esac
fi
export MODELTOOL_ROOT=$root MODELTOOL_FUZZ_HARNESS=$name
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} SWIFT_BACKTRACE=enable=no \
    "$out/modeltool-fuzz" "$name" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=1048576 -timeout=10 \
    -artifact_prefix="$out/findings/$name/" -print_final_stats=1 "$@" "$corpus"
