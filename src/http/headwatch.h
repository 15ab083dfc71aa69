/*
 * headwatch.h - closes connections that take too long to send a request
 * head, however they trickle it.
 *
 * libmicrohttpd's connection timeout counts from the last byte received,
 * so a client that sends a byte every few seconds (slowloris) holds its
 * connection for ever. The watch gives every connection a deadline from
 * the moment it starts waiting for a request head (when it connects, and
 * again after each answer) until the head is complete; past it, a watch
 * thread shuts the socket down and libmicrohttpd closes the connection.
 */
#ifndef NS_HEADWATCH_H
#define NS_HEADWATCH_H

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

/* The slot's head is complete: no deadline while its request is answered. */
void headwatch_busy(struct headwatch *hw, int slot);

/* The slot is waiting for its next head: the deadline starts now. */
void headwatch_waiting(struct headwatch *hw, int slot);

#endif
