/*
 * oom.c - the per-thread count of refused allocations of oom.h.
 */
#include "core/oom.h"

static _Thread_local unsigned long refused;
static _Thread_local unsigned long refused_at_mark;

void oom_note(void)
{
    refused++;
}

unsigned long oom_count(void)
{
    return refused;
}

void oom_mark(void)
{
    refused_at_mark = refused;
}

void oom_mark_at(unsigned long at)
{
    refused_at_mark = at;
}

bool oom_since_mark(void)
{
    return refused != refused_at_mark;
}
