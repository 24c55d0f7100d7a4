// test_vote.c - answer extraction and normalisation (answer.h), aggregation and the adaptive
// stopping rule (vote.h).
#include "check.h"
#include "chains/schedule.h"
#include "chains/vote.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// ---- extraction -------------------------------------------------------------------------------

static void expect(const char *text, const regex_t *re, const char *want) {
    char out[ANSWER_MAX];
    int found = answer_extract(text, re, out, sizeof out);
    if (!want)
        CHECK(!found && out[0] == '\0', "\"%s\": want no answer, got \"%s\"", text, out);
    else
        CHECK(found && !strcmp(out, want), "\"%s\": got \"%s\", want \"%s\"", text, out, want);
}

static void test_rules(void) {
    expect("She has 3 + 4 = 7 apples.\n#### 7", NULL, "7");
    expect("#### 1,234\nextra words 99", NULL, "1234");
    expect("first #### 5 then #### 6 apples", NULL, "6");
    expect("#### yes", NULL, "yes");
    expect("#### \n so 12", NULL, "12"); // empty #### line: the later rules decide
    expect("so the total is \\boxed{42}.", NULL, "42");
    expect("\\boxed{1} then \\boxed{\\frac{1}{2}}", NULL, "\\frac{1}{2}");
    expect("\\boxed{3} and a cut-off \\boxed{\\frac{1}{", NULL, "3");
    expect("\\boxed{ $18.00 }", NULL, "18");
    expect("\\boxed{50\\%}", NULL, "50");
    expect("2 + 3 = 5, so the answer is 5 apples. Check: 5 - 3 = 2", NULL, "5");
    expect("The Answer Is: $1,000.", NULL, "1000");
    expect("The answer is\n-8", NULL, "-8");
    expect("We get 3, then 12, and finally 20 cookies", NULL, "20");
    expect("no digits at all", NULL, NULL);
    expect("", NULL, NULL);
    expect("answer is unknown but x = 4", NULL, "4");     // the first number after "answer is"
    expect("x = 4 and the answer is unknown", NULL, "4"); // none after it: the last number
    expect("The answer is 7 and #### 8", NULL, "8");
    expect("The answer is 7 + 4 = 11.", NULL, "11"); // worked out on the line
    // thinking blocks: the drafts inside do not count when an answer follows them
    expect("<think>\nMaybe \\boxed{5}? Wait, 3 + 4 = 7.\n</think>\n\nThe answer is 7.", NULL, "7");
    expect("<think>so #### 9</think> It is \\boxed{12}", NULL, "12");
    expect("<think>first 4</think>wait<think>then 6</think>\n6 apples, not 5", NULL, "5");
    expect("<think>I think it is 42, or", NULL, "42");             // cut off inside: the whole text
    expect("<think>it is 42</think>\n\nno idea", NULL, "42");      // nothing after: the whole text
    expect("The answer is 3 x 4 = 12 apples.\nx = 9", NULL, "12"); // only that line's '='
    expect("The answer is 5.\nThen 2 = 2", NULL, "5");             // #### outranks "answer is"
}

static void test_numbers(void) {
    expect("it is -12", NULL, "-12");
    expect("it is \xE2\x88\x92"
           "12",
           NULL, "-12");      // U+2212 MINUS SIGN
    expect("x-3", NULL, "3"); // a minus between terms is not a sign
    expect("5-3", NULL, "3");
    expect("costs $4.50", NULL, "4.5");
    expect("about 3.14159", NULL, "3.14159");
    expect("value 2.000", NULL, "2");
    expect("value 7.0.", NULL, "7");
    expect("ratio .5", NULL, "0.5");
    expect("zero -0.00", NULL, "0");
    expect("padded 007", NULL, "7");
    expect("grew 25%", NULL, "25");
    expect("list 1, 2, 3", NULL, "3"); // ", 2" is not a thousands group
    expect("big 12,345,678 units", NULL, "12345678");
    expect("odd 1,23", NULL, "23");                                        // "1,23" is two numbers
    expect("H2O and step2", NULL, NULL);                                   // glued to a word
    expect("Die Antwort ist \xC3\xA4hnlich 42 \xE2\x82\xAC.", NULL, "42"); // UTF-8 around it
    expect("\xE6\x97\xA5\xE6\x9C\xAC 17", NULL, "17");
}

