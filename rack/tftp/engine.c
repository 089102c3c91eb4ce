/* TFTP read-transfer state machine; see engine.h. */
#include "rack/tftp/engine.h"

#include <errno.h>
#include <string.h>

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

void tftp_negotiate(const struct tftp_options *req, const struct tftp_limits *lim, uint64_t size,
		    struct tftp_options *ret_oack)
{
	struct tftp_options o = {0};

	if ((req->present & TFTP_OPT_BLKSIZE) && req->blksize >= TFTP_BLKSIZE_MIN) {
		uint64_t cap = min_u64(TFTP_BLKSIZE_MAX, lim->max_blksize);
		o.blksize = min_u64(req->blksize, cap < TFTP_BLKSIZE_MIN ? TFTP_BLKSIZE_MIN : cap);
		o.present |= TFTP_OPT_BLKSIZE;
	}
	if (req->present & TFTP_OPT_TSIZE) {
		o.tsize = size;
		o.present |= TFTP_OPT_TSIZE;
	}
	uint64_t max_timeout = lim->max_timeout_s ? min_u64(lim->max_timeout_s, TFTP_TIMEOUT_MAX) : TFTP_TIMEOUT_MAX;
	if ((req->present & TFTP_OPT_TIMEOUT) && req->timeout >= TFTP_TIMEOUT_MIN && req->timeout <= max_timeout) {
		o.timeout = req->timeout;
		o.present |= TFTP_OPT_TIMEOUT;
	}
	if ((req->present & TFTP_OPT_WINDOWSIZE) && req->windowsize >= TFTP_WINDOWSIZE_MIN) {
		uint64_t cap = min_u64(TFTP_WINDOWSIZE_MAX, lim->max_windowsize);
		o.windowsize = min_u64(req->windowsize, cap < 1 ? 1 : cap);
		o.present |= TFTP_OPT_WINDOWSIZE;
	}
	*ret_oack = o;
}

static void action_none(const struct tftp_session *s, struct tftp_action *a)
{
	memset(a, 0, sizeof(*a));
	a->deadline = s->deadline;
}

static int session_end(struct tftp_session *s, int result, struct tftp_action *a)
{
	s->state = result == TFTP_SESSION_FINISHED ? TFTP_SESSION_DONE : TFTP_SESSION_FAILED;
	s->result = result;
	s->deadline = -1;
	a->deadline = -1;
	return result;
}

/* The next timer: after the current timeout, but never past the end of
 * the time a transfer may go without progress. */
static void arm(struct tftp_session *s, int64_t now, struct tftp_action *a)
{
	s->deadline = now + s->rto_ms;
	if (s->lim.max_stall_ms && s->deadline > s->progress_at + s->lim.max_stall_ms)
		s->deadline = s->progress_at + s->lim.max_stall_ms;
	a->deadline = s->deadline;
}

/* Send the window starting at block from; blocks at or below s->sent
 * were sent before and count as retransmissions. */
static void send_window(struct tftp_session *s, uint64_t from, int64_t now, struct tftp_action *a)
{
	uint64_t count = min_u64(s->windowsize, s->last_block - from + 1);
	uint64_t to = from + count - 1;

	a->first = from;
	a->count = (uint32_t)count;
	if (s->sent >= from)
		s->blocks_resent += min_u64(s->sent, to) - from + 1;
	if (to > s->sent)
		s->sent = to;
	s->blocks_sent += count;
	arm(s, now, a);
}

/* Progress resets the backoff and the stall clock. */
static void progress(struct tftp_session *s, int64_t now)
{
	s->retries = 0;
	s->rto_ms = s->rto_first_ms;
	s->progress_at = now;
}

int tftp_session_start(struct tftp_session *s, const struct tftp_limits *lim, const struct tftp_options *req,
		       uint64_t size, int64_t now, struct tftp_action *ret)
{
	memset(s, 0, sizeof(*s));
	s->lim = *lim;
	s->size = size;
	tftp_negotiate(req, lim, size, &s->oack);
	s->blksize = (s->oack.present & TFTP_OPT_BLKSIZE) ? (uint32_t)s->oack.blksize : TFTP_BLKSIZE_DEFAULT;
	s->windowsize = (s->oack.present & TFTP_OPT_WINDOWSIZE) ? (uint32_t)s->oack.windowsize : 1;
	s->last_block = size / s->blksize + 1;
	s->rto_first_ms = (s->oack.present & TFTP_OPT_TIMEOUT) ? (uint32_t)s->oack.timeout * 1000 : lim->rto_ms;
	if (s->rto_first_ms == 0)
		s->rto_first_ms = 1;
	if (s->lim.rto_max_ms < s->rto_first_ms)
		s->lim.rto_max_ms = s->rto_first_ms;
	s->rto_ms = s->rto_first_ms;
	s->progress_at = now;
	s->deadline = -1;
	memset(ret, 0, sizeof(*ret));
	if (s->oack.present) {
		s->state = TFTP_SESSION_OACK;
		ret->send_oack = true;
		arm(s, now, ret);
		return TFTP_SESSION_CONTINUE;
	}
	s->state = TFTP_SESSION_DATA;
	send_window(s, 1, now, ret);
	return TFTP_SESSION_CONTINUE;
}

