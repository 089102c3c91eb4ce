/* ironrack-imgwrite's download shell: HTTP GET over a plain TCP socket,
 * the body streamed into the sink, a broken connection resumed with
 * "Range: bytes=N-" (http.h decides what a response means).
 *
 * Attempts that fail without receiving a byte are retried with a backoff
 * (500 ms doubling to 10 s, or the server's Retry-After up to 60 s), at
 * most job->retries of them in a row; an attempt that received something
 * starts the count and the backoff afresh, so a long download over a
 * flaky link gets through while a dead server is given up on. */
#pragma once

#include <stdint.h>

#include "deploy/ephemeral/imgwrite/http.h"
#include "deploy/ephemeral/imgwrite/sink.h"

struct imgw_job {
	struct imgw_url url;
	uint64_t size;	  /* bytes of the file as served */
	unsigned retries; /* failed attempts in a row allowed after the first */
	int timeout_ms;	  /* connect, and silence on the connection */
	int progress_ms;  /* a progress line on stderr this often; 0: none */
};

enum imgw_stage {
	IMGW_STAGE_DOWNLOAD,
	IMGW_STAGE_VERIFY,
	IMGW_STAGE_WRITE,
};

struct imgw_fetch_result {
	int64_t download_us; /* first connect to the last byte */
	unsigned attempts;
	enum imgw_stage stage; /* of the failure */
	char err[400];	       /* the failure, one line */
};

/* Download job's file into sink. 0 when every byte was fed; -1 when not
 * (ret->stage and ret->err say where and why). Progress and retries are
 * told on stderr as "ironrack-imgwrite: ..." lines. */
int imgw_fetch(const struct imgw_job *job, struct imgw_sink *sink, struct imgw_fetch_result *ret);
