/*
 * search.h - private to src/store: registering the ranking function on a
 * new connection.
 */
#ifndef NS_STORE_SEARCH_H
#define NS_STORE_SEARCH_H

#include "store/store_impl.h"

/* Registers ns_score() with the connection's FTS5; NS_ERR_DB when FTS5 is missing. */
enum ns_err store_search_register(struct store *st);

#endif
