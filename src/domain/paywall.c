/*
 * paywall.c - the premium-access rule of paywall.h.
 */
#include "domain/paywall.h"

bool paywall_locked(bool premium, const struct reader_access *reader, int64_t now)
{
    if (!premium)
        return false;
    if (!reader)
        return true;
    bool paying = reader->plan == PLAN_TRIAL || reader->plan == PLAN_MEMBER;
    return !(paying && reader->expires_at > now);
}

int paywall_preview_blocks(size_t n_blocks)
{
    size_t half = n_blocks / 2;
    return (int)(half < PAYWALL_PREVIEW_BLOCKS ? half : PAYWALL_PREVIEW_BLOCKS);
}
