// stb_ds_impl.c - the one translation unit that compiles stb_ds (Debian's libstb-dev), the
// hash maps behind the vocabulary and merge lookups. Its warnings are not ours to fix.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#define STB_DS_IMPLEMENTATION
#include "tok_stb.h"
#pragma GCC diagnostic pop
