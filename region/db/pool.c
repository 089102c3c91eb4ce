/* Database workers with results delivered on the libevent loop; see pool.h.
 *
 * One mutex guards the queues and the health state; each lane has its own
 * condition variable so the writer never wakes for a read job. Finished
 * jobs go to one done queue that an eventfd hands to the loop. */
#include "region/db/pool.h"

#include <errno.h>
#include <event2/event.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "region/db/db_internal.h"

#define DB_POOL_READERS_MAX  8
#define DB_BACKOFF_FIRST_MS  250
#define DB_BACKOFF_MAX_MS    8000
#define DB_PROBE_INTERVAL_MS 250
/* Reconnects must not hold a worker long: a dead server answers at once,
 * an unreachable one within this. */
#define DB_CONNECT_TIMEOUT_S 3

struct db_job {
	struct db_job *next;
	enum db_lane lane;
	db_job_fn fn;
	db_done_fn done;
	void *arg;
	int status;
};

/* A FIFO of jobs (head out, tail in). */
struct db_job_queue {
	struct db_job *head, *tail;
	unsigned n;
};

struct db_worker {
	struct db_pool *pool;
	enum db_lane lane;
	struct db *db;	  /* this thread's connection; NULL until connected */
	PGcancel *cancel; /* guarded by pool->lock; for shutdown */
	bool busy;	  /* guarded by pool->lock */
	bool running;	  /* the thread was started */
	pthread_t thread;
};

struct db_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond[2];	     /* per lane */
	struct db_job_queue todo[2]; /* guarded by lock */
	struct db_job_queue done;    /* guarded by lock */
	bool stopping;		     /* guarded by lock */
	/* Health, guarded by lock. */
	bool down;
	int64_t retry_at_ms; /* monotonic; when down */
	int backoff_ms;
	char last_error[256];
	unsigned queued[2]; /* loop thread: submitted, not delivered */
	int efd;
	struct event *ev;
	struct event *probe;
	bool probing; /* loop thread: a probe job is out */
	char *dsn;
	struct db_worker workers[1 + DB_POOL_READERS_MAX];
	unsigned n_workers;
};

static void pool_probe_arm(struct db_pool *p);

static void queue_push(struct db_job_queue *q, struct db_job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->n++;
}

static struct db_job *queue_pop(struct db_job_queue *q)
{
	struct db_job *j = q->head;
	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		q->n--;
	}
	return j;
}

/* Called with the lock held. */
static void pool_mark_down(struct db_pool *p, const char *why)
{
	if (!p->down) {
		p->backoff_ms = DB_BACKOFF_FIRST_MS;
		log_warn("database unavailable: %s; retrying with backoff", why);
	} else {
		p->backoff_ms = p->backoff_ms * 2 > DB_BACKOFF_MAX_MS ? DB_BACKOFF_MAX_MS : p->backoff_ms * 2;
	}
	p->down = true;
	snprintf(p->last_error, sizeof(p->last_error), "%s", why);
	p->retry_at_ms = clock_mono_ms() + p->backoff_ms;
}

/* Called with the lock held. */
static void pool_mark_up(struct db_pool *p)
{
	if (p->down)
		log_info("database reachable again");
	p->down = false;
	p->last_error[0] = '\0';
}

static void worker_cancel_set(struct db_worker *w)
{
	PGcancel *c = w->db ? PQgetCancel(w->db->conn) : NULL;
	pthread_mutex_lock(&w->pool->lock);
	PGcancel *old = w->cancel;
	w->cancel = c;
	pthread_mutex_unlock(&w->pool->lock);
	PQfreeCancel(old);
}

/* Make sure this worker has a live connection, honouring the backoff.
 * Runs on the worker without the lock held. */
static bool worker_connect(struct db_worker *w)
{
	struct db_pool *p = w->pool;
	char err[256] = "";

	if (w->db && PQstatus(w->db->conn) == CONNECTION_OK)
		return true;
	pthread_mutex_lock(&p->lock);
	bool wait = p->down && clock_mono_ms() < p->retry_at_ms;
	pthread_mutex_unlock(&p->lock);
	if (wait)
		return false;
	if (w->db) {
		PQreset(w->db->conn);
		if (PQstatus(w->db->conn) != CONNECTION_OK)
			snprintf(err, sizeof(err), "%.*s", (int)strcspn(PQerrorMessage(w->db->conn), "\n"),
				 PQerrorMessage(w->db->conn));
	} else if (db_connect(p->dsn, DB_CONNECT_TIMEOUT_S, &w->db, err, sizeof(err)) < 0) {
		w->db = NULL;
	}
	bool ok = w->db && PQstatus(w->db->conn) == CONNECTION_OK;
	pthread_mutex_lock(&p->lock);
	if (ok)
		pool_mark_up(p);
	else
		pool_mark_down(p, err[0] ? err : "connection failed");
	pthread_mutex_unlock(&p->lock);
	if (ok)
		worker_cancel_set(w);
	return ok;
}

