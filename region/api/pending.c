/* Requests parked while a rack works on them.
 *
 * evhttp (2.1) keeps a request alive until we reply, but two things can
 * happen while a rack is slow: the client closes its connection, or the API
 * shuts down (evhttp_free). Both run the connection's close callback, so
 * that is where a parked request learns it has nobody to answer. */
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

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

struct api_pending *api_pending_start(struct api_call *call, const char *subject, long timeout_ms)
{
	struct api *api = call->api;
	struct api_pending *p;

	if (api->n_pending >= API_MAX_PENDING) {
		evhttp_add_header(evhttp_request_get_output_headers(call->req), "Retry-After", "1");
		api_reply_error(call->req, 503, "busy", NULL, "too many requests waiting on racks (%d); retry later",
				API_MAX_PENDING);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		api_reply_error(call->req, 500, "internal", NULL, "out of memory");
		return NULL;
	}
	p->api = api;
	p->req = call->req;
	p->evcon = evhttp_request_get_connection(call->req);
	snprintf(p->subject, sizeof(p->subject), "%s", subject);
	p->timeout_ms = timeout_ms;
	p->next = api->pending;
	if (p->next)
		p->next->prev = p;
	api->pending = p;
	api->n_pending++;
	/* One request at a time per connection: evhttp reads the next one
	 * only after we replied, so this callback slot is ours until then. */
	if (p->evcon)
		evhttp_connection_set_closecb(p->evcon, pending_closed, p);
	return p;
}

struct evhttp_request *api_pending_release(struct api_pending *p)
{
	struct evhttp_request *req = p->req;

	if (req && p->evcon)
		evhttp_connection_set_closecb(p->evcon, NULL, NULL);
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
			evhttp_connection_set_closecb(p->evcon, NULL, NULL);
		p->req = NULL;
		p->evcon = NULL;
		pending_unlink(p);
	}
}
