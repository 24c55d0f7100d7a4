# kernels.mk - CUDA-only rules, included by the main Makefile.
#
#   make kernel-bench   builds and runs kernels/dev/*.cu: each program checks one kernel against
#                       a CPU reference on random inputs, then times it and prints GB/s against
#                       the device's measured copy bandwidth (llm.c's dev/cuda idea). Without a
#                       device they print SKIP and exit 0.
# The dev programs are also prerequisites of `make cuda`, so CI keeps them compiling.

KDEV_SRC := $(wildcard kernels/dev/*.cu)
KDEV_BIN := $(KDEV_SRC:kernels/dev/%.cu=build/cuda/dev/%)
KOBJ     := $(CUDA_SRC:%.cu=build/cuda/%.o)

cuda: $(KDEV_BIN)

kernel-bench: $(KDEV_BIN)
	@for b in $(KDEV_BIN); do echo "== $$b"; $$b || exit 1; done

build/cuda/dev/%: kernels/dev/%.cu $(KOBJ) $(HDRS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -o $@ $< $(KOBJ) $(CUDA_LIBS)
