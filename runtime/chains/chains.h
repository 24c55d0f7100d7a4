// chains.h - the parallel-sample controller (docs/design.md, "The controller").
//
// Each question's prompt is prefilled once into a prefix sequence; its chains are sequences
// whose parent is that prefix, so the prompt's K/V is stored once and read by all of them.
// (The prompt's LAST token is not part of the prefix: every chain feeds it as its own first
// row, so each chain's first token is sampled from its own logits with its own RNG stream, and
// logits never need to leave the backend.)
//
// Live chains of all questions in flight decode together as one batch of rows. A chain stops
// on an end-of-generation token, a stop string, or its token cap. Budget forcing: a chain that
// reaches its thinking cap, or stops without an extractable answer, gets the answer cue appended
// and may decode up to answer_tokens more, so every chain ends with an answer. A finished
// chain's slot is refilled at once: first with another chain of a question already started and
// undecided, then with the next question.
#pragma once
#include "backend/backend.h"
#include "chains/question.h"
#include "tokenizer.h"

// Called when a question is finished (all its chains are in q->chains).
typedef void (*QuestionDone)(Question *q, int index, void *user);

// Runs every question through the backend. Returns 0, or -1 with a message.
int chains_run(Backend *b, const Tokenizer *tok, const ChainsConfig *cfg, Question *qs, int n_q,
               QuestionDone done, void *user, ChainsStats *stats, char *err, size_t errlen);
void question_free_results(Question *q);
