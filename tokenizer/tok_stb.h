// tok_stb.h - includes stb_ds (hash maps for the vocabulary and the merges). stb_ds spells the
// GNU `typeof` keyword, which -std=c11 does not have; `__typeof__` is the same operator.
#pragma once
#if defined(__GNUC__) && !defined(typeof)
#define typeof __typeof__
#endif
#include "stb_ds.h"