static void test_normalize(void) {
    char out[ANSWER_MAX];
    CHECK(answer_normalize("  1,234.50 ", out, sizeof out) && !strcmp(out, "1234.5"), "%s", out);
    CHECK(answer_normalize("$-3", out, sizeof out) && !strcmp(out, "-3"), "%s", out);
    CHECK(answer_normalize("  New   York. ", out, sizeof out) && !strcmp(out, "New York"), "%s",
          out);
    CHECK(answer_normalize("$x^2$", out, sizeof out) && !strcmp(out, "x^2"), "%s", out);
    CHECK(!answer_normalize("  . ", out, sizeof out) && out[0] == '\0', "empty");
    char small[4];
    CHECK(!answer_normalize("12345", small, sizeof small) && small[0] == '\0', "too long");
    CHECK(answer_normalize("123", small, sizeof small) && !strcmp(small, "123"), "fits exactly");
    CHECK(!answer_extract("#### abcdefgh", NULL, small, sizeof small),
          "clipped answers don't vote");
}

static void test_regex(void) {
    regex_t re;
    char err[256];
    CHECK(answer_regex_compile(&re, "Final: *([-0-9.,]+)", err, sizeof err) == 0, "compile");
    expect("Final: 3 ... Final: 1,500.0 done", &re, "1500");
    expect("#### 9 but no marker", &re, NULL); // the regex overrides the built-in rules
    regfree(&re);
    CHECK(answer_regex_compile(&re, "[0-9]+ apples", err, sizeof err) == 0, "compile");
    expect("3 apples and 12 apples", &re, "12 apples"); // no group: the whole match
    regfree(&re);
    CHECK(answer_regex_compile(&re, "x*", err, sizeof err) == 0, "compile");
    expect("abc", &re, NULL); // only empty matches: nothing to vote, and no endless loop
    regfree(&re);
    CHECK(answer_regex_compile(&re, "(unclosed", err, sizeof err) == -1 &&
              strstr(err, "(unclosed") != NULL,
          "a bad regex is a clear error: %s", err);
}

// ---- hostile model output ---------------------------------------------------------------------

// The \boxed{} rule as first written (a forward scan from every opening, quadratic): the
// reference for the linear one. The span of the box that starts last among those that close.
static int ref_boxed(const char *text, const char **b, const char **e) {
    const char *end = text + strlen(text);
    *b = *e = NULL;
    for (const char *p = text; (p = strstr(p, "\\boxed{")); p++) {
        const char *q = p + 7;
        int depth = 1;
        for (; q < end && depth; q++) depth += (*q == '{') - (*q == '}');
        if (depth == 0) *b = p + 7, *e = q - 1;
    }
    return *b != NULL;
}

// Random texts of boxes and braces: the linear rule picks what the quadratic one did.
static void test_boxed_reference(void) {
    static const char *parts[] = {"\\boxed{", "{", "}", "7", "12", " ", "x", "}}", "\\boxed{3}"};
    unsigned r = 12345;
    int compared = 0, agree = 0;
    for (int it = 0; it < 20000; it++) {
        char text[512] = "";
        int n = 1 + (int)((r = r * 1103515245u + 12345u) >> 16) % 24;
        for (int i = 0; i < n; i++) {
            r = r * 1103515245u + 12345u;
            strcat(text, parts[(r >> 16) % 9]);
        }
        const char *b, *e;
        char span[512], want[ANSWER_MAX], got[ANSWER_MAX];
        if (!ref_boxed(text, &b, &e)) continue;
        memcpy(span, b, (size_t)(e - b));
        span[e - b] = '\0';
        if (!answer_normalize(span, want, sizeof want)) continue; // empty: a later rule decides
        compared++;
        agree += answer_extract(text, NULL, got, sizeof got) && !strcmp(got, want);
    }
    CHECK(compared > 1000 && agree == compared, "boxed: %d of %d texts agree with the reference",
          agree, compared);
}

