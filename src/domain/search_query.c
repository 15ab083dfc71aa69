/*
 * search_query.c - parsing `q` and writing FTS5 syntax.
 *
 * Reading: the query is cut into terms (words, quoted phrases, each maybe
 * negated) and OR operators. OR binds two neighbouring positive terms into
 * one alternative group; groups are ANDed; negated terms are subtracted:
 *   a b OR c -d  ->  ("a") AND ("b" OR "c") NOT ("d")
 * An OR with no term on one side, a lone "-", and an unclosed quote are read
 * as plain text.
 */
#include "domain/search_query.h"

#include <string.h>

#include "core/buf.h"
#include "domain/fold.h"

enum term_kind { TERM_WORD, TERM_OR };

struct term {
    enum term_kind kind;
    bool negated;
    const char *text; /* word or phrase text, arena */
};

struct parse {
    struct arena *a;
    struct term terms[SEARCH_TERMS_MAX * 2 + 2];
    size_t n;
    bool too_many;
    bool out_of_memory;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool has_word_cb(void *cls, const struct fold_word *w)
{
    (void)w;
    *(bool *)cls = true;
    return false;
}

/* True when text holds at least one letter or digit (else FTS5 would see an empty string). */
static bool has_word(const char *text, size_t len)
{
    bool found = false;
    fold_words(text, len, has_word_cb, &found);
    return found;
}

static void add_term(struct parse *p, enum term_kind kind, bool negated, const char *text,
                     size_t len)
{
    if (kind == TERM_WORD && !has_word(text, len))
        return;
    if (p->n == sizeof(p->terms) / sizeof(p->terms[0])) {
        p->too_many = true;
        return;
    }
    char *copy = arena_strndup(p->a, text, len);
    if (!copy) {
        p->out_of_memory = true;
        return;
    }
    p->terms[p->n++] = (struct term){kind, negated, copy};
}

static void tokenize(struct parse *p, const char *q)
{
    const char *s = q;
    while (*s) {
        while (is_space(*s))
            s++;
        if (!*s)
            break;
        bool negated = false;
        const char *start = s;
        if (*s == '-' && s[1] && !is_space(s[1])) {
            negated = true;
            s++;
        }
        if (*s == '"') {
            const char *close = strchr(s + 1, '"');
            if (close) {
                add_term(p, TERM_WORD, negated, s + 1, (size_t)(close - s - 1));
                s = close + 1;
                continue;
            }
            s++; /* an unclosed quote is only punctuation */
            start = s;
            negated = false;
        }
        const char *end = s;
        while (*end && !is_space(*end) && *end != '"')
            end++;
        if (!negated && end - start == 2 && strncmp(start, "OR", 2) == 0)
            add_term(p, TERM_OR, false, start, 2);
        else
            add_term(p, TERM_WORD, negated, s, (size_t)(end - s));
        s = end;
    }
}

/* An OR stays an operator only between two positive terms; otherwise it is the word "OR". */
static bool or_is_operator(const struct parse *p, size_t i)
{
    return i > 0 && i + 1 < p->n && p->terms[i - 1].kind == TERM_WORD &&
           !p->terms[i - 1].negated && p->terms[i + 1].kind == TERM_WORD &&
           !p->terms[i + 1].negated;
}

/* Appends text as an FTS5 string: double quotes doubled, nothing else special. */
static void put_string(struct buf *b, const char *text)
{
    buf_putc(b, '"');
    for (const char *c = text; *c; c++) {
        if (*c == '"')
            buf_putc(b, '"');
        buf_putc(b, *c);
    }
    buf_putc(b, '"');
}

const char *search_query_translate(struct arena *a, const char *q, const char **why)
{
    size_t chars = 0;
    for (const char *c = q; *c; c++)
        chars += ((unsigned char)*c & 0xC0) != 0x80;
    if (chars > SEARCH_Q_MAX_CHARS) {
        *why = "must be at most 500 characters";
        return NULL;
    }
    struct parse p = {.a = a};
    tokenize(&p, q);
    if (p.out_of_memory) {
        *why = NULL;
        return NULL;
    }
    size_t words = 0;
    for (size_t i = 0; i < p.n; i++)
        words += p.terms[i].kind == TERM_WORD || !or_is_operator(&p, i);
    if (p.too_many || words > SEARCH_TERMS_MAX) {
        *why = "must have at most 32 terms";
        return NULL;
    }
    struct buf pos, neg;
    buf_init(&pos);
    buf_init(&neg);
    bool open_group = false;
    for (size_t i = 0; i < p.n; i++) {
        const struct term *t = &p.terms[i];
        if (t->kind == TERM_OR && or_is_operator(&p, i)) {
            buf_puts(&pos, " OR ");
            continue;
        }
        if (t->negated) {
            buf_puts(&neg, neg.len ? " OR " : "");
            put_string(&neg, t->text);
            continue;
        }
        bool joins = i > 0 && p.terms[i - 1].kind == TERM_OR && or_is_operator(&p, i - 1);
        if (!joins) {
            if (open_group)
                buf_puts(&pos, ") AND ");
            buf_putc(&pos, '(');
            open_group = true;
        }
        put_string(&pos, t->text);
    }
    const char *out = NULL;
    if (!open_group) {
        *why = "needs at least one word to search for";
    } else {
        buf_putc(&pos, ')');
        if (neg.len) {
            buf_puts(&pos, " NOT (");
            buf_append(&pos, neg.data, neg.len);
            buf_putc(&pos, ')');
        }
        out = buf_failed(&pos) || buf_failed(&neg) ? NULL : arena_strdup(a, pos.data);
        if (!out)
            *why = NULL; /* out of memory */
    }
    buf_release(&pos);
    buf_release(&neg);
    return out;
}
