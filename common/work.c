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

static void queue_push(struct work_queue *q, struct work_item *item)
{
	item->next = NULL;
	if (q->tail)
		q->tail->next = item;
	else
		q->head = item;
	q->tail = item;
}

static struct work_item *queue_pop(struct work_queue *q)
{
	struct work_item *item = q->head;
	if (item) {
		q->head = item->next;
		if (!q->head)
			q->tail = NULL;
	}
	return item;
}

static void *work_thread(void *arg)
{
	struct work_pool *pool = arg;
	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (!pool->stopping && !pool->todo.head)
			pthread_cond_wait(&pool->cond, &pool->lock);
		if (pool->stopping)
			break;
		struct work_item *item = queue_pop(&pool->todo);
		pthread_mutex_unlock(&pool->lock);
		item->fn(item->arg);
		pthread_mutex_lock(&pool->lock);
		bool first = !pool->done.head;
		queue_push(&pool->done, item);
		if (first) {
			uint64_t one = 1;
			ssize_t w = write(pool->efd, &one, sizeof(one));
			(void)w; /* the counter cannot overflow at one write per batch */
		}
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

static void work_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct work_pool *pool = arg;
	uint64_t n;
	ssize_t r = read(pool->efd, &n, sizeof(n));
	(void)r;
	pthread_mutex_lock(&pool->lock);
	struct work_queue q = pool->done;
	pool->done.head = pool->done.tail = NULL;
	pthread_mutex_unlock(&pool->lock);
	struct work_item *item;
	while ((item = queue_pop(&q)) != NULL) {
		pool->pending--;
		item->done(item->arg, false);
		free(item);
	}
}

int work_pool_new(struct event_base *base, unsigned threads, struct work_pool **ret)
{
	struct work_pool *pool = xcalloc(1, sizeof(*pool));
	if (threads == 0)
		threads = 1;
	if (threads > WORK_THREADS_MAX)
		threads = WORK_THREADS_MAX;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pool->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (pool->efd < 0) {
		int rc = -errno;
		free(pool);
		return rc;
	}
	pool->ev = event_new(base, pool->efd, EV_READ | EV_PERSIST, work_deliver, pool);
	if (!pool->ev)
		oom_abort(0); /* libevent's only failure for a valid fd */
	event_add(pool->ev, NULL);
	/* Signals belong to the loop thread (libevent's evsignal). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&pool->threads[i], NULL, work_thread, pool) != 0)
			break;
		pool->n_threads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pool->n_threads == 0) {
		work_pool_free(pool);
		return -EAGAIN;
	}
	*ret = pool;
	return 0;
}

void work_pool_free(struct work_pool *pool)
{
	if (!pool)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->n_threads; i++)
		pthread_join(pool->threads[i], NULL);
	struct work_item *item;
	while ((item = queue_pop(&pool->done)) != NULL || (item = queue_pop(&pool->todo)) != NULL) {
		item->done(item->arg, true);
		free(item);
	}
	event_free(pool->ev);
	close(pool->efd);
	pthread_cond_destroy(&pool->cond);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

void work_submit(struct work_pool *pool, work_fn fn, work_done_fn done, void *arg)
{
	struct work_item *item = xcalloc(1, sizeof(*item));
	item->fn = fn;
	item->done = done;
	item->arg = arg;
	pool->pending++;
	pthread_mutex_lock(&pool->lock);
	queue_push(&pool->todo, item);
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
}

unsigned work_pending(const struct work_pool *pool)
{
	return pool->pending;
}