static double cpu_seconds(void) {
    return (double)clock() / CLOCKS_PER_SEC;
}

// Model output is untrusted: extraction must be linear. Complexity guards, not speed tests:
// each input below took the quadratic versions 10-100 s (34 s for 100k unclosed boxes); linear
// they take milliseconds (tens under ASan), so a bound of 2 s of CPU time separates the two
// by an order of magnitude either way.
static void test_linear(void) {
    const int reps = 100000;
    char *t = malloc(16 + 7 * (size_t)reps);
    strcpy(t, "\\boxed{7}");
    for (int i = 0; i < reps; i++) memcpy(t + 9 + 7 * (size_t)i, "\\boxed{", 7);
    t[9 + 7 * (size_t)reps] = '\0';
    double c0 = cpu_seconds();
    expect(t, NULL, "7"); // every later box is unclosed
    double dt = cpu_seconds() - c0;
    CHECK(dt < 2.0, "100k unclosed \\boxed{ took %.2f s of CPU: quadratic again?", dt);
    free(t);
    // --answer-regex over 800k matches: each regexec once took strlen of the rest. Under ASan
    // the guard cannot hold: its regexec interceptor itself reads the rest of the string at
    // every call, so there only the result is checked, on fewer matches.
#if defined(__SANITIZE_ADDRESS__)
    const int matches = 2000, guard = 0;
#else
    const int matches = 800000, guard = 1;
#endif
    t = malloc(2 * (size_t)matches + 2);
    for (int i = 0; i < matches; i++) memcpy(t + 2 * (size_t)i, i + 1 < matches ? "1 " : "9 ", 2);
    t[2 * (size_t)matches] = '\0';
    regex_t re;
    char err[256];
    CHECK(answer_regex_compile(&re, "([0-9]+)", err, sizeof err) == 0, "compile");
    c0 = cpu_seconds();
    expect(t, &re, "9");
    dt = cpu_seconds() - c0;
    if (guard)
        CHECK(dt < 2.0, "a regex with 800k matches took %.2f s of CPU: quadratic again?", dt);
    regfree(&re);
    free(t);
}

// ---- aggregation ------------------------------------------------------------------------------

static VoteEntry E(const char *a, double lp, int n) {
    VoteEntry e = {a, lp, n, 0};
    return e;
}

static void test_majority(void) {
    VoteEntry e[] = {E("5", -10, 10), E(NULL, -1, 10), E("7", -3, 10),
                     E("5", -9, 10),  E("7", -4, 10),  E("9", -1, 10)};
    VoteResult r;
    CHECK(vote_aggregate(e, 6, VOTE_MAJORITY, &r) == 0, "aggregate");
    // 5 and 7 tie on 2 votes; 7's total log-prob (-7) beats 5's (-19)
    CHECK(r.winner && !strcmp(r.winner, "7") && r.votes == 2, "tie -> higher total log-prob");
    CHECK(r.n_voters == 5 && r.n_entries == 6 && fabs(r.share - 0.4) < 1e-12, "counts");
    CHECK(r.n_tally == 3 && !strcmp(r.tally[1].answer, "5") && !strcmp(r.tally[2].answer, "9"),
          "tally sorted");
    CHECK(r.tally[1].votes == 2 && fabs(r.tally[1].sum_logprob + 19) < 1e-12, "tally sums");
    vote_result_free(&r);
    VoteEntry none[] = {E(NULL, -1, 3), E(NULL, -2, 3)};
    CHECK(vote_aggregate(none, 2, VOTE_MAJORITY, &r) == 0 && r.winner == NULL && r.n_voters == 0 &&
              r.share == 0,
          "no answers: no winner");
    vote_result_free(&r);
    CHECK(vote_aggregate(NULL, 0, VOTE_BEST, &r) == 0 && r.winner == NULL, "no chains");
    vote_result_free(&r);
    VoteEntry exact[] = {E("b", -2, 1), E("a", -2, 1)}; // full tie: the first chain's answer
    CHECK(vote_aggregate(exact, 2, VOTE_MAJORITY, &r) == 0 && !strcmp(r.winner, "b"), "first");
    vote_result_free(&r);
}

