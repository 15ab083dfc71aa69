/*
 * resource_json.c - wire form of articles, publications and authors.
 *
 * Optional strings absent from the store are sent as null, so every object
 * of a kind carries the same keys.
 */
#include "json/resource_json.h"

#include <stdlib.h>

#include "domain/blocks.h"
#include "domain/paywall.h"
#include "domain/timefmt.h"
#include "json/fields.h"
#include "json/json_text.h"

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *time_json(int64_t t)
{
    char buf[TIMEFMT_LEN];
    timefmt_format(t, buf);
    return json_string(buf);
}

json_t *publication_ref_to_json(const struct publication_ref *p)
{
    return json_pack("{sI,ss,ss}", "id", (json_int_t)p->id, "slug", p->slug, "name", p->name);
}

static json_t *topic_ref_to_json(const struct topic_ref *t)
{
    return json_pack("{sI,ss,ss}", "id", (json_int_t)t->id, "slug", t->slug, "name", t->name);
}

json_t *entity_ref_to_json(const struct entity_ref *e, bool with_mentions)
{
    json_t *o = json_pack("{sI,ss,ss,ss}", "id", (json_int_t)e->id, "slug", e->slug, "name",
                          e->name, "type", e->type);
    if (o && with_mentions) {
        /* three decimals: the score is a ranking signal, not a measurement */
        double salience = (double)(long long)(e->salience * 1000.0 + 0.5) / 1000.0;
        json_object_set_new(o, "mentions", json_integer(e->mentions));
        json_object_set_new(o, "salience", json_real(salience));
    }
    return o;
}

/* --- articles, written as text (json_text.h): the hot path of every article response */

static void ref_write(struct buf *b, int64_t id, const char *slug, const char *name)
{
    buf_puts(b, "{\"id\":");
    json_text_int(b, id);
    buf_puts(b, ",\"slug\":");
    json_text_string(b, slug);
    buf_puts(b, ",\"name\":");
    json_text_string(b, name);
    buf_putc(b, '}');
}

static void image_write(struct buf *b, const struct image *img)
{
    if (!img->url) {
        buf_puts(b, "null");
        return;
    }
    buf_puts(b, "{\"url\":");
    json_text_string(b, img->url);
    buf_puts(b, ",\"caption\":");
    json_text_string(b, img->caption);
    buf_puts(b, ",\"credit\":");
    json_text_string(b, img->credit);
    buf_puts(b, ",\"alt\":");
    json_text_string(b, img->alt);
    buf_puts(b, ",\"width\":");
    if (img->width > 0)
        json_text_int(b, img->width);
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"height\":");
    if (img->height > 0)
        json_text_int(b, img->height);
    else
        buf_puts(b, "null");
    buf_putc(b, '}');
}

static void time_write(struct buf *b, int64_t t)
{
    char text[TIMEFMT_LEN];
    timefmt_format(t, text);
    json_text_string(b, text);
}

/* The entities of r, at most max; with_mentions adds mentions and salience. */
static void entities_write(struct buf *b, const struct article_row *r, size_t max,
                           bool with_mentions)
{
    buf_putc(b, '[');
    for (size_t i = 0; i < r->n_entities && i < max; i++) {
        const struct entity_ref *e = &r->entities[i];
        buf_puts(b, i ? ",{\"id\":" : "{\"id\":");
        json_text_int(b, e->id);
        buf_puts(b, ",\"slug\":");
        json_text_string(b, e->slug);
        buf_puts(b, ",\"name\":");
        json_text_string(b, e->name);
        buf_puts(b, ",\"type\":");
        json_text_string(b, e->type);
        if (with_mentions) {
            buf_puts(b, ",\"mentions\":");
            json_text_int(b, e->mentions);
            buf_puts(b, ",\"salience\":");
            /* three decimals: the score is a ranking signal, not a measurement */
            json_text_real(b, (double)(long long)(e->salience * 1000.0 + 0.5) / 1000.0);
        }
        buf_putc(b, '}');
    }
    buf_putc(b, ']');
}

