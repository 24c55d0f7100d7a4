// arith_problems.c - the templates behind `chorus gen arith`.
//
// Levels (difficulty grows with the number of steps and the size of the numbers):
//   1  one step: the sum of two one-digit numbers
//   2  one step: a sum or difference of two-digit numbers
//   3  two steps: a product, then a sum or difference
//   4  three steps: two products and a sum, a product and two differences, or a product, a
//      difference and an exact division
//   5  four steps mixing products, differences, sums and exact division
// Numbers are drawn so that every intermediate result is a non-negative integer and every
// division is exact; expr (Python syntax) therefore evaluates to the answer. Each number in
// the question appears exactly once in expr, and the question holds no other numbers, so a
// checker can match them up.
#include "eval/arith_problems.h"
#include "rng.h"

#include <stdarg.h>
#include <stdio.h>

typedef struct {
    uint64_t seed;
    uint32_t stream, step; // stream = the problem's index; step counts draws
} Draw;

// Uniform integer in [lo, hi] (the modulo bias of 64 bits over a small range is negligible).
static long rnd(Draw *d, long lo, long hi) {
    uint64_t r = rng_bits(d->seed, d->stream, d->step++);
    return lo + (long)(r % (uint64_t)(hi - lo + 1));
}

typedef struct {
    const char *name, *he; // a person and their pronoun, capitalised for a sentence start
} Person;

static const Person people[] = {
    {"Ava", "She"},  {"Ben", "He"},   {"Chloe", "She"}, {"Diego", "He"},
    {"Emma", "She"}, {"Farid", "He"}, {"Grace", "She"}, {"Hiro", "He"},
    {"Isla", "She"}, {"Jamal", "He"}, {"Kira", "She"},  {"Liam", "He"},
    {"Maya", "She"}, {"Noah", "He"},  {"Olga", "She"},  {"Pedro", "He"},
};
static const char *const things[] = {"apples",  "marbles", "stickers", "pencils", "cookies",
                                     "books",   "shells",  "stamps",   "cards",   "oranges",
                                     "candles", "buttons", "beads",    "eggs",    "toy cars"};
static const char *const baked[] = {"cookies", "muffins", "rolls", "cupcakes"};

#define PICK(d, list) list[rnd(d, 0, (long)(sizeof(list) / sizeof *(list)) - 1)]

static void say(ArithProblem *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(ArithProblem *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->question, sizeof p->question, fmt, ap);
    va_end(ap);
}

static void expr(ArithProblem *p, long answer, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void expr(ArithProblem *p, long answer, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->expr, sizeof p->expr, fmt, ap);
    va_end(ap);
    p->answer = answer;
}

// One step, a + b, asked by fmt with the arguments a, what, b, what, what.
static void sum_question(ArithProblem *p, const char *fmt, long a, long b, const char *what) {
    say(p, fmt, a, what, b, what, what);
    expr(p, a + b, "%ld + %ld", a, b);
}

// One step, a - b, asked by fmt with the arguments name, a, what, b, what, name.
static void difference_question(ArithProblem *p, const char *fmt, const char *name, long a, long b,
                                const char *what) {
    say(p, fmt, name, a, what, b, what, name);
    expr(p, a - b, "%ld - %ld", a, b);
}

// ---- level 1: a + b, one digit each ----------------------------------------------------------

static void level1(Draw *d, ArithProblem *p) {
    const Person *who = &PICK(d, people);
    const char *what = PICK(d, things);
    long a = rnd(d, 2, 9), b = rnd(d, 2, 9);
    if (rnd(d, 0, 1)) {
        say(p, "%s has %ld %s. %s finds %ld more %s. How many %s does %s have now?", who->name, a,
            what, who->he, b, what, what, who->name);
        expr(p, a + b, "%ld + %ld", a, b);
    } else
        sum_question(p,
                     "There are %ld %s in a red basket and %ld %s in a blue basket. How many %s "
                     "are there in both baskets?",
                     a, b, what);
}

// ---- level 2: a + b or a - b, two digits -----------------------------------------------------

static void level2(Draw *d, ArithProblem *p) {
    const Person *who = &PICK(d, people);
    const char *what = PICK(d, things);
    long a = rnd(d, 30, 99), b = rnd(d, 10, a - 10);
    switch (rnd(d, 0, 2)) {
    case 0:
        difference_question(
            p, "%s had %ld %s and gave %ld of them to a friend. How many %s does %s have left?",
            who->name, a, b, what);
        break;
    case 1:
        difference_question(
            p, "%s wants to collect %ld %s and already has %ld. How many more %s does %s need?",
            who->name, a, b, what);
        break;
    default:
        b = rnd(d, 10, 99);
        sum_question(p,
                     "A shop sold %ld %s on Monday and %ld %s on Tuesday. How many %s did it sell "
                     "on the two days?",
                     a, b, what);
    }
}

// ---- level 3: a product, then a sum or a difference ------------------------------------------

