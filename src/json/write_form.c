/*
 * write_form.c - the write form of a stored article, and merge patches.
 */
#include "json/write_form.h"

#include "domain/timefmt.h"

static void set_optional(json_t *o, const char *key, const char *value)
{
    if (value)
        json_object_set_new(o, key, json_string(value));
}

static json_t *image_form(const struct image *img)
{
    json_t *o = json_pack("{ss}", "url", img->url);
    if (!o)
        return NULL;
    set_optional(o, "caption", img->caption);
    set_optional(o, "credit", img->credit);
    set_optional(o, "alt", img->alt);
    if (img->width > 0)
        json_object_set_new(o, "width", json_integer(img->width));
    if (img->height > 0)
        json_object_set_new(o, "height", json_integer(img->height));
    return o;
}

json_t *article_to_write_form(const struct article_row *r)
{
    char published[TIMEFMT_LEN];
    timefmt_format(r->published_at, published);
    json_t *blocks = json_loads(r->blocks_json ? r->blocks_json : "[]", 0, NULL);
    json_t *o = json_pack("{ss,ss,ss,ss,ss,so}", "publication", r->publication.slug, "headline",
                          r->headline, "published_at", published, "language", r->language,
                          "access", r->premium ? "premium" : "free", "blocks", blocks);
    if (!o)
        return NULL;
    set_optional(o, "external_id", r->external_id);
    set_optional(o, "url", r->url);
    set_optional(o, "standfirst", r->standfirst);
    set_optional(o, "section", r->section);
    if (r->image.url)
        json_object_set_new(o, "image", image_form(&r->image));
    /* quote attributions and image captions stored as null are simply absent in writes */
    size_t i;
    json_t *b;
    json_array_foreach(blocks, i, b)
    {
        const char *key;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(b, tmp, key, v)
        {
            if (json_is_null(v))
                json_object_del(b, key);
        }
    }
    json_t *authors = json_array(), *topics = json_array(), *entities = json_array();
    for (size_t k = 0; authors && k < r->n_authors; k++)
        json_array_append_new(authors, json_string(r->authors[k].name));
    for (size_t k = 0; topics && k < r->n_topics; k++)
        json_array_append_new(topics, json_string(r->topics[k].name));
    for (size_t k = 0; entities && k < r->n_entities; k++)
        if (r->entities[k].given)
            json_array_append_new(entities, json_pack("{ss,ss}", "name", r->entities[k].name,
                                                      "type", r->entities[k].type));
    json_object_set_new(o, "authors", authors);
    json_object_set_new(o, "topics", topics);
    json_object_set_new(o, "entities", entities);
    return o;
}

json_t *merge_patch(json_t *target, json_t *patch)
{
    if (!json_is_object(patch)) {
        json_decref(target);
        return json_incref(patch);
    }
    if (!json_is_object(target)) {
        json_decref(target);
        target = json_object();
    }
    const char *key;
    json_t *value;
    json_object_foreach(patch, key, value)
    {
        if (json_is_null(value)) {
            json_object_del(target, key);
            continue;
        }
        json_t *current = json_object_get(target, key);
        json_object_set_new(target, key, merge_patch(json_incref(current), value));
    }
    return target;
}
