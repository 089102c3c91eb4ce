/* Requests parked while a rack or a database job works on them.
 *
 * evhttp (2.1) keeps a request alive until we reply, but two things can
 * happen meanwhile: the client closes its connection, or the API
 * shuts down (evhttp_free). Both run the connection's close callback, so
 * that is where a parked request learns it has nobody to answer (through
 * common/httpguard, which holds evhttp's one close callback slot). */
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "common/httpguard.h"
#include "common/util.h"

#include "region/api/internal.h"

static void pending_unlink(struct api_pending *p)
{
	struct api *api = p->api;

	if (!api)
		return;
	if (p->prev)
		p->prev->next = p->next;
	else
		api->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
	if (p->on_rack)
		api->n_pending--;
	p->api = NULL;
}

static void pending_closed(struct evhttp_connection *evcon, void *arg)
{
	struct api_pending *p = arg;

	/* On a client EOF libevent detaches the unanswered request from the
	 * dying connection (evcon NULL) and leaves it to us; a request still
	 * attached is freed together with the connection. */
	if (p->req && !evhttp_request_get_connection(p->req))
		evhttp_request_free(p->req);
	p->req = NULL;
	p->evcon = NULL;
}

static struct api_pending *pending_new(struct api_call *call, bool on_rack)
{
	struct api *api = call->api;
	struct api_pending *p = xcalloc(1, sizeof(*p));

	p->api = api;
	p->req = call->req;
	p->evcon = evhttp_request_get_connection(call->req);
	p->on_rack = on_rack;
	p->next = api->pending;
	if (p->next)
		p->next->prev = p;
	api->pending = p;
	if (on_rack)
		api->n_pending++;
	/* One request at a time per connection: evhttp reads the next one
	 * only after we replied, so this callback slot is ours until then. */
	if (p->evcon)
		httpguard_set_closecb(p->evcon, pending_closed, p);
	return p;
}

struct api_pending *api_pending_start(struct api_call *call, const char *subject, long timeout_ms)
{
	if (call->api->n_pending >= API_MAX_PENDING) {
		call->retry_after_s = 1;
		api_reply_error(call, 503, "busy", NULL, "too many requests waiting on racks (%d); retry later",
				API_MAX_PENDING);
		return NULL;
	}
	struct api_pending *p = pending_new(call, true);
	snprintf(p->subject, sizeof(p->subject), "%s", subject);
	p->timeout_ms = timeout_ms;
	return p;
}

void api_pending_park(struct api_call *call)
{
	call->parked = pending_new(call, false);
	call->req = NULL; /* the loop's again until released */
}

struct evhttp_request *api_pending_release(struct api_pending *p)
{
	struct evhttp_request *req = p->req;

	if (req && p->evcon)
		httpguard_set_closecb(p->evcon, NULL, NULL);
	pending_unlink(p);
	p->req = NULL;
	p->evcon = NULL;
	return req;
}

void api_pending_free(struct api_pending *p)
{
	if (!p)
		return;
	api_pending_release(p);
	free(p);
}

void api_pending_abandon_all(struct api *api)
{
	while (api->pending) {
		struct api_pending *p = api->pending;
		if (p->req && p->evcon)
			httpguard_set_closecb(p->evcon, NULL, NULL);
		p->req = NULL;
		p->evcon = NULL;
		pending_unlink(p);
	}
}
