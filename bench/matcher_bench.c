/*
 * matcher_bench.c - how fast the entity matcher scans text, and whether
 * that speed depends on how many names it knows.
 *
 * Text: the body_text of every Reuters-21578 article (Distribution 1.0,
 * research use only, read from ../shared/data, never copied into the repo).
 * Gazetteers:
 *   small - the distinct entity names the Reuters annotators marked (and
 *           their aliases, if any);
 *   100k  - the same names plus deterministic synthetic names (fixed-seed
 *           LCG over syllables: 1-4 words, some short acronyms in capitals)
 *           up to 100,000 distinct names; some are real words and match;
 *   100k no-hit - the same, every synthetic word starting with "Qz", so they
 *           never match and only make the tables bigger.
 * A first row runs fold_words() alone, the word-splitting and folding every
 * scan starts with: the ceiling for any gazetteer.
 *
 * For each: build time, then RUNS scans of all texts; the median MB/s (of
 * body_text bytes) and the mentions found are reported.
 *
 * usage: matcher_bench [--data DIR] [--runs N]
 *        matcher_bench [--data DIR] --print-synthetic
 * The second form prints, one a line, the synthetic names the 100k
 * gazetteer adds to the annotated ones, and measures nothing: bench/corpus.py
 * builds the benchmark database's gazetteer from them, so the server links
 * against exactly the names measured here.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/fold.h"
#include "domain/matcher.h"

#define BIG_NAMES 100000
#define DEFAULT_RUNS 5
#define MAX_RUNS 15

struct strvec {
    char **items;
    size_t *lens;
    size_t n, cap;
};

static void die(const char *what)
{
    fprintf(stderr, "matcher_bench: %s\n", what);
    exit(1);
}

static void strvec_push(struct strvec *v, const char *s, size_t len)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 1024;
        v->items = realloc(v->items, v->cap * sizeof(*v->items));
        v->lens = realloc(v->lens, v->cap * sizeof(*v->lens));
        if (!v->items || !v->lens)
            die("out of memory");
    }
    char *copy = malloc(len + 1);
    if (!copy)
        die("out of memory");
    memcpy(copy, s, len);
    copy[len] = '\0';
    v->items[v->n] = copy;
    v->lens[v->n] = len;
    v->n++;
}

static void strvec_free(struct strvec *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->items[i]);
    free(v->items);
    free(v->lens);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts names and drops exact duplicates (the matcher folds the rest). */
static void strvec_sort_unique(struct strvec *v)
{
    if (v->n == 0)
        return;
    qsort(v->items, v->n, sizeof(*v->items), cmp_str);
    size_t out = 1;
    for (size_t i = 1; i < v->n; i++) {
        if (strcmp(v->items[i], v->items[out - 1]) == 0) {
            free(v->items[i]);
            continue;
        }
        v->items[out++] = v->items[i];
    }
    v->n = out;
    for (size_t i = 0; i < v->n; i++)
        v->lens[i] = strlen(v->items[i]);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads body_text of every article and every annotated entity name and alias. */
static void load(const char *path, struct strvec *texts, struct strvec *names, size_t *bytes)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "matcher_bench: cannot open %s: %s\n", path, strerror(errno));
        exit(1);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long number = 0;
    *bytes = 0;
    while ((got = getline(&line, &cap, f)) > 0) {
        number++;
        json_error_t jerr;
        json_t *a = json_loadb(line, (size_t)got, 0, &jerr);
        if (!a) {
            fprintf(stderr, "matcher_bench: %s line %ld: %s\n", path, number, jerr.text);
            exit(1);
        }
        json_t *body = json_object_get(a, "body_text");
        if (json_is_string(body)) {
            strvec_push(texts, json_string_value(body), json_string_length(body));
            *bytes += json_string_length(body);
        }
        size_t i, j;
        json_t *e, *alias;
        json_array_foreach(json_object_get(a, "entities"), i, e)
        {
            json_t *name = json_object_get(e, "name");
            if (json_is_string(name))
                strvec_push(names, json_string_value(name), json_string_length(name));
            json_array_foreach(json_object_get(e, "aliases"), j, alias)
            {
                if (json_is_string(alias))
                    strvec_push(names, json_string_value(alias), json_string_length(alias));
            }
        }
        json_decref(a);
    }
    free(line);
    fclose(f);
}

/* --- deterministic synthetic names */

#define LCG_SEED 0x5eed2024u
static uint64_t lcg_state = LCG_SEED;

static uint32_t lcg_next(void)
{
    /* Knuth's MMIX constants; the high bits are the good ones. */
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(lcg_state >> 33);
}

