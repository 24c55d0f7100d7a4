// cuda_fp16.h - chorus's stand-in (kernels/emu/README.md): the kernels use no fp16 yet; this
// header exists so code that includes it compiles.
#pragma once
