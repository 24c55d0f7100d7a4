// arith_problems.h - arithmetic word problems with difficulty levels, and their exact answers
// (used by `chorus gen arith`, cli/cmd_gen.c). Level descriptions in arith_problems.c.
#pragma once
#include <stdint.h>

#define ARITH_LEVELS 5

typedef struct {
    char question[512];
    char expr[128]; // the arithmetic the question encodes, in Python syntax ("//" divides)
    long answer;    // the value of expr: a non-negative integer
} ArithProblem;

// Problem number `index` of `level` (1..ARITH_LEVELS) for `seed`: a pure function of the three.
void arith_problem(uint64_t seed, uint32_t index, int level, ArithProblem *p);