static void test_weighted_and_best(void) {
    // "4": three chains with mean log-prob -2 (weight e^-2 = 0.135 each, 0.406 in all)
    // "6": one chain with mean -0.1 (weight 0.905): weighted picks 6, majority picks 4
    VoteEntry e[] = {E("4", -20, 10), E("4", -40, 20), E("6", -1, 10), E("4", -2, 1),
                     E("8", -0.5, 0)}; // n_tokens 0: weight 0, never best
    VoteResult r;
    vote_aggregate(e, 5, VOTE_MAJORITY, &r);
    CHECK(!strcmp(r.winner, "4") && r.votes == 3, "majority");
    vote_result_free(&r);
    vote_aggregate(e, 5, VOTE_WEIGHTED, &r);
    CHECK(!strcmp(r.winner, "6") && fabs(r.score - exp(-0.1)) < 1e-12, "weighted: %s", r.winner);
    CHECK(fabs(r.tally[1].weight - 3 * exp(-2.0)) < 1e-12 && r.tally[2].weight == 0, "weights");
    vote_result_free(&r);
    vote_aggregate(e, 5, VOTE_BEST, &r);
    CHECK(!strcmp(r.winner, "6") && fabs(r.score + 0.1) < 1e-12, "best by mean log-prob");
    CHECK(fabs(r.share - 0.2) < 1e-12, "share is agreement: 1 of 5 voters");
    vote_result_free(&r);
    CHECK(vote_parse_method("weighted") == VOTE_WEIGHTED &&
              vote_parse_method("best") == VOTE_BEST &&
              vote_parse_method("majority") == VOTE_MAJORITY && vote_parse_method("mode") == -1 &&
              vote_parse_method(NULL) == -1,
          "parse method");
    CHECK(!strcmp(vote_method_name(VOTE_WEIGHTED), "weighted"), "method name");
}

// ---- adaptive stopping ------------------------------------------------------------------------

// P(p > 1/2) under Beta(a + 1, b + 1), by Simpson's rule on the density (not the binomial sum
// that vote.c uses): integral over [1/2, 1] of p^a (1-p)^b divided by the one over [0, 1].
static double beta_tail(int a, int b) {
    enum { M = 20000 }; // even
    double lo = 0, hi = 0;
    for (int i = 0; i <= M; i++) {
        double x = (double)i / M, f = pow(x, a) * pow(1 - x, b);
        double wgt = (i == 0 || i == M) ? 1 : (i % 2 ? 4 : 2);
        if (i <= M / 2) lo += wgt * f * (i == M / 2 ? 0.5 : 1); // split the midpoint's weight
        if (i >= M / 2) hi += wgt * f * (i == M / 2 ? 0.5 : 1);
    }
    return hi / (lo + hi);
}

static void test_settle_prob(void) {
    double worst = 0;
    for (int a = 0; a <= 25; a++) {
        for (int b = 0; b <= a; b++) {
            double e = fabs(vote_settle_prob(a, b) - beta_tail(a, b));
            worst = e > worst ? e : worst;
        }
    }
    CHECK(worst < 1e-6, "binomial form differs from the Beta posterior by %g", worst);
    CHECK(fabs(vote_settle_prob(4, 0) - 31.0 / 32) < 1e-12, "4-0: 1 - 2^-5");
    CHECK(fabs(vote_settle_prob(3, 0) - 15.0 / 16) < 1e-12, "3-0: 1 - 2^-4");
    CHECK(fabs(vote_settle_prob(5, 5) - 0.5) < 1e-12, "a tie is 1/2");
    CHECK(fabs(vote_settle_prob(0, 0) - 0.5) < 1e-12, "no votes is 1/2");
    double big = vote_settle_prob(3000, 2000), tiny = vote_settle_prob(2000, 3000);
    CHECK(big > 0.999999 && big <= 1 && tiny >= 0 && tiny < 1e-6, "large tallies stay in [0, 1]");
}

