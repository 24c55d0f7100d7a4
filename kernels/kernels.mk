# kernels.mk - CUDA-only rules, included by the main Makefile.
#
#   make kernel-bench   builds and runs kernels/dev/*.cu (the kernel lab, kernels/dev/lab.h):
#                       each program checks one kernel against its CPU twin (the runtime's own
#                       function, linked in) on random inputs at Llama-2-7B's shapes, then times
#                       it and prints us/call, GB/s and the share of the device's measured copy
#                       bandwidth (llm.c's dev/cuda idea). Without a device they print SKIP and
#                       exit 0; a failed check stops the run.
# The dev programs are also prerequisites of `make cuda`, so CI keeps them compiling.

KDEV_SRC := $(wildcard kernels/dev/*.cu)
KDEV_BIN := $(KDEV_SRC:kernels/dev/%.cu=build/cuda/dev/%)
KOBJ     := $(CUDA_SRC:%.cu=build/cuda/%.o)

cuda: $(KDEV_BIN)

kernel-bench: $(KDEV_BIN)
	@for b in $(KDEV_BIN); do echo "== $$b"; $$b || exit 1; done

# The CPU twins they check against are the runtime's own functions: the whole library is linked
# (built with OpenMP, hence -fopenmp for the host linker).
build/cuda/dev/%: kernels/dev/%.cu $(wildcard kernels/dev/*.h) $(CUDA_OBJ) $(HDRS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -o $@ $< $(CUDA_OBJ) $(CUDA_LIBS) $(LDLIBS) -Xcompiler -fopenmp