static void worker_run(struct db_worker *w, struct db_job *j)
{
	if (!worker_connect(w)) {
		j->status = -ENOTCONN;
		return;
	}
	j->status = j->fn(w->db, j->arg);
	if (w->db->in_tx) {
		/* A job must finish its own transaction; never leak one into
		 * the next job. */
		log_err("database job left a transaction open; rolled back");
		db_rollback(w->db, 0);
	}
	if (PQstatus(w->db->conn) != CONNECTION_OK) {
		pthread_mutex_lock(&w->pool->lock);
		pool_mark_down(w->pool, w->db->last_error[0] ? w->db->last_error : "connection lost");
		pthread_mutex_unlock(&w->pool->lock);
	}
}

static void *worker_thread(void *arg)
{
	struct db_worker *w = arg;
	struct db_pool *p = w->pool;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stopping && !p->todo[w->lane].head)
			pthread_cond_wait(&p->cond[w->lane], &p->lock);
		if (p->stopping)
			break;
		struct db_job *j = queue_pop(&p->todo[w->lane]);
		w->busy = true;
		pthread_mutex_unlock(&p->lock);
		worker_run(w, j);
		pthread_mutex_lock(&p->lock);
		w->busy = false;
		bool first = !p->done.head;
		queue_push(&p->done, j);
		if (first) {
			uint64_t one = 1;
			ssize_t wr = write(p->efd, &one, sizeof(one));
			(void)wr; /* one write per batch cannot overflow the counter */
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void pool_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct db_pool *p = arg;
	uint64_t n;
	ssize_t rd = read(p->efd, &n, sizeof(n));
	(void)rd;
	pthread_mutex_lock(&p->lock);
	struct db_job_queue q = p->done;
	p->done.head = p->done.tail = NULL;
	p->done.n = 0;
	pthread_mutex_unlock(&p->lock);
	struct db_job *j;
	while ((j = queue_pop(&q)) != NULL) {
		p->queued[j->lane]--;
		j->done(j->arg, j->status);
		free(j);
	}
	if (!db_pool_is_up(p))
		pool_probe_arm(p);
}

static int probe_run(struct db *db, void *arg)
{
	return 0;
}

static void probe_done(void *arg, int status)
{
	struct db_pool *p = arg;
	p->probing = false;
}

/* While the database is down, keep trying on the writer so the pool comes
 * back without waiting for traffic. The timer runs only then: the loop
 * arms it when it learns the pool is down (a refused submit, a delivery). */
static void pool_probe(evutil_socket_t fd, short what, void *arg)
{
	struct db_pool *p = arg;
	pthread_mutex_lock(&p->lock);
	bool down = p->down, due = p->down && clock_mono_ms() >= p->retry_at_ms;
	pthread_mutex_unlock(&p->lock);
	if (!down)
		return;
	if (due && !p->probing && db_pool_submit(p, DB_LANE_WRITE, probe_run, probe_done, p) == 0)
		p->probing = true;
	pool_probe_arm(p);
}

static void pool_probe_arm(struct db_pool *p)
{
	struct timeval tv = {0, DB_PROBE_INTERVAL_MS * 1000};
	if (!evtimer_pending(p->probe, NULL))
		evtimer_add(p->probe, &tv);
}

int db_pool_submit(struct db_pool *p, enum db_lane lane, db_job_fn fn, db_done_fn done, void *arg)
{
	pthread_mutex_lock(&p->lock);
	if (p->down && clock_mono_ms() < p->retry_at_ms) {
		pthread_mutex_unlock(&p->lock);
		pool_probe_arm(p);
		return -ENOTCONN;
	}
	if (p->todo[lane].n >= DB_POOL_QUEUE_MAX) {
		pthread_mutex_unlock(&p->lock);
		return -EAGAIN;
	}
	struct db_job *j = xcalloc(1, sizeof(*j));
	j->lane = lane;
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	queue_push(&p->todo[lane], j);
	pthread_cond_signal(&p->cond[lane]);
	pthread_mutex_unlock(&p->lock);
	p->queued[lane]++;
	return 0;
}

