# tests/fuzz/fuzz.mk - libFuzzer targets (included by the Makefile).
#   make fuzz                  each target for FUZZ_SECONDS (default 60) on a corpus kept in
#                              build/fuzz/corpus/NAME; crashes land in build/fuzz/artifacts/
#   make fuzz FUZZ_TARGETS="fuzz_answer" FUZZ_SECONDS=600
# make test replays each over its seeds in the gcc ASan build (fuzz-replay, below); make test-all
# runs each under libFuzzer, seeds then FUZZ_TEST_SECONDS of mutations (tests/fuzz/run.sh).
#
# Built with clang (libFuzzer is clang's), ASan + UBSan (float-cast-overflow included: a float
# converted to an int it does not fit is undefined behaviour), without OpenMP.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_TARGETS ?= $(notdir $(FUZZ_BINS))
FUZZ_OBJ     := $(LIB_SRC:%.c=build/fuzz/%.o) $(call QGEMM_OBJ,fuzz)
FUZZ_SAN     := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE $(WARN) -Iruntime \
                -Itokenizer -Isampler -Ikernels -I. -I/usr/include/stb -Itests/fuzz $(FUZZ_SAN)
FUZZ_SEEDS   := build/fuzz/seeds/.ok

.PHONY: fuzz fuzz-build fuzz-replay
.SECONDARY: $(FUZZ_OBJ) # reached only through a pattern rule: keep them (no rebuild each time)
fuzz-build: $(FUZZ_BINS) $(FUZZ_SEEDS)

# clang and libFuzzer come from tools/install_deps.sh (also run by make deps); this stamp reruns
# it when the script changes, so an older checkout gets them too.
build/fuzz/.clang-ok: tools/install_deps.sh
	@bash tools/install_deps.sh
	@mkdir -p $(dir $@) && touch $@

build/fuzz/%.o: %.c $(HDRS) | build/fuzz/.clang-ok
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
# the int8 kernels, once per instruction-set level (the Makefile's ISA_FLAGS_n)
build/fuzz/runtime/cpu/qgemm_kernels_%.o: runtime/cpu/qgemm_kernels.c $(HDRS) | build/fuzz/.clang-ok
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(ISA_FLAGS_$*) -DQGEMM_LEVEL=$* -c -o $@ $<
# as in the ASan build: register-resident accumulators stay in registers
build/fuzz/runtime/cpu/gemm.o build/fuzz/runtime/cpu/matmul.o $(call QGEMM_OBJ,fuzz): FUZZ_CFLAGS += -mllvm -asan-stack=0
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) -lm

$(FUZZ_SEEDS): tools/gen_fuzz_seeds.py tools/make_tiny_model.py | $(VENV)/.deps-ok
	@rm -rf build/fuzz/seeds
	$(PY) tools/gen_fuzz_seeds.py build/fuzz/seeds
	@touch $@

fuzz: fuzz-build $(MODEL) $(TEST_VOCABS)
	@for t in $(FUZZ_TARGETS); do \
	    FUZZ_CORPUS=build/fuzz/corpus/$$t bash tests/fuzz/run.sh $$t $(FUZZ_SECONDS) || exit 1; \
	done

# make test replays every target's seeds without libFuzzer or clang: the target linked with
# tests/fuzz/replay.c into the ASan + UBSan build the C tests use (gcc).
REPLAY_BINS := $(FUZZ_SRC:tests/fuzz/%.c=build/asan/fuzz/replay_%)
fuzz-replay: $(REPLAY_BINS) $(FUZZ_SEEDS)
build/asan/fuzz/replay_%: tests/fuzz/%.c tests/fuzz/replay.c tests/fuzz/fuzz_util.h $(ASAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -Itests/fuzz $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(ASAN_OBJ) $(LDLIBS)
