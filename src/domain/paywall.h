/*
 * paywall.h - who may read a premium article in full.
 *
 * Pure rule, no I/O. Every place that hands out article text asks here.
 */
#ifndef NS_PAYWALL_H
#define NS_PAYWALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAYWALL_PREVIEW_BLOCKS 2
#define PAYWALL_TRIAL_DAYS 14

enum plan { PLAN_NONE, PLAN_FREE, PLAN_TRIAL, PLAN_MEMBER };

/* The reader asking: PLAN_NONE for an anonymous client. */
struct reader_access {
    enum plan plan;
    int64_t expires_at; /* seconds since the epoch; ignored for NONE/FREE */
};

/* True when this reader gets only the preview of an article. */
bool paywall_locked(bool premium, const struct reader_access *reader, int64_t now);

/*
 * How many of an article's n_blocks blocks a locked reader sees: at most
 * PAYWALL_PREVIEW_BLOCKS and never more than half, so a short premium piece
 * is not given away whole by its preview.
 */
int paywall_preview_blocks(size_t n_blocks);

#endif
