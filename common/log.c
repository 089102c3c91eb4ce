#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct {
	const char *ident;
	enum log_level level;
	pthread_mutex_t lock;
} logger = {"ironrack", LOG_LEVEL_INFO, PTHREAD_MUTEX_INITIALIZER};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_setup(const char *ident, enum log_level level)
{
	logger.ident = ident;
	logger.level = level;
}

void log_set_level(enum log_level level)
{
	logger.level = level;
}

enum log_level log_get_level(void)
{
	return logger.level;
}

bool log_enabled(enum log_level level)
{
	return level <= logger.level;
}

int log_level_parse(const char *s, enum log_level *ret)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*ret = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*ret = LOG_LEVEL_WARN;
		return 0;
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "?";
	return level_names[level];
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when the
 * bytes there are not one (stray continuation, overlong form, surrogate,
 * beyond U+10FFFF, cut short). *ret_cp gets the code point. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
	size_t len;
	uint32_t cp, min;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2, cp = s[0] & 0x1fu, min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3, cp = s[0] & 0x0fu, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4, cp = s[0] & 0x07u, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return len;
}

/* Code points a terminal or log viewer acts on: C1 controls, the line and
 * paragraph separators, bidirectional embeddings, overrides and isolates. */
static bool is_unsafe_code_point(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

static size_t escape_byte(char out[8], unsigned char c, unsigned flags)
{
	static const char hex[] = "0123456789abcdef";

	switch (c) {
	case '\n':
		memcpy(out, "\\n", 2);
		return 2;
	case '\r':
		memcpy(out, "\\r", 2);
		return 2;
	case '\t':
		memcpy(out, "\\t", 2);
		return 2;
	default:
		break;
	}
	if ((flags & LOG_ESCAPE_QUOTED) && (c == '"' || c == '\\')) {
		out[0] = '\\';
		out[1] = (char)c;
		return 2;
	}
	out[0] = '\\';
	out[1] = 'x';
	out[2] = hex[c >> 4];
	out[3] = hex[c & 0xf];
	return 4;
}

size_t log_escape(char *dst, size_t dst_size, const char *src, size_t src_len, unsigned flags)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0;

	if (dst_size == 0)
		return 0;
	while (i < src_len) {
		char unit[16];
		size_t ulen = 0, used = 1;
		unsigned char c = s[i];
		uint32_t cp;

		if (c < 0x20 || c == 0x7f || ((flags & LOG_ESCAPE_QUOTED) && (c == '"' || c == '\\'))) {
			ulen = escape_byte(unit, c, flags);
		} else if (c < 0x80) {
			unit[0] = (char)c;
			ulen = 1;
		} else if ((used = utf8_seq(s + i, src_len - i, &cp)) == 0) {
			used = 1;
			ulen = escape_byte(unit, c, flags);
		} else if (is_unsafe_code_point(cp)) {
			for (size_t k = 0; k < used; k++)
				ulen += escape_byte(unit + ulen, s[i + k], flags);
		} else {
			memcpy(unit, s + i, used);
			ulen = used;
		}
		if (o + ulen >= dst_size)
			break;
		memcpy(dst + o, unit, ulen);
		o += ulen;
		i += used;
	}
	dst[o] = '\0';
	return i;
}

const char *log_quote_n(char *buf, size_t size, const char *s, size_t len)
{
	static const char more[] = "...";

	if (size == 0)
		return buf;
	if (!s) {
		snprintf(buf, size, "(null)");
		return buf;
	}
	if (size < sizeof(more) + 3) {
		buf[0] = '\0';
		return buf;
	}
	/* Room for the quotes, and "..." should the text not fit. */
	buf[0] = '"';
	size_t room = size - 2 - (sizeof(more) - 1);
	size_t used = log_escape(buf + 1, room, s, len, LOG_ESCAPE_QUOTED);
	size_t o = 1 + strlen(buf + 1);
	buf[o++] = '"';
	if (used < len) {
		memcpy(buf + o, more, sizeof(more) - 1);
		o += sizeof(more) - 1;
	}
	buf[o] = '\0';
	return buf;
}

const char *log_quote(char *buf, size_t size, const char *s)
{
	return log_quote_n(buf, size, s, s ? strlen(s) : 0);
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	if (!log_enabled(level))
		return;
	int saved = errno;
	struct timeval tv;
	struct tm tm;
	char ts[32];
	char msg[2048];
	char line[4096];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	int n = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld] %s: ", ts, (long)tv.tv_usec / 1000, logger.ident,
			 (long)getpid(), level_names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	int m = vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t mlen = m < 0 ? 0 : (size_t)m < sizeof(msg) ? (size_t)m : sizeof(msg) - 1;
	/* The message may hold anything a peer sent: it is escaped here, once,
	 * for every caller. One byte is kept for the newline. */
	log_escape(line + n, sizeof(line) - (size_t)n - 1, msg, mlen, 0);
	size_t len = strlen(line);
	line[len++] = '\n';
	pthread_mutex_lock(&logger.lock);
	fwrite(line, 1, len, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&logger.lock);
	errno = saved;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
