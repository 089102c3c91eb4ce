/* The TFTP read-transfer engine: one struct tftp_session per transfer, a
 * pure state machine (no sockets, no clock, no logging, no file access).
 *
 * Inputs: the client's request options and the file size at the start,
 * then each decoded packet from the client, or a timeout, with `now` in
 * milliseconds of any monotonic clock. Output of each step: a struct
 * tftp_action naming what to send — an OACK, a run of DATA blocks given
 * as absolute block numbers (tftp_session_block() turns one into a wire
 * number, a file offset and a length; the shell sends straight from its
 * mapping of the file), an ERROR — and when to call
 * tftp_session_timeout() next.
 *
 * Blocks are numbered from 1 with 64-bit absolute numbers; the wire number
 * is the low 16 bits, so after 65535 comes 0 (the rollover every current
 * client implements) and files of any size work at any block size.
 *
 * Windowing is RFC 7440: send windowsize blocks, and when the client
 * acknowledges block n (the last of the window, or the last it got in
 * order) slide the window to n + 1 and send the next windowsize blocks.
 * Without a windowsize option the window is 1, which is RFC 1350 lock-step.
 *
 * Retransmission happens on timeout only: the outstanding window (or the
 * OACK) is sent again and the timeout doubles, up to rto_max_ms; after
 * max_retries timeouts in a row without progress the transfer fails, and
 * so it does once max_stall_ms have passed without progress, whatever the
 * timeouts: a client that never acknowledges holds a transfer slot for a
 * bounded time, not 6 x 255 s.
 *
 * The client's timeout option (RFC 2349) is acknowledged only up to
 * max_timeout_s. RFC 2349 has the OACK echo the client's value exactly, so
 * a larger one is not clamped but left unacknowledged (the client then
 * keeps its own timer and the server uses rto_ms), as RFC 2347 allows for
 * any option.
 * A duplicate ACK (for a block already acknowledged) never causes a send:
 * answering duplicates with data is the Sorcerer's Apprentice bug, where
 * every later window goes out twice, forever. ACKs for blocks not yet sent
 * are ignored too. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/wire/tftp.h"

struct tftp_limits {
	uint32_t max_blksize;	 /* cap on a client's blksize, <= TFTP_BLKSIZE_MAX */
	uint32_t max_windowsize; /* cap on a client's windowsize, >= 1 */
	uint32_t rto_ms;	 /* first retransmission timeout, unless the client asks for one */
	uint32_t rto_max_ms;	 /* cap of the doubling */
	unsigned max_retries;	 /* timeouts in a row before giving up */
	uint32_t max_timeout_s;	 /* largest timeout option acknowledged; 0 = TFTP_TIMEOUT_MAX */
	uint32_t max_stall_ms;	 /* longest time without progress before giving up; 0 = no bound */
};

enum tftp_session_state {
	TFTP_SESSION_OACK,   /* OACK sent, waiting for ACK 0 */
	TFTP_SESSION_DATA,   /* sending the file */
	TFTP_SESSION_DONE,   /* last block acknowledged */
	TFTP_SESSION_FAILED, /* gave up, or the client ended it */
};

struct tftp_session {
	struct tftp_limits lim;
	enum tftp_session_state state;
	struct tftp_options oack; /* what was acknowledged; present == 0: no OACK */
	uint64_t size;
	uint32_t blksize;
	uint32_t windowsize;
	uint64_t last_block; /* absolute number of the final, short block */
	uint64_t acked;	     /* highest block acknowledged; 0 = none yet */
	uint64_t sent;	     /* highest block sent */
	uint32_t rto_first_ms;
	uint32_t rto_ms;
	unsigned retries;
	int64_t progress_at; /* start, or the last ACK that moved the transfer on */
	int64_t deadline;    /* -1 = no timer */
	int result;	     /* once DONE or FAILED: what the last step returned */
	/* statistics, for the shell's log line */
	uint64_t blocks_sent; /* including retransmissions */
	uint64_t blocks_resent;
	uint64_t dup_acks;
	uint64_t stray_acks; /* outside the window, or before the OACK was acknowledged */
	unsigned timeouts;
	bool stalled; /* failed for max_stall_ms (rather than max_retries) */
};

/* One step's decision. Send, in this order: the OACK (encode s->oack),
 * then DATA blocks first .. first + count - 1, then the ERROR. */
struct tftp_action {
	bool send_oack;
	uint64_t first;
	uint32_t count;
	bool send_error;
	uint16_t error_code;
	const char *error_msg; /* static string */
	int64_t deadline;      /* when to call tftp_session_timeout(); -1 = none */
};

/* Return values of tftp_session_start/input/timeout. */
#define TFTP_SESSION_CONTINUE 0
#define TFTP_SESSION_FINISHED 1
/* Negative: the transfer failed. -ETIMEDOUT: no answer after max_retries
 * or within max_stall_ms (s->stalled says which);
 * -ECONNRESET: the client sent an ERROR; -EPROTO: the client sent a packet
 * that has no place in a read transfer (an ERROR 4 is in the action). */

/* Decide which of the client's options to acknowledge and with what value
 * (the OACK). blksize below 8 is ignored and above the limits clamped;
 * windowsize 0 is ignored and above the limit clamped; timeout outside
 * 1..max_timeout_s is ignored; tsize is answered with size. Invalid and unknown
 * options are never acknowledged. */
void tftp_negotiate(const struct tftp_options *req, const struct tftp_limits *lim, uint64_t size,
		    struct tftp_options *ret_oack);

/* Start a read transfer of a file of size bytes: OACK if any option was
 * acknowledged, else DATA block 1 at once. */
int tftp_session_start(struct tftp_session *s, const struct tftp_limits *lim, const struct tftp_options *req,
		       uint64_t size, int64_t now, struct tftp_action *ret);

/* A packet from the client. */
int tftp_session_input(struct tftp_session *s, const struct tftp_packet *p, int64_t now, struct tftp_action *ret);

/* The timer set by the last action fired (or the shell woke early). */
int tftp_session_timeout(struct tftp_session *s, int64_t now, struct tftp_action *ret);

/* Where absolute block abs (1 .. last_block) is: wire number, offset into
 * the file and length (blksize, or less for the last block). */
void tftp_session_block(const struct tftp_session *s, uint64_t abs, uint16_t *ret_wire, uint64_t *ret_offset,
			uint32_t *ret_len);

/* File bytes the client has acknowledged. */
uint64_t tftp_session_bytes_acked(const struct tftp_session *s);
