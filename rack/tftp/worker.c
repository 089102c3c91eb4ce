/* The TFTP server's transfer threads.
 *
 * The daemon's loop keeps the listening socket, the requests, the limits,
 * the file cache and the per-address counts. Each transfer, once its socket
 * is open, is given to the worker with the fewest transfers, and from then
 * on only that worker's thread touches it: its own event loop reads the
 * ACKs, sends the DATA and runs the timers. When the transfer ends, the
 * worker logs it, closes its socket and hands it back to the daemon's loop,
 * which returns its slot, its address count and its file to the cache.
 *
 * Hand-offs go through mailboxes: a locked list and an eventfd the
 * receiving loop watches, written only when the list was empty. A loop
 * shared by hundreds of lock-step transfers answers each ACK only when the
 * scheduler runs its one thread; with one loop per CPU the transfers are
 * served in parallel, as the forking and threaded TFTP servers serve them,
 * and no packet crosses threads. */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "rack/tftp/internal.h"

#define WORKERS_AUTO_MAX 8

static void mailbox_wake(struct tftp_mailbox *m)
{
	uint64_t one = 1;

	/* Fails only when the counter is full: then it is readable anyway. */
	if (write(m->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("tftp: cannot wake a transfer loop: %s", strerror(errno));
}

static void mailbox_post(struct tftp_mailbox *m, struct tftp_qlink *l)
{
	l->next = NULL;
	pthread_mutex_lock(&m->mu);
	bool was_empty = !m->head;
	if (m->tail)
		m->tail->next = l;
	else
		m->head = l;
	m->tail = l;
	pthread_mutex_unlock(&m->mu);
	if (was_empty)
		mailbox_wake(m);
}

/* Everything posted so far, in order. */
static struct tftp_qlink *mailbox_take(struct tftp_mailbox *m)
{
	uint64_t n;

	if (read(m->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("tftp: cannot read a transfer loop's wake-up: %s", strerror(errno));
	pthread_mutex_lock(&m->mu);
	struct tftp_qlink *l = m->head;
	m->head = m->tail = NULL;
	pthread_mutex_unlock(&m->mu);
	return l;
}

static int mailbox_init(struct tftp_mailbox *m, struct event_base *base, event_callback_fn cb, void *arg)
{
	pthread_mutex_init(&m->mu, NULL);
	m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->efd < 0)
		return -errno;
	m->ev = event_new(base, m->efd, EV_READ | EV_PERSIST, cb, arg);
	if (!m->ev)
		oom_abort(0); /* a library's NULL: out of memory */
	event_add(m->ev, NULL);
	return 0;
}

static void mailbox_done(struct tftp_mailbox *m)
{
	if (m->ev)
		event_free(m->ev);
	if (m->efd >= 0)
		close(m->efd);
	pthread_mutex_destroy(&m->mu);
}

/* ---- a worker's thread ---- */

static void worker_inbox_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tftp_worker *w = arg;
	struct tftp_qlink *l = mailbox_take(&w->inbox);
	bool stopping = __atomic_load_n(&w->stopping, __ATOMIC_ACQUIRE);

	const struct tftp_worker_ops *ops = w->srv->worker_ops;

	while (l) {
		struct tftp_qlink *next = l->next;
		if (stopping)
			ops->abort(l, "server shutting down");
		else
			ops->run(w, l);
		l = next;
	}
	if (stopping) {
		ops->abort_all(w, "server shutting down");
		event_base_loopbreak(w->base);
	}
}

static void *worker_thread(void *arg)
{
	struct tftp_worker *w = arg;

	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* ---- the daemon's loop ---- */

static void server_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tftp_server *s = arg;

	for (struct tftp_qlink *l = mailbox_take(&s->done), *next; l; l = next) {
		next = l->next;
		s->worker_ops->reap(s, l);
	}
}

unsigned tftp_workers_auto(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	int n = CPU_COUNT(&set);
	return n < 1 ? 1 : n > WORKERS_AUTO_MAX ? WORKERS_AUTO_MAX : (unsigned)n;
}

int tftp_workers_start(struct tftp_server *s, unsigned n, const struct tftp_worker_ops *ops)
{
	int r;

	s->worker_ops = ops;
	s->done.efd = -1;
	r = mailbox_init(&s->done, s->base, server_done_cb, s);
	if (r < 0) {
		log_err("tftp: cannot make an eventfd: %s", strerror(-r));
		return r;
	}
	s->workers = xcalloc(n, sizeof(*s->workers));
	/* Signals are the daemon loop's: the threads start with all blocked. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < n && r == 0; i++) {
		struct tftp_worker *w = &s->workers[i];
		w->srv = s;
		w->gso = true;
		w->inbox.efd = -1;
		w->base = event_base_new();
		if (!w->base)
			oom_abort(0);
		s->n_workers++;
		r = mailbox_init(&w->inbox, w->base, worker_inbox_cb, w);
		if (r < 0) {
			log_err("tftp: cannot make an eventfd: %s", strerror(-r));
			break;
		}
		r = -pthread_create(&w->thread, NULL, worker_thread, w);
		if (r < 0) {
			log_err("tftp: cannot start a transfer thread: %s", strerror(-r));
			break;
		}
		w->started = true;
		char name[16]; /* top -H, ps -L */
		snprintf(name, sizeof(name), "tftp-%u", i + 1);
		pthread_setname_np(w->thread, name);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

void tftp_workers_stop(struct tftp_server *s)
{
	for (unsigned i = 0; i < s->n_workers; i++) {
		struct tftp_worker *w = &s->workers[i];
		if (!w->started)
			continue;
		__atomic_store_n(&w->stopping, true, __ATOMIC_RELEASE);
		mailbox_wake(&w->inbox);
		pthread_join(w->thread, NULL);
	}
	if (s->done.ev)
		server_done_cb(-1, 0, s); /* what the workers handed back last */
	for (unsigned i = 0; i < s->n_workers; i++) {
		mailbox_done(&s->workers[i].inbox);
		event_base_free(s->workers[i].base);
	}
	free(s->workers);
	s->workers = NULL;
	s->n_workers = 0;
	if (s->done.ev)
		mailbox_done(&s->done);
}

struct tftp_worker *tftp_worker_pick(struct tftp_server *s)
{
	struct tftp_worker *best = &s->workers[0];

	for (unsigned i = 1; i < s->n_workers; i++)
		if (s->workers[i].load < best->load)
			best = &s->workers[i];
	return best;
}

void tftp_worker_give(struct tftp_worker *w, struct tftp_qlink *l)
{
	w->load++;
	mailbox_post(&w->inbox, l);
}

void tftp_worker_hand_back(struct tftp_worker *w, struct tftp_qlink *l)
{
	mailbox_post(&w->srv->done, l);
}
