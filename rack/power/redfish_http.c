/* libcurl multi on libevent for the Redfish driver (redfish_http.h). */
#include "rack/power/redfish_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "common/version.h"
#include "rack/netns.h"

/* A socket curl asked us to watch. */
struct rf_sock {
	struct event *ev;
	struct rf_sock *prev, *next;
};

struct rf_http {
	struct event_base *base;
	CURLM *multi;
	CURLSH *share;
	struct event *timer;
	struct rf_sock *socks; /* freed by curl's CURL_POLL_REMOVE, or at the end */
};

static void sock_free(struct rf_http *h, struct rf_sock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		h->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	event_free(s->ev);
	free(s);
}

/* ---- the loop side: sockets and the timer as libevent events ---- */

static void rf_http_check(struct rf_http *h);

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct rf_http *h = arg;
	int flags = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	int running;

	curl_multi_socket_action(h->multi, fd, flags, &running);
	rf_http_check(h);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct rf_http *h = arg;
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	rf_http_check(h);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd as curl asks; socketp is its rf_sock. */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct rf_http *h = userp;
	struct rf_sock *s = socketp;

	if (what == CURL_POLL_REMOVE) {
		if (s)
			sock_free(h, s);
		curl_multi_assign(h->multi, fd, NULL);
		return 0;
	}
	short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (s) {
		event_del(s->ev);
		event_assign(s->ev, h->base, fd, kind, on_socket, h);
	} else {
		s = xcalloc(1, sizeof(*s));
		s->ev = event_new(h->base, fd, kind, on_socket, h);
		if (!s->ev)
			oom_abort(0);
		s->next = h->socks;
		if (h->socks)
			h->socks->prev = s;
		h->socks = s;
		curl_multi_assign(h->multi, fd, s);
	}
	event_add(s->ev, NULL);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: one timer; -1 stops it. curl must not be
 * called from here, so even 0 goes through the loop. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct rf_http *h = userp;

	if (timeout_ms < 0) {
		evtimer_del(h->timer);
		return 0;
	}
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	evtimer_add(h->timer, &tv);
	return 0;
}

static enum rf_net classify(CURLcode c, bool too_big)
{
	switch (c) {
	case CURLE_OK:
		return RF_NET_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return RF_NET_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return RF_NET_CONNECT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return RF_NET_RESOLVE;
	case CURLE_PEER_FAILED_VERIFICATION:
		return RF_NET_TLS_VERIFY;
	case CURLE_SSL_CONNECT_ERROR:
		return RF_NET_TLS;
	case CURLE_WRITE_ERROR:
		return too_big ? RF_NET_TOO_BIG : RF_NET_OTHER;
	default:
		return RF_NET_OTHER;
	}
}

static void req_release(struct rf_http *h, struct rf_http_req *req)
{
	if (req->easy) {
		curl_multi_remove_handle(h->multi, req->easy);
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
	}
	curl_slist_free_all(req->headers);
	req->headers = NULL;
}

/* curl's messages carry how long it waited ("... after 3067 ms: ...",
 * "timed out after 2431 milliseconds"): cut that, so that the same
 * failure reads the same every time (a poll reports only changes). */
static void error_text_steady(char *e)
{
	static const char *const units[] = {" ms", " milliseconds"};
	char *at = e;
	while ((at = strstr(at, " after ")) != NULL) {
		char *d = at + 7, *end = d;
		while (*end >= '0' && *end <= '9')
			end++;
		size_t skip = 0;
		for (size_t i = 0; end > d && i < sizeof(units) / sizeof(units[0]); i++)
			if (strncmp(end, units[i], strlen(units[i])) == 0)
				skip = (size_t)(end - at) + strlen(units[i]);
		if (!skip) {
			at = d;
			continue;
		}
		memmove(at, at + skip, strlen(at + skip) + 1);
	}
}

/* Finished transfers: their outcome, then done. done may start or cancel
 * other requests: curl allows that here, outside its callbacks. */
static void rf_http_check(struct rf_http *h)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		void *priv = NULL;
		CURLcode c = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		struct rf_http_req *req = priv;
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &req->status);
		curl_easy_getinfo(m->easy_handle, CURLINFO_TOTAL_TIME, &req->elapsed_s);
		req->net = classify(c, req->too_big);
		if (c != CURLE_OK && req->error[0] == '\0')
			snprintf(req->error, sizeof(req->error), "%s", curl_easy_strerror(c));
		error_text_steady(req->error);
		if (req->net != RF_NET_OK)
			req->status = 0;
		req_release(h, req);
		req->done(req);
	}
}

/* ---- one request ---- */

