"""llama_peer.py - a thin wrapper over llama-cpp-python's LOW-LEVEL API (the llama.h functions),
used as the peer that chorus is compared with (tools/bench_llamacpp.py,
tools/gen_greedy_fixtures.py).

Only the C API is used (no high-level Llama object), so we control batching, sequences and
the KV cache exactly: llama_batch_init / llama_decode / llama_get_logits_ith and the KV-memory
calls (llama_memory_seq_cp in current versions, llama_kv_self_seq_cp / llama_kv_cache_seq_cp in
older ones - whichever the installed package has).
"""
import ctypes

import numpy as np

import llama_cpp as L

_log_cb = None


def quiet():
    """Silence llama.cpp's stderr logging (keeps a reference to the callback alive)."""
    global _log_cb
    if _log_cb is None:
        _log_cb = L.llama_log_callback(lambda level, text, user: None)
        L.llama_log_set(_log_cb, ctypes.c_void_p(0))


def _first(*names):
    for n in names:
        if hasattr(L, n):
            return getattr(L, n)
    return None


class Peer:
    """One llama.cpp model + context on the CPU."""

    def __init__(self, model_path, n_ctx=512, n_seq=1, threads=2, n_batch=512,
                 flash_attn=True, unified_kv=True, verbose=False):
        if not verbose:
            quiet()
        L.llama_backend_init()
        mp = L.llama_model_default_params()
        mp.n_gpu_layers = 0
        self.model = L.llama_model_load_from_file(model_path.encode(), mp)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {model_path}")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)

        cp = L.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = n_batch
        cp.n_ubatch = n_batch
        cp.n_seq_max = n_seq
        cp.n_threads = threads
        cp.n_threads_batch = threads
        names = [f for f, _ in cp._fields_]
        if "flash_attn_type" in names:
            cp.flash_attn_type = (L.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attn
                                  else L.LLAMA_FLASH_ATTN_TYPE_DISABLED)
        elif "flash_attn" in names:
            cp.flash_attn = flash_attn
        if "kv_unified" in names:  # one KV buffer for all sequences: a shared prompt stored once
            cp.kv_unified = unified_kv
        if "logits_all" in names:
            cp.logits_all = False
        if "no_perf" in names:
            cp.no_perf = True
        self.ctx = L.llama_init_from_model(self.model, cp)
        if not self.ctx:
            raise RuntimeError("llama.cpp could not create a context")
        self.n_ctx, self.n_batch, self.n_seq = n_ctx, n_batch, n_seq
        self.batch = L.llama_batch_init(max(n_batch, n_seq), 0, n_seq)
        self.mem = L.llama_get_memory(self.ctx) if hasattr(L, "llama_get_memory") else None

    def close(self):
        if self.batch is not None:
            L.llama_batch_free(self.batch)
            self.batch = None
        if self.ctx:
            L.llama_free(self.ctx)
            self.ctx = None
        if self.model:
            L.llama_model_free(self.model)
            self.model = None

    # ---- tokens -------------------------------------------------------------------------------
    def tokenize(self, text, add_bos=False, special=True):
        raw = text.encode("utf-8")
        cap = len(raw) + 16
        buf = (L.llama_token * cap)()
        n = L.llama_tokenize(self.vocab, raw, len(raw), buf, cap, add_bos, special)
        if n < 0:
            raise RuntimeError(f"tokenize: need {-n} slots")
        return list(buf[:n])

    def piece(self, tok):
        buf = ctypes.create_string_buffer(256)
        n = L.llama_token_to_piece(self.vocab, tok, buf, 256, 0, True)
        return buf.raw[:max(n, 0)].decode("utf-8", errors="replace")

    # ---- KV memory ----------------------------------------------------------------------------
    def clear(self):
        if self.mem is not None:
            L.llama_memory_clear(self.mem, True)
        else:
            _first("llama_kv_self_clear", "llama_kv_cache_clear")(self.ctx)

    def seq_cp(self, src, dst):
        """Share all of sequence src's cells with sequence dst (no recompute)."""
        if self.mem is not None:
            L.llama_memory_seq_cp(self.mem, src, dst, -1, -1)
        else:
            _first("llama_kv_self_seq_cp", "llama_kv_cache_seq_cp")(self.ctx, src, dst, -1, -1)

    # ---- decoding -----------------------------------------------------------------------------
    def decode(self, tokens, pos, seqs, want):
        """One llama_decode of len(tokens) rows. seqs[i]: the sequence id of row i;
        want[i]: whether row i's logits are kept. Returns nothing; read with logits(i)."""
        b = self.batch
        n = len(tokens)
        assert n <= max(self.n_batch, self.n_seq)
        for i in range(n):
            b.token[i] = tokens[i]
            b.pos[i] = pos[i]
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seqs[i]
            b.logits[i] = bool(want[i])
        b.n_tokens = n
        rc = L.llama_decode(self.ctx, b)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")

    def prefill(self, tokens, seq=0, start=0):
        """Decode a prompt into one sequence in chunks of n_batch; keeps the last row's logits."""
        for c in range(0, len(tokens), self.n_batch):
            chunk = tokens[c:c + self.n_batch]
            last = c + len(chunk) == len(tokens)
            self.decode(chunk, [start + c + i for i in range(len(chunk))], [seq] * len(chunk),
                        [last and i == len(chunk) - 1 for i in range(len(chunk))])
        return len(tokens) - 1 - (len(tokens) - 1) // self.n_batch * self.n_batch

    def logits(self, i):
        """Copy of the logits of batch row i (of the last decode) as float32 [n_vocab]."""
        p = L.llama_get_logits_ith(self.ctx, i)
        return np.ctypeslib.as_array(p, shape=(self.n_vocab,)).copy()

    def logits_rows(self, rows):
        """[len(rows), n_vocab] float32 (rows of the last decode)."""
        return np.stack([self.logits(i) for i in rows])


def top2_gap(row):
    """(argmax id, top-1 minus top-2 logit)."""
    i = int(np.argmax(row))
    top2 = np.partition(row, -2)[-2:]
    return i, float(top2[1] - top2[0])
