#include "common/log.h"

#include <errno.h>
#include <pthread.h>
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

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	if (!log_enabled(level))
		return;
	int saved = errno;
	struct timeval tv;
	struct tm tm;
	char ts[32];
	char line[2048];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	int n = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld] %s: ", ts, (long)tv.tv_usec / 1000, logger.ident,
			 (long)getpid(), level_names[level]);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	size_t len = strnlen(line, sizeof(line) - 2);
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