static void test_settled(void) {
    VoteEntry e[8];
    for (int i = 0; i < 8; i++) e[i] = E("12", -1, 5);
    double p;
    CHECK(!vote_settled(e, 3, 0.95, &p) && fabs(p - 0.9375) < 1e-12, "3 unanimous: not yet");
    CHECK(vote_settled(e, 4, 0.95, &p) && fabs(p - 0.96875) < 1e-12, "4 unanimous: settled");
    // answerless chains do not vote: 4 agreeing + 2 without answers is still settled
    e[4] = E(NULL, -1, 5), e[5] = E(NULL, -1, 5);
    CHECK(vote_settled(e, 6, 0.95, NULL), "missing answers do not count against");
    // 5 vs 1 (plus a third answer that only the runner-up count ignores): P(Bin(7) <= 5)
    VoteEntry m[] = {E("1", -1, 1), E("1", -1, 1), E("2", -1, 1), E("1", -1, 1),
                     E("1", -1, 1), E("3", -1, 1), E("1", -1, 1)};
    CHECK(vote_settled(m, 7, 0.9, &p) && fabs(p - 120.0 / 128) < 1e-12, "5-1: p = %g", p);
    CHECK(!vote_settled(m, 7, 0.95, &p), "5-1 is not settled at 0.95");
    CHECK(!vote_settled(m, 0, 0.5, &p) && fabs(p - 0.5) < 1e-12, "no voters: never settled");
}

// Confidence-weighted majority: the sum of the chains' trace confidence decides.
static void test_conf_vote(void) {
    VoteEntry e[] = {E("a", -1, 1), E("a", -1, 1),  E("a", -1, 1), E("b", -1, 1),
                     E("b", -1, 1), E(NULL, -1, 1), E("c", -1, 1)};
    double w[] = {1, 1, 1, 2, 2, 9, NAN}; // a: 3, b: 4, no answer: no weight, c: NaN weighs 0
    for (int i = 0; i < 7; i++) e[i].conf = w[i];
    VoteResult r;
    CHECK(vote_aggregate(e, 7, VOTE_CONF, &r) == 0 && !strcmp(r.winner, "b") && r.score == 4 &&
              r.votes == 2 && r.n_voters == 6,
          "conf: b (4) beats a (3 votes, 3)");
    CHECK(r.n_tally == 3 && !strcmp(r.tally[2].answer, "c") && r.tally[2].conf == 0,
          "NaN weighs 0");
    vote_result_free(&r);
    e[3].conf = e[4].conf = 1.5; // b: 3 = a: 3 -> votes decide
    CHECK(vote_aggregate(e, 7, VOTE_CONF, &r) == 0 && !strcmp(r.winner, "a"), "conf tie: votes");
    vote_result_free(&r);
    // keep-top: the 40% most confident of 7 = 3 (ceil 2.8): conf 9 (no answer), 2, 2
    for (int i = 0; i < 7; i++) e[i].conf = w[i];
    e[3].conf = e[4].conf = 2;
    CHECK(vote_keep_top(e, 7, 40) == 0 && !e[0].answer && !e[1].answer && !e[2].answer &&
              e[3].answer && e[4].answer && !e[6].answer,
          "keep-top 40%%: conf 9, 2, 2 kept; the 1s and the NaN dropped");
    CHECK(vote_aggregate(e, 7, VOTE_MAJORITY, &r) == 0 && !strcmp(r.winner, "b") && r.n_voters == 2,
          "only the kept chains vote");
    vote_result_free(&r);
    VoteEntry t[] = {E("x", -1, 1), E("y", -1, 1), E("z", -1, 1)};
    t[0].conf = t[1].conf = t[2].conf = 1; // ties: the lower index is kept
    CHECK(vote_keep_top(t, 3, 50) == 0 && t[0].answer && t[1].answer && !t[2].answer,
          "keep-top ties go to the lower index");
    CHECK(vote_parse_method("conf") == VOTE_CONF && !strcmp(vote_method_name(VOTE_CONF), "conf"),
          "--vote conf");
}

