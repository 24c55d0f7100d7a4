// eval/questions.c - a question's arms and what its records own (eval/questions.h).
#include "eval/questions.h"

#include <stdlib.h>
#include <string.h>

static int by_arm(const void *a, const void *b) {
    const EvalChain *x = a, *y = b;
    if (x->think != y->think) return (x->think > y->think) - (x->think < y->think);
    return (x->index > y->index) - (x->index < y->index);
}

void eval_sort_chains(EvalQuestion *q) {
    qsort(q->chains, (size_t)q->n_chains, sizeof *q->chains, by_arm);
}

const EvalChain *eval_arm(const EvalQuestion *q, int think, int *n) {
    int i = 0;
    while (i < q->n_chains && q->chains[i].think < think) i++;
    int j = i;
    while (j < q->n_chains && q->chains[j].think == think) j++;
    *n = j - i;
    return j > i ? &q->chains[i] : NULL;
}

// What a chain owns (the greedy chain as much as the sampled ones).
static void eval_chain_free(EvalChain *c) {
    free(c->answer);
    free(c->text);
    free(c->conf);
}

void eval_question_free(EvalQuestion *q) {
    for (int i = 0; i < q->n_chains; i++) eval_chain_free(&q->chains[i]);
    free(q->chains);
    eval_chain_free(&q->greedy);
    free(q->question);
    free(q->reference);
    memset(q, 0, sizeof *q);
}
