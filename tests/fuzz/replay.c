// replay.c - a libFuzzer target without libFuzzer: runs its LLVMFuzzerTestOneInput once over
// every file named (or found in a folder named) on the command line, in the ASan + UBSan build
// that the C tests use (gcc; no clang build needed). `make test` replays each target's seeds
// this way; `make test-all` runs the targets under libFuzzer, mutating (tests/fuzz/run.sh).
//   build/asan/fuzz/replay_NAME FILE_OR_DIR...   prints "replay_NAME: N passed, 0 failed"
// A crash or an assertion aborts, as under libFuzzer, and run.sh counts it as a failure.
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return fprintf(stderr, "FAIL replay: cannot open %s\n", path), 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1); // exactly n bytes: ASan sees a read past them
    size_t got = n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (got != (size_t)(n > 0 ? n : 0)) {
        free(buf);
        return fprintf(stderr, "FAIL replay: cannot read %s\n", path), 0;
    }
    LLVMFuzzerTestOneInput(buf, got);
    free(buf);
    return 1;
}

int main(int argc, char **argv) {
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    int passed = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.') continue;
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                run_file(path) ? passed++ : failed++;
            }
            if (d) closedir(d);
        } else {
            run_file(argv[i]) ? passed++ : failed++;
        }
    }
    if (passed + failed == 0) fprintf(stderr, "FAIL %s: no input\n", name), failed++;
    printf("%s: %d passed, %d failed\n", name, passed, failed);
    return failed ? 1 : 0;
}