// The conversions to VoteEntry (vote_entry, question_vote_entries): a chain without a trace
// score has conf NaN, which weighs nothing and is never kept by the top-% filter; a score of 0
// would be kept.
static void test_vote_entries(void) {
    VoteEntry e = vote_entry("4", -2, 3);
    CHECK(!strcmp(e.answer, "4") && e.sum_logprob == -2 && e.n_tokens == 3 && isnan(e.conf),
          "vote_entry: conf NaN");
    VoteEntry k[3] = {vote_entry("1", -1, 2), vote_entry("2", -1, 2), vote_entry("3", -1, 2)};
    k[0].conf = -5, k[2].conf = 0; // k[1]: no score
    CHECK(vote_keep_top(k, 3, 100) == 0 && k[0].answer && !k[1].answer && k[2].answer,
          "keep_top keeps any score, never NaN");
    VoteEntry w[3] = {vote_entry("a", -1, 2), vote_entry("b", -1, 2), vote_entry("b", -1, 2)};
    w[0].conf = 1, w[1].conf = 0.75; // w[2]: no score, weighs 0 as a score of 0 would
    VoteResult r;
    CHECK(vote_aggregate(w, 3, VOTE_CONF, &r) == 0 && !strcmp(r.winner, "a") && r.score == 1,
          "conf vote: NaN weighs 0");
    vote_result_free(&r);
    CHECK(fabs(vote_conf_consensus(w, 3) - 1 / 1.75) < 1e-12, "consensus: NaN weighs 0");

    // question_vote_entries: index order whatever the finishing order; scores with dc only
    static float conf[4] = {1, 2, 3, 4};
    ChainResult cr[3] = {0};
    cr[0].index = 2, cr[0].n_tokens = 4, cr[0].conf = conf, cr[0].sum_logprob = -3;
    cr[0].has_answer = 1, strcpy(cr[0].answer, "x");
    cr[1].index = 0, cr[1].n_tokens = 4, cr[1].sum_logprob = -1; // no answer, no confidences
    cr[2].index = 1, cr[2].n_tokens = 2, cr[2].conf = conf, cr[2].sum_logprob = -2;
    cr[2].has_answer = 1, strcpy(cr[2].answer, "y");
    Question q = {0};
    q.chains = cr, q.n_chains = 3;
    DeepConf dc = {0};
    dc.tp = (TraceParams){2, 2}, dc.score = TRACE_MEAN;
    VoteEntry *v = question_vote_entries(&q, &dc);
    CHECK(v && !v[0].answer && !strcmp(v[1].answer, "y") && !strcmp(v[2].answer, "x") &&
              v[0].sum_logprob == -1 && v[1].n_tokens == 2 && v[2].sum_logprob == -3,
          "question_vote_entries: index order");
    CHECK(v && isnan(v[0].conf) && v[1].conf == 1.5 && v[2].conf == 2.5,
          "question_vote_entries: trace scores, NaN without confidences");
    free(v);
    v = question_vote_entries(&q, NULL);
    CHECK(v && isnan(v[0].conf) && isnan(v[1].conf) && isnan(v[2].conf),
          "question_vote_entries: no dc, no scores");
    free(v);
}

int main(void) {
    test_rules();
    test_conf_vote();
    test_numbers();
    test_normalize();
    test_regex();
    test_boxed_reference();
    test_linear();
    test_majority();
    test_weighted_and_best();
    test_settle_prob();
    test_settled();
    test_vote_entries();
    return check_done("test_vote");
}