static void level3(Draw *d, ArithProblem *p) {
    const Person *who = &PICK(d, people);
    const char *what = PICK(d, things);
    long a = rnd(d, 2, 9), b = rnd(d, 3, 12), c;
    switch (rnd(d, 0, 2)) {
    case 0:
        c = rnd(d, 2, 20);
        say(p,
            "%s buys %ld boxes of %s with %ld %s in each box, and %ld loose %s. How many %s "
            "does %s have?",
            who->name, a, what, b, what, c, what, what, who->name);
        expr(p, a * b + c, "%ld * %ld + %ld", a, b, c);
        break;
    case 1: // gives b to each of a friends out of c
        c = a * b + rnd(d, 1, 30);
        say(p,
            "%s has %ld %s and gives %ld %s to each of %ld friends. How many %s does %s have "
            "left?",
            who->name, c, what, b, what, a, what, who->name);
        expr(p, c - b * a, "%ld - %ld * %ld", c, b, a);
        break;
    default: // a tickets at b dollars, pays c
        c = a * b + rnd(d, 1, 40);
        say(p,
            "A ticket costs %ld dollars. %s buys %ld tickets and pays with %ld dollars. How "
            "much change, in dollars, does %s get?",
            b, who->name, a, c, who->name);
        expr(p, c - b * a, "%ld - %ld * %ld", c, b, a);
    }
}

// ---- level 4: three steps --------------------------------------------------------------------

static void level4(Draw *d, ArithProblem *p) {
    const Person *who = &PICK(d, people);
    long a = rnd(d, 2, 6), b = rnd(d, 6, 12), c, e, q;
    switch (rnd(d, 0, 2)) {
    case 0: { // a trays of b, c given away, e sold
        const char *what = PICK(d, baked);
        c = rnd(d, 1, a * b / 2);
        e = rnd(d, 1, a * b - c);
        say(p,
            "%s bakes %ld trays of %s with %ld on each tray. %s gives away %ld and sells %ld. "
            "How many %s are left?",
            who->name, a, what, b, who->he, c, e, what);
        expr(p, a * b - c - e, "%ld * %ld - %ld - %ld", a, b, c, e);
        break;
    }
    case 1: // two plantings
        a = rnd(d, 3, 9), c = rnd(d, 2, 6), e = rnd(d, 4, 12);
        say(p,
            "A farmer plants %ld rows of %ld trees in spring and %ld rows of %ld trees in "
            "autumn. How many trees does the farmer plant in all?",
            a, b, c, e);
        expr(p, a * b + c * e, "%ld * %ld + %ld * %ld", a, b, c, e);
        break;
    default: // earn a*b, spend c, split the rest into e jars of q
        a = rnd(d, 5, 20), e = rnd(d, 2, 6);
        q = rnd(d, (a * b + 2 * e - 1) / (2 * e), (a * b - 1) / e); // spends at most half
        c = a * b - q * e;
        say(p,
            "%s earns %ld dollars an hour and works for %ld hours. %s spends %ld dollars and "
            "splits the rest equally among %ld jars. How many dollars go into each jar?",
            who->name, a, b, who->he, c, e);
        expr(p, q, "(%ld * %ld - %ld) // %ld", a, b, c, e);
    }
}

// ---- level 5: four steps ---------------------------------------------------------------------

static void level5(Draw *d, ArithProblem *p) {
    const Person *who = &PICK(d, people);
    const char *what = PICK(d, things);
    long a, b, c, e, f, q;
    switch (rnd(d, 0, 2)) {
    case 0: // a boxes of b, sells c boxes, receives e bags of f
        a = rnd(d, 5, 20), b = rnd(d, 4, 12), c = rnd(d, 1, a - 1);
        e = rnd(d, 2, 9), f = rnd(d, 3, 15);
        say(p,
            "A store has %ld boxes of %s with %ld in each box. It sells %ld boxes, then "
            "receives %ld bags with %ld %s in each bag. How many %s does the store have now?",
            a, what, b, c, e, f, what, what);
        expr(p, (a - c) * b + e * f, "(%ld - %ld) * %ld + %ld * %ld", a, c, b, e, f);
        break;
    case 1: // a notebooks at b and c pens at e, pays f
        a = rnd(d, 2, 9), b = rnd(d, 2, 12), c = rnd(d, 2, 9), e = rnd(d, 1, 5);
        f = a * b + c * e + rnd(d, 1, 50);
        say(p,
            "%s buys %ld notebooks at %ld dollars each and %ld pens at %ld dollars each. %s "
            "pays with %ld dollars. How much change, in dollars, does %s get?",
            who->name, a, b, c, e, who->he, f, who->name);
        expr(p, f - (a * b + c * e), "%ld - (%ld * %ld + %ld * %ld)", f, a, b, c, e);
        break;
    default: // a classes of b, c away, the rest in e teams of q, then f coaches per team
        a = rnd(d, 3, 8), b = rnd(d, 18, 30), e = rnd(d, 2, 6), f = rnd(d, 1, 4);
        q = rnd(d, (a * b + 2 * e - 1) / (2 * e), (a * b - 1) / e); // at most half away
        c = a * b - q * e;
        say(p,
            "A school has %ld classes with %ld students in each class. On sports day %ld "
            "students are away, and the rest are split into %ld equal teams. Then %ld coaches "
            "join each team. How many people are in each team?",
            a, b, c, e, f);
        expr(p, q + f, "(%ld * %ld - %ld) // %ld + %ld", a, b, c, e, f);
    }
}

void arith_problem(uint64_t seed, uint32_t index, int level, ArithProblem *p) {
    static void (*const levels[ARITH_LEVELS])(Draw *, ArithProblem *) = {level1, level2, level3,
                                                                         level4, level5};
    Draw d = {seed, index, 0};
    if (level < 1) level = 1;
    if (level > ARITH_LEVELS) level = ARITH_LEVELS;
    levels[level - 1](&d, p);
}
