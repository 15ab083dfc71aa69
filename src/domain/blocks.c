/*
 * blocks.c - paragraph splitting and word counting.
 */
#include "domain/blocks.h"

#include <stdbool.h>
#include <string.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* True when the line starting at p (up to '\n' or end) holds only white space. */
static bool line_is_blank(const char *p, const char **next)
{
    bool blank = true;
    while (*p && *p != '\n') {
        if (!is_space(*p))
            blank = false;
        p++;
    }
    *next = *p ? p + 1 : p;
    return blank;
}

/* Copies a paragraph's lines [start, end) with line breaks and runs of white space folded. */
static char *fold_paragraph(struct arena *a, const char *start, const char *end)
{
    char *out = arena_alloc(a, (size_t)(end - start) + 1);
    if (!out)
        return NULL;
    size_t len = 0;
    bool space = false;
    for (const char *p = start; p < end; p++) {
        if (is_space(*p)) {
            space = len > 0;
            continue;
        }
        if (space)
            out[len++] = ' ';
        space = false;
        out[len++] = *p;
    }
    out[len] = '\0';
    return out;
}

long blocks_from_text(struct arena *a, const char *text, struct block **out)
{
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == '\n';
    struct block *blocks = arena_calloc(a, cap, sizeof(*blocks));
    if (!blocks)
        return -1;

    long n = 0;
    const char *p = text, *para = NULL;
    while (*p) {
        const char *next;
        bool blank = line_is_blank(p, &next);
        if (!blank && !para)
            para = p;
        if (blank && para) {
            char *s = fold_paragraph(a, para, p);
            if (!s)
                return -1;
            blocks[n++] = (struct block){.type = BLOCK_PARAGRAPH, .text = s};
            para = NULL;
        }
        p = next;
    }
    if (para) {
        char *s = fold_paragraph(a, para, p);
        if (!s)
            return -1;
        if (*s)
            blocks[n++] = (struct block){.type = BLOCK_PARAGRAPH, .text = s};
    }
    *out = blocks;
    return n;
}

int words_in(const char *s)
{
    int n = 0;
    bool in_word = false;
    for (; s && *s; s++) {
        if (is_space(*s)) {
            in_word = false;
        } else if (!in_word) {
            in_word = true;
            n++;
        }
    }
    return n;
}

int blocks_word_count(const struct block *blocks, size_t n)
{
    int words = 0;
    for (size_t i = 0; i < n; i++)
        if (blocks[i].type != BLOCK_IMAGE)
            words += words_in(blocks[i].text);
    return words;
}

int reading_time_minutes(int word_count)
{
    int minutes = (word_count + WORDS_PER_MINUTE - 1) / WORDS_PER_MINUTE;
    return minutes < 1 ? 1 : minutes;
}
