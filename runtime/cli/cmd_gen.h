// cli/cmd_gen.h - `chorus gen arith`: verifiable arithmetic word problems with difficulty levels,
// so test-time scaling can be measured on a model as small as the default one (issue 6).
#pragma once

// `chorus gen arith --count N [--levels 1-5] [--seed S]`; argv[0] is "gen".
// Writes JSONL to stdout, one problem a line:
//   {"question": "...", "answer": "<integer>", "level": L, "expr": "<Python expression>"}
// Returns the process exit code: 0, 2 for bad flags (one line on stderr), 1 if stdout fails.
int cmd_gen(int argc, char **argv);