static int session_ack(struct tftp_session *s, uint16_t block, int64_t now, struct tftp_action *a)
{
	if (s->state == TFTP_SESSION_OACK) {
		if (block != 0) {
			s->stray_acks++;
			return TFTP_SESSION_CONTINUE;
		}
		s->state = TFTP_SESSION_DATA;
		progress(s, now);
		send_window(s, 1, now, a);
		return TFTP_SESSION_CONTINUE;
	}
	/* The only blocks an ACK can name are acked (a duplicate) up to sent;
	 * that span is at most 65535 long, so the 16-bit distance from acked
	 * identifies the block even across rollovers. */
	uint16_t delta = (uint16_t)(block - (uint16_t)s->acked);
	if (delta == 0) {
		s->dup_acks++;
		return TFTP_SESSION_CONTINUE;
	}
	if (delta > s->sent - s->acked) {
		s->stray_acks++;
		return TFTP_SESSION_CONTINUE;
	}
	s->acked += delta;
	if (s->acked == s->last_block)
		return session_end(s, TFTP_SESSION_FINISHED, a);
	progress(s, now);
	send_window(s, s->acked + 1, now, a);
	return TFTP_SESSION_CONTINUE;
}

int tftp_session_input(struct tftp_session *s, const struct tftp_packet *p, int64_t now, struct tftp_action *ret)
{
	action_none(s, ret);
	if (s->state == TFTP_SESSION_DONE || s->state == TFTP_SESSION_FAILED) {
		ret->deadline = -1;
		return s->result;
	}
	switch (p->op) {
	case TFTP_ACK:
		return session_ack(s, p->block, now, ret);
	case TFTP_ERROR:
		return session_end(s, -ECONNRESET, ret);
	default:
		ret->send_error = true;
		ret->error_code = TFTP_ERR_ILLEGAL_OP;
		ret->error_msg = "illegal TFTP operation";
		return session_end(s, -EPROTO, ret);
	}
}

int tftp_session_timeout(struct tftp_session *s, int64_t now, struct tftp_action *ret)
{
	action_none(s, ret);
	if (s->state == TFTP_SESSION_DONE || s->state == TFTP_SESSION_FAILED) {
		ret->deadline = -1;
		return s->result;
	}
	if (s->deadline < 0 || now < s->deadline)
		return TFTP_SESSION_CONTINUE;
	s->timeouts++;
	if (s->lim.max_stall_ms && now - s->progress_at >= (int64_t)s->lim.max_stall_ms) {
		s->stalled = true;
		return session_end(s, -ETIMEDOUT, ret);
	}
	if (s->retries >= s->lim.max_retries)
		return session_end(s, -ETIMEDOUT, ret);
	s->retries++;
	s->rto_ms = s->rto_ms > s->lim.rto_max_ms / 2 ? s->lim.rto_max_ms : s->rto_ms * 2;
	if (s->state == TFTP_SESSION_OACK) {
		ret->send_oack = true;
		arm(s, now, ret);
		return TFTP_SESSION_CONTINUE;
	}
	send_window(s, s->acked + 1, now, ret);
	return TFTP_SESSION_CONTINUE;
}

void tftp_session_block(const struct tftp_session *s, uint64_t abs, uint16_t *ret_wire, uint64_t *ret_offset,
			uint32_t *ret_len)
{
	uint64_t off = (abs - 1) * s->blksize;

	*ret_wire = (uint16_t)abs;
	*ret_offset = off;
	*ret_len = abs >= s->last_block ? (uint32_t)(s->size - off) : s->blksize;
}

uint64_t tftp_session_bytes_acked(const struct tftp_session *s)
{
	if (s->acked >= s->last_block)
		return s->size;
	return s->acked * s->blksize;
}
