# chorus - build, set-up, tests and benchmarks.
#   make            CPU build (OpenMP; OMP=0 builds without it)   -> ./chorus
#   make cuda       CPU + CUDA build (needs nvcc)                 -> ./chorus-cuda
#   make asan       ASan + UBSan build                            -> ./chorus-asan
#   make deps       system packages and the Python venv for tools/ and tests (only what is missing)
#   make weights    the default model into weights/
#   make run        all of the above, then answers a question with the default model
#   make test       the default suite, minutes: every test file once (C tests at the best int8
#                   level, ASan + UBSan on all but the slow C tests, Python tests, each fuzz
#                   target's seeds); ends with "N passed, N failed, N skipped"
#   make test-all   make test with the Python tests' exhaustive cases, then the full matrix: the
#                   C tests at every other int8 level, the slow C tests under ASan + UBSan,
#                   libFuzzer mutating, make test-gpu-emu (what .ci/run runs)
#   make fuzz       each libFuzzer target for FUZZ_SECONDS (tests/fuzz/fuzz.mk; needs clang)
#   make test-gpu   GPU parity tests (skip cleanly without a device)
#   make test-gpu-emu  the CUDA code and its tests run on the CPU (kernels/emu/README.md)
#   make bench      benchmarks beside llama.cpp (installs llama-cpp-python into the venv)

CC      ?= cc
NVCC    ?= nvcc
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
OMP     ?= 1
CUDA_ARCHS ?= 80 90

MODEL     := weights/SmolLM2-135M-Instruct.Q4_1.gguf
MODEL_SHA := b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

WARN    ?= -Wall -Wextra -Werror -Wno-unused-parameter
ARCH    ?= native
CFLAGS  ?= -O3 -march=$(ARCH)
# libstb-dev's stb_ds.h (the tokenizer); tools/gpu_check.sh points it at a carried copy
STB_INC ?= /usr/include/stb
CFLAGS  += -fPIC -std=c11 -D_GNU_SOURCE $(WARN) -Iruntime -Itokenizer -Isampler -Ikernels -I. -I$(STB_INC)
LDLIBS  := -lm
ifeq ($(OMP),1)
CFLAGS  += -fopenmp
LDFLAGS += -fopenmp
endif
# -O2: the sanitized suite runs the real model for thousands of steps; at -O1 the unrolled
# micro-kernels are several times slower.
# float-cast-overflow: a float converted to an integer it does not fit is undefined behaviour
# too, but gcc leaves it out of "undefined".
ASAN_FLAGS := -O2 -g -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined,float-cast-overflow

CUDA_HOME  ?= $(patsubst %/bin/nvcc,%,$(shell command -v $(NVCC) 2>/dev/null))
# -lineinfo: compute-sanitizer and profilers name source lines (no effect on the code).
# NVCC_WARN: tools/gpu_check.sh drops -Werror on a device machine (a newer compiler's new warning
# must not stop the first run there).
NVCC_WARN  ?= -Xcompiler -Wall,-Wextra,-Werror,-Wno-unused-parameter
NVCCFLAGS  := -O3 -std=c++17 -lineinfo $(foreach a,$(CUDA_ARCHS),-gencode arch=compute_$(a),code=sm_$(a)) \
              -Iruntime -Isampler -Ikernels $(NVCC_WARN)
CUDA_LIBS  := -L$(CUDA_HOME)/lib64 -L$(CUDA_HOME)/lib64/stubs -lcudart -lcublas

