/*
 * embedded.h - files built into the binary by schema/embed.sh: the schema
 * migrations (in order) and the OpenAPI document.
 */
#ifndef NS_EMBEDDED_H
#define NS_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
    const char *name; /* base name, e.g. "001_articles.sql" */
    const char *data; /* NUL-terminated contents */
    size_t len;
};

extern const struct embedded_file schema_files[];
extern const size_t schema_files_count;
extern const struct embedded_file openapi_files[];
extern const size_t openapi_files_count;

#endif