static size_t write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct rf_http_req *req = arg;
	size_t len = size * n;

	if (len > RF_HTTP_BODY_MAX - req->resp_len) {
		req->too_big = true;
		return 0;
	}
	if (req->resp_len + len + 1 > req->resp_cap) {
		size_t cap = req->resp_cap ? req->resp_cap : 4096;
		while (cap < req->resp_len + len + 1)
			cap *= 2;
		req->resp = xrealloc(req->resp, cap);
		req->resp_cap = cap;
	}
	memcpy(req->resp + req->resp_len, data, len);
	req->resp_len += len;
	req->resp[req->resp_len] = '\0';
	return len;
}

/* "Name: value\r\n" into out when the name matches; a value that does
 * not fit is dropped, not cut (a cut token or ETag is a wrong one). */
static void header_take(const char *line, size_t len, const char *name, char *out, size_t out_len)
{
	size_t nl = strlen(name);

	if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
		return;
	const char *v = line + nl + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t vl = (size_t)(end - v);
	out[0] = '\0';
	if (vl < out_len && !memchr(v, '\0', vl)) {
		memcpy(out, v, vl);
		out[vl] = '\0';
	}
}

static size_t header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct rf_http_req *req = arg;
	size_t len = size * n;

	/* A status line starts a new header block (after a 100 Continue). */
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		req->etag[0] = '\0';
		req->auth_token[0] = '\0';
	}
	header_take(data, len, "ETag", req->etag, sizeof(req->etag));
	header_take(data, len, "X-Auth-Token", req->auth_token, sizeof(req->auth_token));
	return len;
}

/* Sockets in the BMC network's namespace. */
static curl_socket_t opensocket_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct rf_http_req *req = arg;
	int fd = netns_socket(req->nsfd, a->family, a->socktype | SOCK_CLOEXEC, a->protocol);

	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static struct curl_slist *header_add(struct curl_slist *l, const char *name, const char *value)
{
	char line[RF_HTTP_TOKEN_MAX + 64];

	snprintf(line, sizeof(line), "%s: %s", name, value);
	struct curl_slist *n = curl_slist_append(l, line);
	if (!n)
		oom_abort(0);
	return n;
}

int rf_http_start(struct rf_http *h, struct rf_http_req *req)
{
	int64_t left_ms = (req->deadline_us - clock_mono_us()) / 1000;

	rf_http_req_done(req);
	req->net = RF_NET_OTHER;
	req->error[0] = '\0';
	req->status = 0;
	req->etag[0] = '\0';
	req->auth_token[0] = '\0';
	req->too_big = false;
	req->elapsed_s = 0;
	if (left_ms <= 0)
		return -ETIMEDOUT;

	CURL *c = curl_easy_init();
	if (!c)
		return -ENOMEM;
	req->easy = c;
	struct curl_slist *hl = header_add(NULL, "Accept", "application/json");
	hl = header_add(hl, "OData-Version", "4.0");
	hl = curl_slist_append(hl, "Expect:");
	if (req->body)
		hl = header_add(hl, "Content-Type", "application/json");
	if (req->token)
		hl = header_add(hl, "X-Auth-Token", req->token);
	if (req->if_match)
		hl = header_add(hl, "If-Match", req->if_match);
	req->headers = hl;

	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_PRIVATE, req);
	curl_easy_setopt(c, CURLOPT_SHARE, h->share);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ironrack-rackd/" IRONRACK_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, req->error);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, req);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, req);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)left_ms);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, req->verify_tls ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, req->verify_tls ? 2L : 0L);
	if (req->nsfd >= 0) {
		curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
		curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, req);
	}
	if (req->user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, req->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, req->password ? req->password : "");
	}
	if (strcmp(req->method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		if (strcmp(req->method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	}
	if (curl_multi_add_handle(h->multi, c) != CURLM_OK) {
		req_release(h, req);
		return -EIO;
	}
	return 0;
}

void rf_http_cancel(struct rf_http *h, struct rf_http_req *req)
{
	req_release(h, req);
}

void rf_http_req_done(struct rf_http_req *req)
{
	free(req->resp);
	req->resp = NULL;
	req->resp_len = 0;
	req->resp_cap = 0;
}

struct rf_http *rf_http_new(struct event_base *base)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	struct rf_http *h = xcalloc(1, sizeof(*h));
	h->base = base;
	h->multi = curl_multi_init();
	h->share = curl_share_init();
	h->timer = evtimer_new(base, on_timer, h);
	if (!h->multi || !h->share || !h->timer) {
		rf_http_free(h);
		return NULL;
	}
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return h;
}

void rf_http_free(struct rf_http *h)
{
	if (!h)
		return;
	/* Requests still in the multi belong to callers who were told (fini
	 * after every op is done); what is left is curl's connection cache,
	 * whose sockets curl_multi_cleanup closes through socket_cb. */
	if (h->multi)
		curl_multi_cleanup(h->multi);
	while (h->socks)
		sock_free(h, h->socks);
	if (h->share)
		curl_share_cleanup(h->share);
	if (h->timer)
		event_free(h->timer);
	free(h);
	curl_global_cleanup();
}