# Library sources: everything but main.c; runtime/cuda/, the CUDA backend and kernels/ only in the
# CUDA build, but for runtime/cuda/batch_plan.c: the host-side plan of a step is plain C, built and
# tested (tests/test_batch_plan.c) in every build.
CUDA_CSRC := $(filter-out runtime/cuda/batch_plan.c,$(wildcard runtime/cuda/*.c)) runtime/backend/cuda.c
# runtime/cpu/qgemm_kernels.c is compiled once per instruction-set level (below).
LIB_SRC   := $(filter-out runtime/cli/main.c runtime/cpu/qgemm_kernels.c $(CUDA_CSRC),$(wildcard runtime/*/*.c tokenizer/*.c sampler/*.c))
CUDA_SRC  := $(wildcard kernels/*.cu)
TEST_SRC  := $(filter-out tests/test_gpu_%,$(wildcard tests/test_*.c))
GPU_TEST_SRC := $(wildcard tests/test_gpu_*.c)
HDRS      := $(wildcard runtime/*/*.h tokenizer/*.h sampler/*.h kernels/*.h tests/*.h)

# The int8 kernels, one object per level (runtime/cpu/isa.h): 0 portable C, 1 AVX2, 2 AVX-VNNI,
# 3 AVX-512 VNNI, all in one binary; cpu/isa.c picks one at run time (or CHORUS_ISA). Each gets
# its level's flags whatever CFLAGS's -march says (the last -march wins), so a level's code
# never uses instructions above it. A compiler that lacks a level's flags builds that object
# empty, and the binary runs without that level. For a binary that runs on any x86-64 CPU, build
# with ARCH=x86-64: the rest of the code then uses no AVX (the fp32 paths take their plain C
# kernels) and the int8 kernels still use what the CPU has.
QGEMM_LEVELS := 0 1 2 3
cc_has = $(shell $(CC) $(1) -x c -c /dev/null -o /dev/null 2>/dev/null && echo yes)
ISA_FLAGS_0 := $(if $(call cc_has,-march=x86-64),-march=x86-64 -mtune=generic)
ISA_FLAGS_1 := $(if $(call cc_has,-march=x86-64-v3),-march=x86-64-v3)
ISA_FLAGS_2 := $(if $(call cc_has,-march=x86-64-v3 -mavxvnni),-march=x86-64-v3 -mavxvnni)
ISA_FLAGS_3 := $(if $(call cc_has,-march=x86-64-v4 -mavx512vnni),-march=x86-64-v4 -mavx512vnni)
# AVX-512 BF16 (vdpbf16ps, for BF16 weights) is used by level 3 where the CPU has it (cpu/isa.c)
ISA_FLAGS_3 += $(if $(call cc_has,-mavx512bf16),-mavx512bf16)
QGEMM_OBJ = $(foreach l,$(QGEMM_LEVELS),build/$(1)/runtime/cpu/qgemm_kernels_$(l).o)

CPU_OBJ  := $(LIB_SRC:%.c=build/cpu/%.o) $(call QGEMM_OBJ,cpu)
ASAN_OBJ := $(LIB_SRC:%.c=build/asan/%.o) $(call QGEMM_OBJ,asan)
CUDA_OBJ := $(LIB_SRC:%.c=build/cuda/%.o) $(call QGEMM_OBJ,cuda) $(CUDA_CSRC:%.c=build/cuda/%.o) $(CUDA_SRC:%.cu=build/cuda/%.o)
CPU_TESTS  := $(TEST_SRC:tests/%.c=build/cpu/tests/%)
ASAN_TESTS := $(TEST_SRC:tests/%.c=build/asan/tests/%)
GPU_TESTS  := $(GPU_TEST_SRC:tests/%.c=build/cuda/tests/%)

LIBCHORUS := build/cpu/libchorus.so

.PHONY: all cuda asan deps deps-peer weights run test test-all test-gpu tiny-gpu bench kernel-bench clean format fixtures
all: chorus

chorus: $(CPU_OBJ) build/cpu/runtime/cli/main.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
chorus-asan: $(ASAN_OBJ) build/asan/runtime/cli/main.o
	$(CC) $(LDFLAGS) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS)
chorus-cuda: $(CUDA_OBJ) build/cuda/runtime/cli/main.o
	$(CC) $(LDFLAGS) -o $@ $^ $(CUDA_LIBS) $(LDLIBS) -lstdc++
asan: chorus-asan $(ASAN_TESTS)
$(LIBCHORUS): $(CPU_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)
cuda: chorus-cuda $(GPU_TESTS)

build/cpu/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<
build/asan/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -c -o $@ $<
# The micro-kernels keep their accumulators in small local arrays that must live in registers;
# ASan's stack redzones would pin them to memory and make the sanitized suite ~10x slower.
# Their heap and global accesses are still checked.
build/asan/runtime/cpu/gemm.o build/asan/runtime/cpu/matmul.o $(call QGEMM_OBJ,asan): ASAN_FLAGS += --param asan-stack=0
build/cpu/runtime/cpu/qgemm_kernels_%.o: runtime/cpu/qgemm_kernels.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ISA_FLAGS_$*) -DQGEMM_LEVEL=$* -c -o $@ $<
build/asan/runtime/cpu/qgemm_kernels_%.o: runtime/cpu/qgemm_kernels.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) $(ISA_FLAGS_$*) -DQGEMM_LEVEL=$* -c -o $@ $<
build/cuda/runtime/cpu/qgemm_kernels_%.o: runtime/cpu/qgemm_kernels.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DCHORUS_CUDA $(ISA_FLAGS_$*) -DQGEMM_LEVEL=$* -c -o $@ $<
build/cuda/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DCHORUS_CUDA -I$(CUDA_HOME)/include -c -o $@ $<
build/cuda/%.o: %.cu $(HDRS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c -o $@ $<

build/cpu/tests/%: tests/%.c $(CPU_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(CPU_OBJ) $(LDLIBS)
build/asan/tests/%: tests/%.c $(ASAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) $(LDFLAGS) -o $@ $< $(ASAN_OBJ) $(LDLIBS)
build/cuda/tests/%: tests/%.c $(CUDA_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DCHORUS_CUDA -I$(CUDA_HOME)/include $(LDFLAGS) -o $@ $< $(CUDA_OBJ) $(CUDA_LIBS) $(LDLIBS) -lstdc++

# ---- set-up ----------------------------------------------------------------------------------
deps: $(VENV)/.deps-ok
$(VENV)/.deps-ok: tools/requirements.txt
	@bash tools/install_deps.sh
	$(PY) -m pip install -q -r tools/requirements.txt
	@touch $@
# llama-cpp-python builds llama.cpp from source (~3.5 minutes on 2 cores): the tests (quantizing
# with llama.cpp, tests/test_quant_models.py), bench and the fixture scripts need it.
deps-peer: $(VENV)/.peer-ok
$(VENV)/.peer-ok: $(VENV)/.deps-ok
	$(PY) -m pip install -q llama-cpp-python
	@touch $@

weights: $(MODEL)
$(MODEL): weights/fetch.sh
	@bash weights/fetch.sh $(MODEL) $(MODEL_SHA)

# The demo: 16 sampled chains of one question, their answers, the tally and the vote, launched
# in waves of 4 that stop once the vote is settled (--adaptive). The question is question 1 of
# the README's arithmetic set (`chorus gen arith --count 200 --levels 1-5 --seed 1`, level 2, one
# of the levels where voting helps this model on average), with that eval's --max-tokens and
# the default seed; what the vote gets right or wrong is shown as it is. OpenMP threads wait
# passively unless you say otherwise: spinning ones made the demo 3-10x slower on a busy 2-core VM.
DEMO_QUESTION := Farid had 84 toy cars and gave 66 of them to a friend. How many toy cars does Farid have left?
run: deps chorus $(MODEL)
	@echo 'question: $(DEMO_QUESTION)  (the right answer is 18)'
	OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive} ./chorus -m $(MODEL) -n 16 --adaptive \
		--max-tokens 160 -p "$(DEMO_QUESTION)"

# llama.cpp's vocab-only GGUF files (from the llama-cpp-python source package) for the tokenizer
# fixtures; git-ignored like every model file.
TEST_VOCABS := $(addprefix weights/ggml-vocab-,llama-spm.gguf llama-bpe.gguf qwen2.gguf gpt-2.gguf default.gguf nopre.gguf)
$(TEST_VOCABS) &: tools/fetch_test_vocabs.sh tools/make_default_vocab.py | $(VENV)/.deps-ok
	@bash tools/fetch_test_vocabs.sh $(PY)

# ---- tests -----------------------------------------------------------------------------------
# make test: what a person runs after each change (tests/run.sh's stages c asan py replay). The
# C tests over ~20 s under ASan run in make test-all only; so do the other int8 levels, libFuzzer
# and the CUDA emulation. CHORUS_TEST_FULL=1 (test-all sets it) runs the Python tests'
# exhaustive cases. deps-peer: the quantized-model tests quantize with llama.cpp's own quantizer
# and compare with it (llama-cpp-python builds llama.cpp once, ~3.5 min on 2 cores).
ASAN_SLOW       := test_chains test_forward_batch
ASAN_FAST_TESTS := $(filter-out $(ASAN_SLOW:%=build/asan/tests/%),$(ASAN_TESTS))
TEST_ENV         = PYTHON=$(PY) CHORUS_BIN=./chorus CHORUS_ASAN_BIN=./chorus-asan ASAN_SLOW="$(ASAN_SLOW)"
test: deps deps-peer $(MODEL) $(TEST_VOCABS) chorus chorus-asan $(LIBCHORUS) $(CPU_TESTS) \
      $(ASAN_FAST_TESTS) fuzz-replay
	@$(TEST_ENV) bash tests/run.sh c asan py replay

# make test-all: make test (with the Python tests' exhaustive cases), then the rest of the matrix,
# then the total of all three runs. FUZZ_TEST_SECONDS of mutations per libFuzzer target.
FUZZ_TEST_SECONDS ?= 30
test-all:
	@rm -f build/test-logs/totals
	@$(MAKE) --no-print-directory test CHORUS_TEST_FULL=1 TEST_TOTALS=$(CURDIR)/build/test-logs/totals
	@$(MAKE) --no-print-directory $(ASAN_TESTS) fuzz-build
	@$(TEST_ENV) FUZZ_TEST_SECONDS=$(FUZZ_TEST_SECONDS) TEST_TOTALS=build/test-logs/totals \
		bash tests/run.sh isa asan-slow fuzz
	@$(MAKE) --no-print-directory test-gpu-emu TEST_TOTALS=$(CURDIR)/build/test-logs/totals
	@awk '{ p += $$1; f += $$2; s += $$3 } END { printf "test-all: %d passed, %d failed, %d skipped\n", p, f, s; exit f > 0 }' build/test-logs/totals

# Tiny models in a shape the CUDA kernels serve (head size 64), for tests/test_gpu_model.c.
# The architectures' switches too: qwen2 (biases), qwen3 (q/k norms, q wider than dim), Llama 3.x
# rope scaling.
TINY_GPU := $(foreach v,untied tied qwen2 qwen3 llama3,weights/tiny-gpu-$(v).gguf)
TINY_GPU_ARGS_tied   := --tied
TINY_GPU_ARGS_qwen2  := --arch qwen2
TINY_GPU_ARGS_qwen3  := --arch qwen3 --head-dim 128
TINY_GPU_ARGS_llama3 := --rope-freqs --rope-linear 2
tiny-gpu: $(TINY_GPU)
weights/tiny-gpu-%.gguf: tools/make_tiny_model.py | $(VENV)/.deps-ok
	$(PY) tools/make_tiny_model.py $@ --shape gpu --seed 7 $(TINY_GPU_ARGS_$*)

test-gpu: deps $(MODEL) $(TINY_GPU) cuda
	@bash tests/run.sh dir:build/cuda/tests

bench: deps-peer $(MODEL) chorus
	$(PY) tools/bench.py --chorus ./chorus --model $(MODEL)
	$(PY) tools/bench_tokenizer.py --chorus ./chorus

# Regenerates the llama.cpp fixtures (greedy tokens, tokenizer ids) with llama-cpp-python.
fixtures: deps-peer $(MODEL) $(TEST_VOCABS)
	$(PY) tools/gen_greedy_fixtures.py
	$(PY) tools/gen_tokenizer_fixtures.py

# GPU kernel check-and-time programs and other CUDA-only rules live beside the kernels.
-include kernels/kernels.mk
# The CUDA code on the CPU, without nvcc or a GPU: make test-gpu-emu (kernels/emu/README.md).
include kernels/emu/emu.mk
# libFuzzer targets: make fuzz, and their short runs in make test.
include tests/fuzz/fuzz.mk

format:
	clang-format -i $(wildcard runtime/*/*.[ch] tokenizer/*.[ch] sampler/*.[ch] tests/*.[ch] kernels/*.h kernels/*.cu)

clean:
	rm -rf build chorus chorus-asan chorus-cuda
