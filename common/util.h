/* Small helpers every part of both daemons needs, in one place: hex
 * digits, clocks, error buffers, bound ports, and the one out-of-memory
 * policy.
 *
 * Out of memory: like Redis's zmalloc, the x* allocators never return
 * NULL; on failure they print one line to stderr and abort(). A daemon
 * that cannot allocate a few bytes cannot keep its promises (an ACKed
 * lease, a queued event) by limping on, and hand-written -ENOMEM paths
 * that are never tested are worse than one clear stop that systemd
 * restarts. Limits on what a peer can make us allocate are enforced
 * before allocating (STYLE.md), so an abort here is not a remote DoS. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- memory ---- */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* realloc to nmemb * size, aborting on overflow too. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The policy itself: report and abort. For the rare library that hands us
 * a NULL meaning "out of memory" (jansson, protobuf-c, OpenSSL, libevent);
 * n is the size asked for, 0 when unknown. */
void oom_abort(size_t n) __attribute__((noreturn));

/* ---- hex ---- */
/* Value of one hex digit (upper or lower case), -1 if c is not one. */
int hex_digit_value(char c);
/* Decode exactly len hex digits (len even) into out (len / 2 bytes, at
 * most outlen). Returns the number of bytes, -EINVAL for an odd length or
 * a non-hex character, -ENOSPC if out is too small. */
int hex_decode(const char *hex, size_t len, uint8_t *out, size_t outlen);
/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void hex_encode(const uint8_t *in, size_t n, char *out);

/* ---- clocks ---- */
/* CLOCK_MONOTONIC: for timeouts, round trips and liveness. Never goes
 * back when an operator or NTP sets the wall clock. */
int64_t clock_mono_us(void);
int64_t clock_mono_ms(void);
/* CLOCK_REALTIME in unix milliseconds: only for timestamps a person or
 * another machine reads. */
int64_t clock_real_ms(void);
/* A duration as people read it, Go style: "45s", "30m0s", "1h2m5s". */
void duration_format(uint64_t secs, char *buf, size_t len);

/* ---- error buffers ---- */
/* snprintf into a caller's err[errlen] (NULL or 0 length: nothing). */
void err_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- sockets ---- */
/* Local port fd is bound to (host order), or -errno. */
int sock_bound_port(int fd);
