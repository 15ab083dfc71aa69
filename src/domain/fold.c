/*
 * fold.c - word folding with utf8proc, one code point at a time.
 */
#include "domain/fold.h"

#include <string.h>
#include <utf8proc.h>

#include "core/buf.h"

const char *fold_spell_out(int cp)
{
    switch (cp) {
    case 0x00E6: return "ae"; /* æ */
    case 0x00F8: return "o";  /* ø */
    case 0x0153: return "oe"; /* œ */
    case 0x00DF: return "ss"; /* ß */
    case 0x0111: return "d";  /* đ */
    case 0x00F0: return "d";  /* ð */
    case 0x0142: return "l";  /* ł */
    case 0x00FE: return "th"; /* þ */
    case 0x0131: return "i";  /* dotless i */
    default: return NULL;
    }
}

enum char_class { CH_SEPARATOR, CH_WORD, CH_MARK };

bool fold_is_word_char(int cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

static enum char_class classify(utf8proc_int32_t cp)
{
    if (fold_is_word_char(cp))
        return CH_WORD;
    if (cp < 0x80)
        return CH_SEPARATOR;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
        return CH_MARK;
    default:
        return CH_SEPARATOR;
    }
}

/* Appends the folded form of cp to w->folded (silently cut at FOLD_WORD_MAX). */
static void fold_char(struct fold_word *w, utf8proc_int32_t cp)
{
    utf8proc_int32_t out[8];
    utf8proc_ssize_t n;
    if (cp < 0x80) {
        out[0] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
        n = 1;
    } else {
        int boundclass = 0;
        n = utf8proc_decompose_char(cp, out, 8,
                                    UTF8PROC_CASEFOLD | UTF8PROC_COMPAT | UTF8PROC_STRIPMARK |
                                        UTF8PROC_DECOMPOSE,
                                    &boundclass);
        if (n < 0 || n > 8)
            return;
    }
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        const char *spelled = fold_spell_out(out[i]);
        utf8proc_uint8_t enc[4];
        const char *bytes = spelled ? spelled : (const char *)enc;
        size_t len = spelled ? strlen(spelled) : (size_t)utf8proc_encode_char(out[i], enc);
        if (w->folded_len + len > FOLD_WORD_MAX)
            return;
        memcpy(w->folded + w->folded_len, bytes, len);
        w->folded_len += len;
    }
}

void fold_words(const char *text, size_t len, bool (*fn)(void *cls, const struct fold_word *w),
                void *cls)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text, *end = p + len;
    struct fold_word w;
    bool in_word = false, has_letter = false;
    while (p <= end) {
        utf8proc_int32_t cp = -1;
        utf8proc_ssize_t step = 1;
        if (p < end) {
            step = utf8proc_iterate(p, end - p, &cp);
            if (step <= 0) {
                step = 1;
                cp = -1;
            }
        }
        enum char_class cls_ = cp < 0 ? CH_SEPARATOR : classify(cp);
        if (cls_ == CH_MARK && !in_word)
            cls_ = CH_SEPARATOR;
        if (cls_ != CH_SEPARATOR) {
            if (!in_word) {
                in_word = true;
                has_letter = false;
                w.start = (const char *)p;
                w.folded_len = 0;
                w.all_caps = true;
            }
            if (cls_ == CH_WORD) {
                utf8proc_category_t cat = utf8proc_category(cp);
                bool letter = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
                if (letter) {
                    has_letter = true;
                    if (cat != UTF8PROC_CATEGORY_LU && cat != UTF8PROC_CATEGORY_LT)
                        w.all_caps = false;
                }
            }
            fold_char(&w, cp);
        } else if (in_word) {
            in_word = false;
            w.len = (size_t)((const char *)p - w.start);
            w.all_caps = w.all_caps && has_letter;
            w.folded[w.folded_len] = '\0';
            if (w.folded_len > 0 && !fn(cls, &w))
                return;
        }
        if (p == end)
            break;
        p += step;
    }
}

struct key_ctx {
    struct buf b;
};

static bool append_word(void *cls, const struct fold_word *w)
{
    struct key_ctx *k = cls;
    if (k->b.len + 1 + w->folded_len > FOLD_KEY_MAX)
        return false;
    if (k->b.len)
        buf_putc(&k->b, ' ');
    buf_append(&k->b, w->folded, w->folded_len);
    return true;
}

char *fold_key(struct arena *a, const char *text)
{
    struct key_ctx k;
    buf_init(&k.b);
    fold_words(text, strlen(text), append_word, &k);
    char *out = buf_failed(&k.b) ? NULL : arena_strdup(a, k.b.data ? k.b.data : "");
    buf_release(&k.b);
    return out;
}
