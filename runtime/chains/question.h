// chains/question.h - what the controller is given and gives back: its configuration, each
// chain's result and each question's (chains/chains.h runs them; chains/schedule.h decides its
// waves from them). Below both, so the controller and its schedule do not include each other.
#pragma once
#include "chains/answer.h"
#include "chains/confidence.h"
#include "chains/policy.h"

#include "sampler.h"

#include <regex.h>
#include <stdint.h>

typedef enum {
    STOP_NONE,
    STOP_EOG,
    STOP_STRING,
    STOP_MAX_TOKENS,
    STOP_ANSWER_CAP,
    STOP_LOW_CONF // DeepConf: its group confidence fell below the question's threshold
} StopReason;
const char *stop_reason_name(StopReason r);

// Why a question got no more chains: all it asked for (n_samples, or a policy bin's allocation),
// its vote was settled (adaptive rule, or a policy bin that stops there), a policy bin judged it
// hopeless, a budget ran out, or (DeepConf) the confidence-weighted consensus reached tau.
typedef enum {
    QSTOP_NONE,
    QSTOP_ALL,
    QSTOP_SETTLED,
    QSTOP_HOPELESS,
    QSTOP_BUDGET,
    QSTOP_CONSENSUS
} QuestionStop;

const char *question_stop_name(QuestionStop s);

typedef struct {
    SamplerParams sampler;
    uint64_t seed;
    int n_samples;           // chains per question at most (N)
    int parallel;            // live chains at most (B)
    int max_tokens;          // sampled tokens per chain, thinking + answer: a hard cap
    int think_tokens;        // when budget forcing starts (<= max_tokens - answer_tokens)
    int answer_tokens;       // sampled tokens allowed after the cue
    const char *answer_cue;  // NULL or "" turns budget forcing off
    const char *const *stop; // stop strings [n_stop]
    int n_stop;
    long budget;       // sampled tokens per question (0 = no limit)
    long run_budget;   // sampled tokens for the whole run (0 = no limit)
    int adaptive;      // launch in waves and stop a question once settled
    int wave;          // chains per wave
    double confidence; // adaptive stopping threshold
    // compute-optimal policy (policy.h), or NULL: a first wave of policy->wave chains at its
    // probe budget, then its bin's allocation. Needs n_samples >= policy_max_chains() and
    // max_tokens >= policy_max_think() + answer_tokens. Exclusive with adaptive.
    const Policy *policy;
    DeepConf deepconf;
    int conf_k;               // per-token confidence over the k most likely tokens (0 = off)
    const regex_t *answer_re; // --answer-regex, or NULL
    // Thinking models (Qwen3, DeepSeek-R1 distills: the text opens a block with think_begin and
    // closes it with think_end, which their vocabularies hold as one token). When budget forcing
    // cuts a chain inside an open block, the block is closed (think_end, a blank line) before
    // the answer cue. s1's budget extension: the first think_extend_max times a chain samples
    // think_end before its thinking cap, the token is dropped and think_extend fed instead.
    const char *think_begin;  // NULL: "<think>"
    const char *think_end;    // NULL: "</think>"; a model without it as one token is not thinking
    const char *think_extend; // --think-extend (NULL or "": no extension)
    int think_extend_max;     // --think-extend-max
    // optional: [n_q] the RNG stream of each question, e.g. its index in the whole data set, so
    // a shard of a task file samples exactly what a full run does (NULL = its position in qs)
    const int *seed_index;
    // optional: called with each piece of a chain's text as it is generated (streaming)
    void (*on_text)(int question, int chain, const char *text, size_t n, void *user);
    void *text_user;
} ChainsConfig;

ChainsConfig chains_defaults(void);

typedef struct {
    int index;  // chain number within its question (its RNG stream)
    int think;  // its thinking budget
    char *text; // generated text, cue included if forced (NUL-terminated)
    size_t len;
    int n_tokens;       // sampled tokens
    int n_forced;       // cue tokens fed (and the thinking block's close and extensions)
    int n_extend;       // times the end of thinking was replaced by think_extend
    double sum_logprob; // over sampled tokens
    float *conf;        // [n_tokens] each sampled token's confidence (NULL when conf_k = 0)
    double sum_entropy; // over sampled tokens (0 when conf_k = 0)
    StopReason stop;
    int forced; // the answer cue was appended
    int has_answer;
    char answer[ANSWER_MAX];
} ChainResult;

typedef struct {
    const char *prompt;    // formatted prompt text (chat template applied)
    const char *reference; // reference answer (normalised by the caller) or NULL
    // filled by chains_run:
    int n_prompt;        // prompt tokens
    ChainResult *chains; // [n_chains], in the order they finished
    int n_chains;
    long decode_tokens; // sampled tokens over all chains
    long forced_tokens; // cue tokens fed
    int settled_early;  // adaptive: stopped before n_samples because settled
    int budget_capped;  // launched fewer chains than it asked for because of a budget
    QuestionStop stop;  // why it got no more chains
    double conf_thr;    // DeepConf: the warm-up's threshold (NAN without)
    int bin;            // policy: the first wave's bin (-1 without a policy)
    double score;       // policy: the first wave's score
    double seconds;     // from its prefill to its last chain
} Question;

typedef struct {
    long prefill_tokens, decode_tokens, forced_tokens;
    long steps, rows;
    double seconds, prefill_seconds;
    size_t peak_kv_bytes;
} ChainsStats;
