/* Sockets in another network namespace; see netns.h. */
#include "rack/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int netns_open(const char *name)
{
	char path[300];
	int n = snprintf(path, sizeof(path), "/run/netns/%s", name);

	if (n < 0 || (size_t)n >= sizeof(path) || !name[0] || strchr(name, '/'))
		return -EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

struct netns_job {
	int nsfd, domain, type, protocol;
	int result;
};

static void *netns_socket_thread(void *arg)
{
	struct netns_job *job = arg;

	if (setns(job->nsfd, CLONE_NEWNET) < 0) {
		job->result = -errno;
		return NULL;
	}
	int fd = socket(job->domain, job->type, job->protocol);
	job->result = fd < 0 ? -errno : fd;
	return NULL;
}

int netns_socket(int nsfd, int domain, int type, int protocol)
{
	if (nsfd < 0) {
		int fd = socket(domain, type, protocol);
		return fd < 0 ? -errno : fd;
	}
	struct netns_job job = {nsfd, domain, type, protocol, -EIO};
	pthread_t t;
	int r = pthread_create(&t, NULL, netns_socket_thread, &job);
	if (r != 0)
		return -r;
	pthread_join(t, NULL);
	return job.result;
}