/* Every member of the summary form but entities, without the braces. */
static void summary_members(struct buf *b, const struct article_row *r)
{
    buf_puts(b, "\"id\":");
    json_text_int(b, r->id);
    buf_puts(b, ",\"slug\":");
    json_text_string(b, r->slug);
    buf_puts(b, ",\"headline\":");
    json_text_string(b, r->headline);
    buf_puts(b, ",\"standfirst\":");
    json_text_string(b, r->standfirst);
    buf_puts(b, ",\"url\":");
    json_text_string(b, r->url);
    buf_puts(b, ",\"publication\":");
    ref_write(b, r->publication.id, r->publication.slug, r->publication.name);
    buf_puts(b, ",\"section\":");
    json_text_string(b, r->section);
    buf_puts(b, ",\"authors\":[");
    for (size_t i = 0; i < r->n_authors; i++) {
        if (i)
            buf_putc(b, ',');
        ref_write(b, r->authors[i].id, r->authors[i].slug, r->authors[i].name);
    }
    buf_puts(b, "],\"image\":");
    image_write(b, &r->image);
    buf_puts(b, ",\"published_at\":");
    time_write(b, r->published_at);
    buf_puts(b, ",\"updated_at\":");
    time_write(b, r->updated_at);
    buf_puts(b, ",\"language\":");
    json_text_string(b, r->language);
    buf_puts(b, r->premium ? ",\"access\":\"premium\",\"word_count\":"
                           : ",\"access\":\"free\",\"word_count\":");
    json_text_int(b, r->word_count);
    buf_puts(b, ",\"reading_time_minutes\":");
    json_text_int(b, reading_time_minutes(r->word_count));
    buf_puts(b, ",\"topics\":[");
    for (size_t i = 0; i < r->n_topics; i++) {
        if (i)
            buf_putc(b, ',');
        ref_write(b, r->topics[i].id, r->topics[i].slug, r->topics[i].name);
    }
    buf_putc(b, ']');
}

void article_summary_write(struct buf *b, const struct article_row *r)
{
    buf_putc(b, '{');
    summary_members(b, r);
    buf_puts(b, ",\"entities\":");
    entities_write(b, r, SUMMARY_ENTITIES_MAX, false);
    buf_putc(b, '}');
}

/* Takes back the closing brace of the object just written, to add members to it. */
static void reopen(struct buf *b)
{
    if (!buf_failed(b) && b->len)
        b->data[--b->len] = '\0';
}

void article_counted_write(struct buf *b, const struct article_row *r, const char *key,
                           int64_t value)
{
    article_summary_write(b, r);
    reopen(b);
    buf_puts(b, ",\"");
    buf_puts(b, key);
    buf_puts(b, "\":");
    json_text_int(b, value);
    buf_putc(b, '}');
}

void article_hit_write(struct buf *b, const struct article_row *r, double score,
                       const char *headline_html, const char *snippet_html)
{
    article_summary_write(b, r);
    reopen(b);
    buf_puts(b, ",\"score\":");
    json_text_real(b, score);
    buf_puts(b, ",\"highlight\":{\"headline\":");
    json_text_string(b, headline_html);
    buf_puts(b, ",\"snippet\":");
    json_text_string(b, snippet_html);
    buf_puts(b, "}}");
}

bool article_full_write(struct buf *b, const struct article_row *r, bool locked)
{
    const char *blocks = r->blocks_json ? r->blocks_json : "[]";
    char *preview = NULL;
    int shown = 0;
    if (locked) {
        /* the preview blocks only: the stored array cut, through jansson (one in five pieces) */
        json_t *all = json_loads(blocks, 0, NULL);
        if (!all || !json_is_array(all)) {
            json_decref(all);
            return false;
        }
        size_t keep = (size_t)paywall_preview_blocks(json_array_size(all));
        while (json_array_size(all) > keep)
            json_array_remove(all, json_array_size(all) - 1);
        shown = (int)json_array_size(all);
        preview = fields_dumps(all, JSON_COMPACT | JSON_REAL_PRECISION(10));
        json_decref(all);
        if (!preview)
            return false;
    }
    buf_putc(b, '{');
    summary_members(b, r);
    buf_puts(b, ",\"entities\":");
    entities_write(b, r, r->n_entities, true);
    /* a reader with access gets the stored blocks as they are: they are kept as served */
    buf_puts(b, ",\"blocks\":");
    buf_puts(b, locked ? preview : blocks);
    if (locked) {
        buf_puts(b, ",\"paywall\":{\"locked\":true,\"reason\":\"membership_required\","
                    "\"preview_blocks\":");
        json_text_int(b, shown);
        buf_puts(b, ",\"trial_days\":");
        json_text_int(b, PAYWALL_TRIAL_DAYS);
        buf_puts(b, "}}");
    } else {
        buf_puts(b, ",\"paywall\":{\"locked\":false}}");
    }
    free(preview);
    return !buf_failed(b);
}

