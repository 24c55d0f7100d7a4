// report.h - the results of `chorus eval`: per-question records, the config they were made
// with, totals; written to and read back from report.json (so shard reports can be merged).
//
// Everything derived (tables, per-question vote and agreement) is recomputed from the
// per-question records by eval/tables.c, whether the records come from a run or from merged
// shard files: a merged report equals one run's except for timings and the shard list.
#pragma once
#include "eval/methods.h"
#include "eval/tables.h"

#include <stdio.h>

#define REPORT_VERSION 1

typedef struct {
    char *key;
    int is_str; // 1: str (NULL = JSON null), 0: num
    char *str;
    double num;
} ReportKV;

typedef struct {
    long prefill_tokens, decode_tokens, forced_tokens; // sampled pass
    long greedy_prefill_tokens, greedy_decode_tokens;  // greedy pass
    double sample_seconds, greedy_seconds, wall_seconds;
} EvalTotals;

typedef struct {
    ReportKV *config; // echoed; shards must agree on every member to merge
    int n_config;
    char **shards; // "i/n" of each run merged in ("0/1" for a whole run)
    int n_shards;
    EvalQuestion *qs; // sorted by id
    int n_q;
    EvalTotals totals;
} EvalReport;

// Config members (copied). 0, or -1 without memory.
int report_set_str(EvalReport *r, const char *key, const char *value);
int report_set_num(EvalReport *r, const char *key, double value);
const ReportKV *report_get(const EvalReport *r, const char *key);
double report_num(const EvalReport *r, const char *key, double dflt);
// EvalParams from the config (ks, n_max, wave, confidence, adaptive). 0, or -1 with err.
int report_params(const EvalReport *r, EvalParams *p, char *err, size_t errlen);

// Writes the whole report (config, totals, questions, tables, methods if m is not NULL).
// 0, or -1 on an I/O error.
int report_write(FILE *f, const EvalReport *r, const EvalTables *t, const EvalMethods *m);
// Reads a report file written by report_write. 0, or -1 with a message naming the file.
int report_load(const char *path, EvalReport *r, char *err, size_t errlen);
// The same on text[0..n); `name` stands for the file in messages.
int report_parse(const char *text, size_t n, const char *name, EvalReport *r, char *err,
                 size_t errlen);
// Merges shard reports into *out (questions sorted by id; totals summed). Refuses reports
// whose configs differ or that share a question. 0, or -1 with err.
int report_merge(EvalReport *in, int n_in, EvalReport *out, char *err, size_t errlen);
void report_free(EvalReport *r);
