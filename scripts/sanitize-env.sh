# Sanitizer settings of the ASan+UBSan build (source it: `. scripts/sanitize-env.sh`), as
# scripts/test-sanitize.sh runs it (docs/testing.md; the fuzzers' tests/fuzz/run.sh sets
# its own):
#   - every finding stops the program (halt_on_error; the build adds
#     -fno-sanitize-recover=all), with a stack trace for UBSan too;
#   - leaks are errors, except Open MPI's own allocations listed in tests/lsan.supp; their
#     stacks run through libraries built without frame pointers, so malloc's stacks are
#     unwound the slow way (fast_unwind_on_malloc=0) for the suppressions to see them;
#   - stack traces get file:line from llvm-symbolizer when it is installed;
#   - ASan does not follow the dynamic TLS of dlopen'ed libraries (intercept_tls_get_addr=0):
#     with glibc 2.36, LLVM 14's LeakSanitizer misreads the TLS blocks of Open MPI's
#     components at exit ("DTLS 9 at 0x3b7e-0x400004c80", then "Tracer caught signal 11",
#     no leak check made) - on one machine every run of unit.job. Our code has no dynamic
#     TLS; static TLS, stacks, globals and the heap are still scanned.
# Settings already in the environment are kept: append to them to experiment.
_up_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:fast_unwind_on_malloc=0:detect_stack_use_after_return=1:intercept_tls_get_addr=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$_up_root/tests/lsan.supp:print_suppressions=0}
for _up_sym in /usr/lib/llvm-14/bin/llvm-symbolizer "$(command -v llvm-symbolizer || true)"; do
  if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x "$_up_sym" ]; then
    export ASAN_SYMBOLIZER_PATH=$_up_sym
  fi
done
unset _up_root _up_sym
