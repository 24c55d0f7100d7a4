// kv_entries.h - for the backends themselves: the KV half of the interface is the same on both
// (model/kvcache.h's sequence table; CUDA moves only its storage to the device), so its four
// entries are written once, here. They take an impl whose first member is its KVCache (each
// backend checks that with a _Static_assert).
#pragma once
#include "backend/backend.h"

void backend_set_kv_entries(Backend *b);
