/*
 * headwatch.h - closes connections that take too long to send a request
 * or to take its answer, however they trickle it.
 *
 * libmicrohttpd's connection timeout counts from the last byte moved, so a
 * client that sends (or reads) a byte every few seconds holds its
 * connection for ever: a slow head (slowloris), a slow body, a slow read.
 * The watch gives every connection a deadline: the timeout from the moment
 * it starts waiting for a request head (when it connects, and again after
 * each answer); for a body, the timeout from the end of the head plus a
 * second per HEADWATCH_MIN_RATE bytes received; for an answer, the timeout
 * plus a second per HEADWATCH_MIN_RATE bytes to send. While the server
 * itself works there is none. Past it, a watch thread shuts the socket
 * down and libmicrohttpd closes the connection.
 */
#ifndef NS_HEADWATCH_H
#define NS_HEADWATCH_H

#include <stddef.h>

/* Bytes a second a body or an answer must move at, on average, past the timeout's grace. */
#define HEADWATCH_MIN_RATE 1024

struct headwatch;

/* Watches up to slots connections with a deadline of timeout_s; NULL when out of memory. */
struct headwatch *headwatch_new(unsigned slots, unsigned timeout_s);

/* Stops the watch thread and frees the watch. */
void headwatch_free(struct headwatch *hw);

/* Starts watching socket fd, waiting for a head; returns its slot, or -1 when full. */
int headwatch_add(struct headwatch *hw, int fd);

/*
 * Stops watching a slot. Must be called before the socket is closed: the
 * watch never touches a descriptor after this returns.
 */
void headwatch_remove(struct headwatch *hw, int slot);

/* The slot's request is complete: no deadline while the server works on it. */
void headwatch_busy(struct headwatch *hw, int slot);

/* The slot is waiting for its next head, or the body of this one: the deadline starts now. */
void headwatch_waiting(struct headwatch *hw, int slot);

/* The slot is sending bytes of answer: the timeout, plus a second per HEADWATCH_MIN_RATE bytes. */
void headwatch_transfer(struct headwatch *hw, int slot, size_t bytes);

/*
 * The slot received bytes of body and the server spent ms on them: the
 * deadline moves on by a second per HEADWATCH_MIN_RATE bytes, plus ms.
 * Does nothing to a slot without a deadline.
 */
void headwatch_extend(struct headwatch *hw, int slot, size_t bytes, long long ms);

#endif
