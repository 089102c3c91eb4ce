/* Worker threads with results delivered on the libevent loop; see work.h. */
#include "common/work.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/util.h"

#define WORK_THREADS_MAX 16

struct work_item {
	struct work_item *next;
	work_fn fn;
	work_done_fn done;
	void *arg;
};

/* A FIFO of items (head out, tail in). */
struct work_queue {
	struct work_item *head, *tail;
};

struct work_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct work_queue todo; /* guarded by lock */
	struct work_queue done; /* guarded by lock */
	bool stopping;		/* guarded by lock */
	unsigned pending;	/* loop thread only */
	int efd;
	struct event *ev;
	pthread_t threads[WORK_THREADS_MAX];
	unsigned n_threads;
};

static void queue_push(struct work_queue *q, struct work_item *it)
{
	it->next = NULL;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
}

static struct work_item *queue_pop(struct work_queue *q)
{
	struct work_item *it = q->head;
	if (it) {
		q->head = it->next;
		if (!q->head)
			q->tail = NULL;
	}
	return it;
}

static void *work_thread(void *arg)
{
	struct work_pool *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stopping && !p->todo.head)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stopping)
			break;
		struct work_item *it = queue_pop(&p->todo);
		pthread_mutex_unlock(&p->lock);
		it->fn(it->arg);
		pthread_mutex_lock(&p->lock);
		bool first = !p->done.head;
		queue_push(&p->done, it);
		if (first) {
			uint64_t one = 1;
			ssize_t w = write(p->efd, &one, sizeof(one));
			(void)w; /* the counter cannot overflow at one write per batch */
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void work_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct work_pool *p = arg;
	uint64_t n;
	ssize_t r = read(p->efd, &n, sizeof(n));
	(void)r;
	pthread_mutex_lock(&p->lock);
	struct work_queue q = p->done;
	p->done.head = p->done.tail = NULL;
	pthread_mutex_unlock(&p->lock);
	struct work_item *it;
	while ((it = queue_pop(&q)) != NULL) {
		p->pending--;
		it->done(it->arg, false);
		free(it);
	}
}

int work_pool_new(struct event_base *base, unsigned threads, struct work_pool **ret)
{
	struct work_pool *p = xcalloc(1, sizeof(*p));
	if (threads == 0)
		threads = 1;
	if (threads > WORK_THREADS_MAX)
		threads = WORK_THREADS_MAX;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->efd < 0) {
		int rc = -errno;
		free(p);
		return rc;
	}
	p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, work_deliver, p);
	if (!p->ev)
		oom_abort(0); /* libevent's only failure for a valid fd */
	event_add(p->ev, NULL);
	/* Signals belong to the loop thread (libevent's evsignal). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, work_thread, p) != 0)
			break;
		p->n_threads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (p->n_threads == 0) {
		work_pool_free(p);
		return -EAGAIN;
	}
	*ret = p;
	return 0;
}

void work_pool_free(struct work_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	struct work_item *it;
	while ((it = queue_pop(&p->done)) != NULL || (it = queue_pop(&p->todo)) != NULL) {
		it->done(it->arg, true);
		free(it);
	}
	event_free(p->ev);
	close(p->efd);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void work_submit(struct work_pool *p, work_fn fn, work_done_fn done, void *arg)
{
	struct work_item *it = xcalloc(1, sizeof(*it));
	it->fn = fn;
	it->done = done;
	it->arg = arg;
	p->pending++;
	pthread_mutex_lock(&p->lock);
	queue_push(&p->todo, it);
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

unsigned work_pending(const struct work_pool *p)
{
	return p->pending;
}