/* A jansson value of text the writers above made (for callers that add to it). */
static json_t *parsed(struct buf *b)
{
    json_t *v = buf_failed(b) ? NULL : json_loadb(b->data, b->len, 0, NULL);
    buf_release(b);
    return v;
}

json_t *article_summary_to_json(const struct article_row *r)
{
    struct buf b;
    buf_init(&b);
    article_summary_write(&b, r);
    return parsed(&b);
}

json_t *article_full_to_json(const struct article_row *r, bool locked)
{
    struct buf b;
    buf_init(&b);
    if (!article_full_write(&b, r, locked))
        buf_release(&b);
    return b.data ? parsed(&b) : NULL;
}

json_t *publication_to_json(const struct publication_row *p)
{
    return json_pack("{sI,ss,ss,so,so,so,sI}", "id", (json_int_t)p->id, "slug", p->slug, "name",
                     p->name, "homepage", str_or_null(p->homepage), "country",
                     str_or_null(p->country), "language", str_or_null(p->language),
                     "article_count", (json_int_t)p->article_count);
}

json_t *author_to_json(const struct author_row *a)
{
    return json_pack("{sI,ss,ss,so,sI}", "id", (json_int_t)a->id, "slug", a->slug, "name",
                     a->name, "publication",
                     a->has_publication ? publication_ref_to_json(&a->publication) : json_null(),
                     "article_count", (json_int_t)a->article_count);
}

static json_t *time_or_null(bool set, int64_t t)
{
    return set ? time_json(t) : json_null();
}

json_t *entity_to_json(const struct entity_row *e)
{
    json_t *aliases = json_array();
    for (size_t i = 0; aliases && i < e->n_aliases; i++)
        if (json_array_append_new(aliases, json_string(e->aliases[i]))) {
            json_decref(aliases);
            aliases = NULL;
        }
    return json_pack("{sI,ss,ss,ss,so,so,so,sI,so,so}", "id", (json_int_t)e->id, "slug", e->slug,
                     "name", e->name, "type", e->type, "description",
                     str_or_null(e->description), "aliases", aliases, "wikidata",
                     str_or_null(e->wikidata), "article_count", (json_int_t)e->article_count,
                     "first_seen", time_or_null(e->seen, e->first_seen), "last_seen",
                     time_or_null(e->seen, e->last_seen));
}

json_t *related_to_json(const struct related_row *r)
{
    json_t *o = entity_ref_to_json(&r->entity, false);
    if (o && json_object_set_new(o, "count", json_integer(r->count))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *topic_to_json(const struct topic_row *t, const char *trend_window)
{
    json_t *o = json_pack("{sI,ss,ss,so,sI}", "id", (json_int_t)t->id, "slug", t->slug, "name",
                          t->name, "parent",
                          t->has_parent ? topic_ref_to_json(&t->parent) : json_null(),
                          "article_count", (json_int_t)t->article_count);
    if (o && trend_window &&
        json_object_set_new(o, "trend",
                            json_pack("{ss,sI,sI}", "window", trend_window, "articles",
                                      (json_int_t)t->trend_articles, "reads",
                                      (json_int_t)t->trend_reads))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *facet_to_json(const struct facet_row *f)
{
    return json_pack("{ss,ss,sI}", "slug", f->slug ? f->slug : "", "name", f->name ? f->name : "",
                     "count", (json_int_t)f->count);
}

json_t *user_to_json(const struct user_row *u)
{
    return json_pack("{sI,ss,ss,s{ss,so},so}", "id", (json_int_t)u->id, "email", u->email, "name",
                     u->name, "membership", "plan", u->plan, "expires_at",
                     time_or_null(u->has_expiry, u->expires_at), "created_at",
                     time_json(u->created_at));
}

json_t *follow_to_json(const struct follow_row *f)
{
    return json_pack("{ss,sI,ss,ss,so}", "kind", f->kind, "id", (json_int_t)f->id, "slug",
                     f->slug ? f->slug : "", "name", f->name ? f->name : "", "followed_at",
                     time_json(f->followed_at));
}
