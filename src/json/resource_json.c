/*
 * resource_json.c - wire form of articles, publications and authors.
 *
 * Optional strings absent from the store are sent as null, so every object
 * of a kind carries the same keys.
 */
#include "json/resource_json.h"

#include "domain/blocks.h"
#include "domain/paywall.h"
#include "domain/timefmt.h"

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

static json_t *int_or_null(int v)
{
    return v > 0 ? json_integer(v) : json_null();
}

json_t *publication_ref_to_json(const struct publication_ref *p)
{
    return json_pack("{sI,ss,ss}", "id", (json_int_t)p->id, "slug", p->slug, "name", p->name);
}

static json_t *image_to_json(const struct image *img)
{
    if (!img->url)
        return json_null();
    return json_pack("{ss,so,so,so,so,so}", "url", img->url, "caption",
                     str_or_null(img->caption), "credit", str_or_null(img->credit), "alt",
                     str_or_null(img->alt), "width", int_or_null(img->width), "height",
                     int_or_null(img->height));
}

static json_t *authors_to_json(const struct article_row *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < r->n_authors; i++) {
        const struct author_ref *a = &r->authors[i];
        if (json_array_append_new(arr, json_pack("{sI,ss,ss}", "id", (json_int_t)a->id, "slug",
                                                 a->slug, "name", a->name))) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
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

static json_t *topics_to_json(const struct article_row *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < r->n_topics; i++)
        if (json_array_append_new(arr, topic_ref_to_json(&r->topics[i]))) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

static json_t *entities_to_json(const struct article_row *r, size_t max, bool with_mentions)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < r->n_entities && i < max; i++)
        if (json_array_append_new(arr, entity_ref_to_json(&r->entities[i], with_mentions))) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

json_t *article_summary_to_json(const struct article_row *r)
{
    return json_pack(
        "{sI,ss,ss,so,so,so,so,so,so,so,so,ss,ss,sI,si,so,so}", "id", (json_int_t)r->id, "slug",
        r->slug, "headline", r->headline, "standfirst", str_or_null(r->standfirst), "url",
        str_or_null(r->url), "publication", publication_ref_to_json(&r->publication), "section",
        str_or_null(r->section), "authors", authors_to_json(r), "image", image_to_json(&r->image),
        "published_at", time_json(r->published_at), "updated_at", time_json(r->updated_at),
        "language", r->language, "access", r->premium ? "premium" : "free", "word_count",
        (json_int_t)r->word_count, "reading_time_minutes", reading_time_minutes(r->word_count),
        "topics", topics_to_json(r), "entities", entities_to_json(r, SUMMARY_ENTITIES_MAX, false));
}

/* The stored blocks, cut to the preview when locked; *shown says how many. */
static json_t *blocks_for_reader(const struct article_row *r, bool locked, int *shown)
{
    json_t *blocks = json_loads(r->blocks_json ? r->blocks_json : "[]", 0, NULL);
    if (!blocks || !json_is_array(blocks)) {
        json_decref(blocks);
        return NULL;
    }
    if (locked) {
        size_t keep = (size_t)paywall_preview_blocks(json_array_size(blocks));
        while (json_array_size(blocks) > keep)
            json_array_remove(blocks, json_array_size(blocks) - 1);
    }
    *shown = (int)json_array_size(blocks);
    return blocks;
}

json_t *article_full_to_json(const struct article_row *r, bool locked)
{
    json_t *o = article_summary_to_json(r);
    int shown = 0;
    json_t *blocks = o ? blocks_for_reader(r, locked, &shown) : NULL;
    json_t *paywall = NULL;
    if (blocks)
        paywall = locked ? json_pack("{sb,ss,si,si}", "locked", 1, "reason",
                                     "membership_required", "preview_blocks", shown,
                                     "trial_days", PAYWALL_TRIAL_DAYS)
                         : json_pack("{sb}", "locked", 0);
    if (!paywall) {
        json_decref(blocks);
        json_decref(o);
        return NULL;
    }
    /* set_new takes each value even when it fails, so nothing is left to free but o */
    int failed = json_object_set_new(o, "blocks", blocks);
    failed |= json_object_set_new(o, "paywall", paywall);
    failed |= json_object_set_new(o, "entities", entities_to_json(r, r->n_entities, true));
    if (failed) {
        json_decref(o);
        return NULL;
    }
    return o;
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