static const char *const SYLLABLES[] = {
    "ka",  "lo",  "mi",  "ran", "tes", "vor", "bel",  "din",   "ga",  "hor",  "ju",
    "kel", "mar", "nu",  "pol", "qui", "ros", "sa",   "tor",   "ul",  "vin",  "wes",
    "xan", "yor", "zel", "an",  "ber", "cor", "del",  "en",    "fal", "gor",  "hel",
    "is",  "jor", "kin", "lam", "mon", "nor", "os",   "pen",   "ral", "sen",  "tan",
    "ur",  "val", "wil", "dor", "ston", "ville", "ton", "ford",
};
#define N_SYLLABLES (sizeof(SYLLABLES) / sizeof(SYLLABLES[0]))

enum synthetic { NO_SYNTHETIC, WORDLIKE, NO_HIT };

/*
 * One synthetic name into buf (at least 64 bytes): 1-4 capitalised words
 * of 1-3 syllables, or (1 in 8) an acronym of 2-5 capitals. WORDLIKE names
 * are made of plain syllables, so some are real words ("Is", "Ton", "IMF")
 * and are found in the text, as in a real large gazetteer; NO_HIT names
 * start every word with "Qz", which no Reuters text word does, so they
 * only make the matcher's tables bigger.
 */
static void synthetic_name(char *buf, enum synthetic kind)
{
    size_t len = 0;
    if (lcg_next() % 8 == 0) {
        size_t letters = 2 + lcg_next() % 4;
        for (size_t i = 0; i < letters; i++)
            buf[len++] = (char)('A' + lcg_next() % 26);
        if (kind == NO_HIT)
            memcpy(buf, "QZ", 2);
        buf[len] = '\0';
        return;
    }
    size_t words = 1 + lcg_next() % 4;
    for (size_t w = 0; w < words; w++) {
        if (w)
            buf[len++] = ' ';
        size_t word_start = len;
        if (kind == NO_HIT) {
            memcpy(buf + len, "qz", 2);
            len += 2;
        }
        size_t syll = 1 + lcg_next() % 3;
        for (size_t s = 0; s < syll; s++) { /* at most 4 * (2 + 3 * 5) + 3 bytes in all */
            const char *p = SYLLABLES[lcg_next() % N_SYLLABLES];
            size_t pl = strlen(p);
            memcpy(buf + len, p, pl);
            len += pl;
        }
        buf[word_start] = (char)(buf[word_start] - 'a' + 'A');
    }
    buf[len] = '\0';
}

/* --- building and scanning */

struct row {
    const char *label;
    size_t names;
    double build_s;
    double mbps[MAX_RUNS];
    double median_mbps;
    unsigned long long mentions;
    unsigned long long synthetic; /* of which of synthetic names */
};

/*
 * The annotated names, then (unless kind is NO_SYNTHETIC) synthetic ones up
 * to BIG_NAMES; each synthetic name the matcher did not know yet is also
 * written to `print` (a line each) unless it is NULL.
 */
static struct matcher *build(const struct strvec *names, enum synthetic kind, struct row *r,
                             FILE *print)
{
    double t0 = now_s();
    struct matcher *m = matcher_new();
    if (!m)
        die("out of memory");
    size_t rejected = 0;
    int64_t id = 1;
    for (size_t i = 0; i < names->n; i++) {
        enum ns_err err = matcher_add(m, names->items[i], id++);
        if (err == NS_ERR_NOMEM)
            die("out of memory");
        rejected += err != NS_OK;
    }
    lcg_state = LCG_SEED;
    if (kind != NO_SYNTHETIC) {
        char buf[128];
        unsigned long attempts = 0;
        while (matcher_size(m) < BIG_NAMES) {
            if (++attempts > 50UL * BIG_NAMES)
                die("synthetic names keep repeating; widen SYLLABLES");
            synthetic_name(buf, kind);
            size_t before = matcher_size(m);
            if (matcher_add(m, buf, id++) == NS_ERR_NOMEM)
                die("out of memory");
            if (print && matcher_size(m) > before)
                fprintf(print, "%s\n", buf);
        }
    }
    r->build_s = now_s() - t0;
    r->names = matcher_size(m);
    if (rejected)
        fprintf(stderr, "matcher_bench: %zu names had no words and were not added\n", rejected);
    return m;
}

struct counts {
    unsigned long long mentions;
    unsigned long long synthetic; /* mentions of an entity id above real_max */
    int64_t real_max;
};

static void count_mention(void *cls, const struct mention *mention)
{
    struct counts *c = cls;
    c->mentions++;
    c->synthetic += mention->entity_id > c->real_max;
}

