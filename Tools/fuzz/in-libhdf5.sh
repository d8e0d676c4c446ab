#!/usr/bin/env bash
# Tools/fuzz/in-libhdf5.sh LOG: exit 0 when the libFuzzer/ASan report in LOG is a fault inside
# libhdf5 (contained by the CLI's isolated HDF5 reader, docs/RELIABILITY.md), 1 otherwise.
#  - an ASan report whose summary lies in libhdf5, or in libc's or the sanitizer's memory
#    functions called from libhdf5 (a SEGV in memcpy under H5F__accum_read: the summary names libc);
#  - an absurd allocation requested by libhdf5 itself (in the child it fails or is refused there);
#  - a timeout or a deadly signal whose stack starts in libhdf5 (the child's CPU-time budget, or
#    the child's death, becomes the parent's one-line error).
log=${1:?usage: in-libhdf5.sh LOG}
grep -q "^SUMMARY: AddressSanitizer: .*libhdf5" "$log" && exit 0
# The first frame of the first ASan report that is neither libc nor the sanitizer's runtime.
first=$(awk '/ERROR: AddressSanitizer/ { on = 1; next }
             on && /^ *#[0-9]+ / { if ($0 ~ /sysdeps|libc\.so|compiler-rt|sanitizer_common/) next; print; exit }
             on && /^$/ { exit }' "$log")
[ -n "$first" ] && grep -q "libhdf5" <<< "$first" && exit 0
grep -q "libFuzzer: out-of-memory (malloc" "$log" && grep -A1 " in malloc " "$log" | grep -q "libhdf5" && exit 0
grep -q "ERROR: libFuzzer: timeout" "$log" && grep -A14 "ERROR: libFuzzer: timeout" "$log" | grep -q "libhdf5" && exit 0
grep -q "deadly signal" "$log" && grep -m1 -A14 "^==.*ERROR: libFuzzer: deadly signal" "$log" | grep -q "libhdf5" && exit 0
exit 1
