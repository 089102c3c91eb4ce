/* The rack's power poll plan: which machine to query when, and what each
 * machine last answered. An engine without I/O: times come in as arguments
 * (clock_mono_us for schedules, unix milliseconds for the answer's time),
 * and the shell (rack/power/service.c) does the querying through the
 * scheduler (sched.h) and the reporting (PowerReport).
 *
 * The set: the machines the region's last PowerPollSet named, replaced as
 * a whole by the next one. A machine kept across a replacement keeps its
 * last known state and its place in the schedule; a machine that leaves
 * is forgotten (its next result is refused, -ENOENT); one that joins is
 * new, and its first result is a change. The plan keeps one opaque
 * pointer per machine for the shell (its decoded parameters, say) and
 * owns it: release() is called for a pointer when its machine leaves the
 * set, when a replacement brings a different pointer for the machine,
 * and at free.
 *
 * The schedule: each machine is due once per interval (default 300 s),
 * and the machines are spread evenly over it, not bunched:
 *   - a set with no machine kept (the first one): by rank, the i-th of N
 *     machines at now + i * interval / N (the first is due at once);
 *   - a replacement: kept machines keep their due times; machines that
 *     join fill the gaps between them, each gap getting a share of the
 *     newcomers proportional to its length and spacing them evenly within
 *     it, so a replacement never makes every machine due at once;
 *   - an interval that changes scales each kept machine's remaining wait
 *     by new / old, which keeps them spread.
 * Taking a machine as due moves its due time one interval on (a whole
 * number of intervals if the loop was away for longer, so a machine is
 * never due twice within an interval), whether or not its poll has
 * answered by then: the scheduler coalesces a query with one still
 * running.
 *
 * Change detection (report only changes): a result is a change when it is
 * the machine's first since it joined, or its state, its ok or its error
 * text differs from the machine's last result. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rack/power/driver.h"

#define POWER_POLL_INTERVAL_DEFAULT_S 300

struct power_poll;

/* One machine of a set; also what power_poll_due hands out. */
struct power_poll_target {
	uint64_t machine_id;
	void *arg; /* the shell's; the plan owns it once given to power_poll_set */
};

/* What the plan knows of one machine. */
struct power_poll_state {
	uint64_t machine_id;
	void *arg;
	bool known; /* a result arrived since the machine joined; if false, the rest is empty */
	enum power_state state;
	bool ok;
	const char *error;  /* "" when none; valid until the plan is next changed */
	int64_t at_unix_ms; /* when that result arrived */
	int64_t next_due_us;
};

typedef void (*power_poll_release_fn)(void *arg);

/* release may be NULL (the pointers are not owned then). */
struct power_poll *power_poll_new(power_poll_release_fn release);
/* Releases every pointer. NULL is fine. */
void power_poll_free(struct power_poll *p);

/* Replace the set with targets[n] (copied), polled every interval_s
 * seconds (0: POWER_POLL_INTERVAL_DEFAULT_S). A machine_id given twice:
 * the first target wins and the later one's arg is released. */
void power_poll_set(struct power_poll *p, const struct power_poll_target *targets, size_t n, unsigned interval_s,
		    int64_t now_us);

size_t power_poll_count(const struct power_poll *p);
unsigned power_poll_interval_s(const struct power_poll *p);

/* The machines due at now_us, earliest first, at most max of them into
 * out; each one's due time moves on (see above). Returns how many; call
 * again while it returns max. */
size_t power_poll_due(struct power_poll *p, int64_t now_us, struct power_poll_target *out, size_t max);
/* When the next machine is due (for the timer), INT64_MAX for an empty set. */
int64_t power_poll_next_due(const struct power_poll *p);

/* A poll of machine_id answered: the state it found (UNKNOWN when it
 * failed), ok, and the error ("" or NULL when none). Returns 1 if this is
 * a change to report, 0 if not, -ENOENT if the machine is not in the set
 * (it left while its poll ran). */
int power_poll_record(struct power_poll *p, uint64_t machine_id, enum power_state state, bool ok, const char *error,
		      int64_t at_unix_ms);

/* One machine, 0 or -ENOENT. */
int power_poll_get(const struct power_poll *p, uint64_t machine_id, struct power_poll_state *ret);
/* Every machine, in the order of the set (the "full" report after a
 * session starts). fn must not change the plan. */
void power_poll_foreach(const struct power_poll *p, void (*fn)(void *ctx, const struct power_poll_state *st),
			void *ctx);
