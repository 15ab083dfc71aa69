/*
 * replay.c - main() for the plain builds of the fuzz harnesses: runs the
 * harness once on every file of its corpus, so `make test` replays the
 * corpora with gcc's ASan and UBSan and needs no clang.
 *
 *   replay_NAME [FILE_OR_DIR...]   default: tests/fuzz/corpus/NAME
 *
 * Built with ASan/UBSan for make test and plain for make valgrind. Prints
 * the count in cmocka's words ("[  PASSED  ] N test(s).") so
 * tests/run.sh counts it with the unit tests. A crash or failed check ends
 * the run with the file named.
 */
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The sanitizers' hook, when a sanitizer is linked in (the valgrind build has none). */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static void name_input_on_death(void)
{
    if (fuzz_input_name)
        fprintf(stderr, "replay: the failing input is %s\n", fuzz_input_name);
}

/* Runs the harness on one file; returns false when it cannot be read. */
static bool replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t cap = 4096, len = 0, n;
    uint8_t *data = malloc(cap);
    while (data && (n = fread(data + len, 1, cap - len, f)) > 0) {
        len += n;
        uint8_t *bigger = len == cap ? realloc(data, cap *= 2) : data;
        if (!bigger)
            free(data);
        data = bigger;
    }
    fclose(f);
    if (!data)
        return false;
    fuzz_input_name = path;
    LLVMFuzzerTestOneInput(data, len);
    fuzz_input_name = NULL;
    free(data);
    return true;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays a file, or each file of a directory in name order; adds to *ran and *bad. */
static void replay_path(const char *path, long *ran, long *bad)
{
    struct stat sb;
    DIR *d = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? opendir(path) : NULL;
    if (!d) {
        bool ok = replay_file(path);
        *ran += ok;
        *bad += !ok;
        if (!ok)
            fprintf(stderr, "replay: cannot read %s\n", path);
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **more = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));
            if (!more)
                break;
            names = more;
        }
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        if ((names[n] = malloc(len)))
            snprintf(names[n++], len, "%s/%s", path, e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        replay_path(names[i], ran, bad);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    char fallback[256];
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    if (argc < 2) {
        snprintf(fallback, sizeof(fallback), "tests/fuzz/corpus/%s",
                 strncmp(base, "replay_", 7) == 0 ? base + 7 : base);
        argv[1] = fallback;
        argc = 2;
    }
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(name_input_on_death);
    long ran = 0, bad = 0;
    for (int i = 1; i < argc; i++)
        replay_path(argv[i], &ran, &bad);
    if (ran == 0 && bad == 0) {
        fprintf(stderr, "replay: no inputs in %s\n", argv[1]);
        bad = 1;
    }
    printf("%s: replayed %ld input%s\n", base, ran, ran == 1 ? "" : "s");
    printf("[  PASSED  ] %ld test(s).\n", ran);
    if (bad)
        printf("[  FAILED  ] %ld test(s), listed above.\n", bad);
    return bad ? 1 : 0;
}