static bool count_word(void *cls, const struct fold_word *w)
{
    (void)w;
    (*(unsigned long long *)cls)++;
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Scans every text runs times with m (or only folds it, when m is NULL). */
static void measure(const struct matcher *m, int64_t real_max, const struct strvec *texts,
                    size_t bytes, int runs, struct row *r)
{
    for (int run = 0; run < runs; run++) {
        struct counts c = {0, 0, real_max};
        double t0 = now_s();
        for (size_t i = 0; i < texts->n; i++) {
            if (m) {
                if (matcher_scan(m, texts->items[i], texts->lens[i], count_mention, &c))
                    die("out of memory while scanning");
            } else {
                fold_words(texts->items[i], texts->lens[i], count_word, &c.mentions);
            }
        }
        double s = now_s() - t0;
        r->mbps[run] = (double)bytes / 1e6 / (s > 0 ? s : 1e-9);
        if (run > 0 && (c.mentions != r->mentions || c.synthetic != r->synthetic))
            die("scans of the same text disagree");
        r->mentions = c.mentions;
        r->synthetic = c.synthetic;
        fprintf(stderr, "  %-20s run %d: %.3f s, %.1f MB/s\n", r->label, run + 1, s,
                r->mbps[run]);
    }
    double sorted[MAX_RUNS];
    memcpy(sorted, r->mbps, (size_t)runs * sizeof(double));
    qsort(sorted, (size_t)runs, sizeof(double), cmp_double);
    r->median_mbps = sorted[runs / 2];
}

static void usage(void)
{
    fprintf(stderr,
            "usage: matcher_bench [--data DIR] [--runs N (1-%d, default %d)]\n"
            "       matcher_bench [--data DIR] --print-synthetic\n",
            MAX_RUNS, DEFAULT_RUNS);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *data = "../shared/data";
    int runs = DEFAULT_RUNS;
    bool print_synthetic = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            data = argv[++i];
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > MAX_RUNS)
                usage();
            runs = (int)v;
        } else if (strcmp(argv[i], "--print-synthetic") == 0) {
            print_synthetic = true;
        } else {
            usage();
        }
    }

    char path[4096];
    if (snprintf(path, sizeof(path), "%s/reuters-21578/articles.ndjson", data) >= (int)sizeof(path))
        die("--data path too long");

    struct strvec texts = {0}, names = {0};
    size_t bytes = 0;
    double t0 = now_s();
    load(path, &texts, &names, &bytes);
    size_t annotations = names.n;
    strvec_sort_unique(&names);
    if (print_synthetic) {
        struct row r = {.label = "100k (+ synthetic)"};
        matcher_free(build(&names, WORDLIKE, &r, stdout));
        strvec_free(&texts);
        strvec_free(&names);
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
    }
    printf("matcher_bench: entity matcher scan throughput\n");
    printf("data: Reuters-21578, Distribution 1.0 (%s)\n", path);
    printf("text: body_text of %zu articles, %.1f MB; loaded in %.2f s\n", texts.n,
           (double)bytes / 1e6, now_s() - t0);
    printf("small gazetteer: %zu distinct annotated names and aliases (%zu annotations)\n",
           names.n, annotations);
    printf("runs per gazetteer: %d (median reported)\n\n", runs);

    struct row rows[4] = {{.label = "fold_words only"},
                          {.label = "small (annotated)"},
                          {.label = "100k (+ synthetic)"},
                          {.label = "100k (+ no-hit syn.)"}};
    struct matcher *m[4] = {NULL};
    m[1] = build(&names, NO_SYNTHETIC, &rows[1], NULL);
    m[2] = build(&names, WORDLIKE, &rows[2], NULL);
    m[3] = build(&names, NO_HIT, &rows[3], NULL);

    fflush(stdout);
    int64_t real_max = (int64_t)names.n; /* annotated names have ids 1..n */
    for (int i = 0; i < 4; i++)
        measure(m[i], real_max, &texts, bytes, runs, &rows[i]);

    printf("%-20s %8s %9s %12s %12s %12s\n", "gazetteer", "names", "build ms", "median MB/s",
           "mentions", "of synthetic");
    printf("%-20s %8s %9s %12.1f %12llu %12s  (words folded)\n", rows[0].label, "-", "-",
           rows[0].median_mbps, rows[0].mentions, "-");
    for (int i = 1; i < 4; i++)
        printf("%-20s %8zu %9.1f %12.1f %12llu %12llu\n", rows[i].label, rows[i].names,
               rows[i].build_s * 1e3, rows[i].median_mbps, rows[i].mentions, rows[i].synthetic);
    printf("\n100k-name throughput / small-name throughput = %.2f\n",
           rows[2].median_mbps / rows[1].median_mbps);
    printf("(with no-hit synthetic names, which only enlarge the tables: %.2f)\n",
           rows[3].median_mbps / rows[1].median_mbps);

    for (int i = 0; i < 4; i++)
        matcher_free(m[i]);
    strvec_free(&texts);
    strvec_free(&names);
    return 0;
}
