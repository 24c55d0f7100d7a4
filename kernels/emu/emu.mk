# kernels/emu/emu.mk - the CUDA code built to run on the CPU (kernels/emu/README.md); included
# by the main Makefile. No nvcc and no GPU: kernels/*.cu are rewritten by cu2cpp.py and built
# by g++ against the stand-in headers in kernels/emu/include, the host code (runtime/cuda/, runtime/backend/cuda.c,
# tests/test_gpu_*.c) by cc against the same headers. Three builds:
#   build/emu        plain: every GPU test, the probes, chorus itself (build/emu/chorus)
#   build/emu-asan   ASan + UBSan: out-of-bounds global and shared memory (red zones)
#   build/emu-tsan   TSan: each CUDA thread a TSan fiber; races between threads and blocks
#
#   make test-gpu-emu      all of it (what .ci/run runs; tests/emu/run.sh says what runs where)
#   make emu               the plain build only (then e.g. build/emu/tests/test_gpu_model)

EMU_MODES := emu emu-asan emu-tsan
EMU_INC   := -Ikernels/emu/include -Ikernels/emu
EMU_API   := $(wildcard kernels/emu/include/*.h)
EMU_HDRS  := $(EMU_API) $(wildcard kernels/emu/*.h)
EMU_CXX   ?= g++
# OpenMP: TSan cannot see libgomp's synchronisation, so the TSan build has none (the simd
# pragmas stay, the parallel ones are ignored without a warning).
EMU_C_emu       := $(CFLAGS)
EMU_C_emu-asan  := $(CFLAGS) $(ASAN_FLAGS)
EMU_C_emu-tsan  := $(filter-out -fopenmp,$(CFLAGS)) -fopenmp-simd -O2 -g -fsanitize=thread
EMU_L_emu       := $(LDFLAGS)
EMU_L_emu-asan  := $(LDFLAGS) $(ASAN_FLAGS)
EMU_L_emu-tsan  := $(filter-out -fopenmp,$(LDFLAGS)) -fsanitize=thread
# C++ (the kernels, the emulation): the C flags less what is C-only; #pragma unroll is nvcc's.
EMU_CXXFLAGS = $(filter-out -std=c11,$(EMU_C_$(1))) -std=c++17 -Wno-unknown-pragmas

EMU_KERNELS := $(CUDA_SRC:kernels/%.cu=%)
EMU_RT      := runtime cublas block fiber

# $(1) = mode. Objects: the library, the CUDA host files, the kernels, the emulation.
define EMU_BUILD
EMU_OBJ_$(1) := $(LIB_SRC:%.c=build/$(1)/%.o) $(call QGEMM_OBJ,$(1)) \
                $(CUDA_CSRC:%.c=build/$(1)/%.o) $(EMU_KERNELS:%=build/$(1)/kernels/%.o) \
                $(EMU_RT:%=build/$(1)/emu/%.o)
.SECONDARY: $$(EMU_OBJ_$(1))

build/$(1)/%.o: %.c $(HDRS) $(EMU_API)
	@mkdir -p $$(dir $$@)
	$(CC) $(EMU_C_$(1)) -DCHORUS_CUDA $(EMU_INC) -c -o $$@ $$<
build/$(1)/runtime/cpu/qgemm_kernels_%.o: runtime/cpu/qgemm_kernels.c $(HDRS)
	@mkdir -p $$(dir $$@)
	$(CC) $(EMU_C_$(1)) -DCHORUS_CUDA $$(ISA_FLAGS_$$*) -DQGEMM_LEVEL=$$* -c -o $$@ $$<
# the kernels: rewritten, then built as C++
build/$(1)/kernels/%.cpp: kernels/%.cu kernels/emu/cu2cpp.py
	@mkdir -p $$(dir $$@)
	$(PYTHON) kernels/emu/cu2cpp.py $$< $$@
build/$(1)/kernels/%.o: build/$(1)/kernels/%.cpp $(HDRS) $(EMU_HDRS) $(wildcard kernels/*.cuh)
	$(EMU_CXX) $(call EMU_CXXFLAGS,$(1)) $(EMU_INC) -c -o $$@ $$<
build/$(1)/emu/%.o: kernels/emu/%.cpp $(EMU_HDRS)
	@mkdir -p $$(dir $$@)
	$(EMU_CXX) $(call EMU_CXXFLAGS,$(1)) $(EMU_INC) -c -o $$@ $$<
build/$(1)/emu/fiber.o: kernels/emu/fiber.c kernels/emu/fiber.h
	@mkdir -p $$(dir $$@)
	$(CC) $(EMU_C_$(1)) -c -o $$@ $$<
# tests/test_gpu_*.c and the emulation's own tests (tests/emu/*.cu)
build/$(1)/tests/test_gpu_%: tests/test_gpu_%.c $$(EMU_OBJ_$(1))
	@mkdir -p $$(dir $$@)
	$(CC) $(EMU_C_$(1)) -DCHORUS_CUDA $(EMU_INC) $(EMU_L_$(1)) -o $$@ $$< $$(EMU_OBJ_$(1)) \
		$(LDLIBS) -lstdc++
build/$(1)/tests/%.cpp: tests/emu/%.cu kernels/emu/cu2cpp.py
	@mkdir -p $$(dir $$@)
	$(PYTHON) kernels/emu/cu2cpp.py $$< $$@
build/$(1)/tests/%: build/$(1)/tests/%.cpp $$(EMU_OBJ_$(1))
	$(EMU_CXX) $(call EMU_CXXFLAGS,$(1)) $(EMU_INC) -Itests $(EMU_L_$(1)) -o $$@ $$< \
		$$(EMU_OBJ_$(1)) $(LDLIBS)
endef
$(foreach m,$(EMU_MODES),$(eval $(call EMU_BUILD,$(m))))
.PRECIOUS: build/emu%.cpp # the rewritten sources: what compiler messages point past

# block.cpp under TSan: its bookkeeping is ordered by fiber switches TSan cannot see, so it is
# not instrumented; it still tells TSan about fibers and synchronisation (EMU_TSAN).
build/emu-tsan/emu/block.o: kernels/emu/block.cpp $(EMU_HDRS)
	@mkdir -p $(dir $@)
	$(EMU_CXX) $(filter-out -fsanitize=thread,$(call EMU_CXXFLAGS,emu-tsan)) -DEMU_TSAN \
		$(EMU_INC) -c -o $@ $<

EMU_GPU_TESTS := $(GPU_TEST_SRC:tests/%.c=%)
EMU_OWN_TESTS := $(patsubst tests/emu/%.cu,%,$(wildcard tests/emu/test_*.cu))
EMU_PROBES    := $(patsubst tests/emu/%.cu,%,$(wildcard tests/emu/probe*.cu))
# the sanitizer builds carry the kernel and sampler tests and the probes (the whole-model tests
# run in the plain build: under a sanitizer they would take most of an hour on 2 cores)
EMU_SAN_TESTS := test_gpu_kernels test_gpu_sample test_gpu_attention $(EMU_OWN_TESTS) $(EMU_PROBES)

build/emu/chorus: $(EMU_OBJ_emu) build/emu/runtime/cli/main.o
	$(CC) $(EMU_L_emu) -o $@ $^ $(LDLIBS) -lstdc++
build/emu/dev/%: kernels/dev/%.cu $(wildcard kernels/dev/*.h) $(EMU_OBJ_emu) kernels/emu/cu2cpp.py
	@mkdir -p $(dir $@)
	$(PYTHON) kernels/emu/cu2cpp.py $< $@.cpp
	$(EMU_CXX) $(call EMU_CXXFLAGS,emu) $(EMU_INC) -Iruntime -Isampler -Ikernels $(EMU_L_emu) \
		-o $@ $@.cpp $(EMU_OBJ_emu) $(LDLIBS)

.PHONY: emu emu-san test-gpu-emu
emu: build/emu/chorus $(EMU_GPU_TESTS:%=build/emu/tests/%) $(EMU_OWN_TESTS:%=build/emu/tests/%) \
     $(EMU_PROBES:%=build/emu/tests/%) $(KDEV_SRC:kernels/dev/%.cu=build/emu/dev/%)
emu-san: $(foreach m,emu-asan emu-tsan,$(EMU_SAN_TESTS:%=build/$(m)/tests/%))

test-gpu-emu: deps $(MODEL) $(TINY_GPU) emu emu-san
	@PYTHON=$(PY) bash tests/emu/run.sh