int db_pool_new(struct event_base *base, const char *dsn, unsigned readers, struct db_pool **ret, char *err,
		size_t errlen)
{
	struct db_pool *p = xcalloc(1, sizeof(*p));

	if (readers == 0)
		readers = DB_POOL_READERS_DEFAULT;
	if (readers > DB_POOL_READERS_MAX)
		readers = DB_POOL_READERS_MAX;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond[0], NULL);
	pthread_cond_init(&p->cond[1], NULL);
	p->dsn = xstrdup(dsn ? dsn : "");
	p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->efd < 0) {
		err_set(err, errlen, "eventfd: %s", strerror(errno));
		free(p->dsn);
		free(p);
		return -EMFILE;
	}
	p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, pool_deliver, p);
	p->probe = evtimer_new(base, pool_probe, p);
	if (!p->ev || !p->probe)
		oom_abort(0);
	event_add(p->ev, NULL);

	/* Every connection up front: a DSN that does not work is a start-up
	 * error, not a stream of 503s. */
	for (unsigned i = 0; i < 1 + readers; i++) {
		struct db_worker *w = &p->workers[i];
		w->pool = p;
		w->lane = i == 0 ? DB_LANE_WRITE : DB_LANE_READ;
		if (db_connect(p->dsn, DB_CONNECT_TIMEOUT_S, &w->db, err, errlen) < 0) {
			w->db = NULL;
			p->n_workers = i;
			db_pool_free(p);
			return -EIO;
		}
		w->cancel = PQgetCancel(w->db->conn);
		p->n_workers = i + 1;
	}
	/* Signals belong to the loop thread (libevent's evsignal). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = 0;
	for (unsigned i = 0; i < p->n_workers && rc == 0; i++) {
		rc = -pthread_create(&p->workers[i].thread, NULL, worker_thread, &p->workers[i]);
		p->workers[i].running = rc == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		err_set(err, errlen, "cannot start database threads: %s", strerror(-rc));
		db_pool_free(p);
		return rc;
	}
	*ret = p;
	return 0;
}

void db_pool_free(struct db_pool *p)
{
	char errbuf[256];

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	/* A job stuck on a lock would hold shutdown up: cancel what runs. */
	for (unsigned i = 0; i < p->n_workers; i++)
		if (p->workers[i].busy && p->workers[i].cancel)
			PQcancel(p->workers[i].cancel, errbuf, sizeof(errbuf));
	pthread_cond_broadcast(&p->cond[0]);
	pthread_cond_broadcast(&p->cond[1]);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->n_workers; i++) {
		struct db_worker *w = &p->workers[i];
		if (w->running)
			pthread_join(w->thread, NULL);
		PQfreeCancel(w->cancel);
		db_close(w->db);
	}
	struct db_job *j;
	while ((j = queue_pop(&p->done)) != NULL || (j = queue_pop(&p->todo[0])) != NULL ||
	       (j = queue_pop(&p->todo[1])) != NULL) {
		j->done(j->arg, -ECANCELED);
		free(j);
	}
	event_free(p->probe);
	event_free(p->ev);
	close(p->efd);
	pthread_cond_destroy(&p->cond[0]);
	pthread_cond_destroy(&p->cond[1]);
	pthread_mutex_destroy(&p->lock);
	free(p->dsn);
	free(p);
}

bool db_pool_is_up(const struct db_pool *p)
{
	struct db_pool *m = (struct db_pool *)p;
	pthread_mutex_lock(&m->lock);
	bool up = !m->down;
	pthread_mutex_unlock(&m->lock);
	return up;
}

unsigned db_pool_queued(const struct db_pool *p, enum db_lane lane)
{
	return p->queued[lane];
}

void db_pool_last_error(const struct db_pool *p, char *buf, size_t len)
{
	struct db_pool *m = (struct db_pool *)p; /* the lock is not part of the value */
	pthread_mutex_lock(&m->lock);
	snprintf(buf, len, "%s", m->last_error);
	pthread_mutex_unlock(&m->lock);
}
