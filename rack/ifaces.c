/* The interfaces a rack reports to the region: every non-loopback link in
 * the rack's network namespace (or the one named by conf netns), with its
 * MAC, addresses and VLAN id. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/net.h"
#include "common/util.h"
#include "rack/rack.h"

#define IFACES_MAX 256

static struct rack_iface_info *ifaces_get(struct rack_iface_info *ifs, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp(ifs[i].name, name) == 0)
			return &ifs[i];
	}
	if (*n >= IFACES_MAX)
		return NULL;
	struct rack_iface_info *f = &ifs[(*n)++];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	return f;
}

/* VLAN id of a VLAN sub-interface, from /proc/net/vlan/NAME; 0 otherwise. */
static uint32_t ifaces_vlan(const char *name)
{
	char path[300], line[256];
	snprintf(path, sizeof(path), "/proc/net/vlan/%s", name);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	unsigned vid = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "VID: ");
		if (p) {
			vid = (unsigned)strtoul(p + 5, NULL, 10);
			break;
		}
	}
	fclose(f);
	return vid <= 4094 ? vid : 0;
}

static void ifaces_add_addr(struct rack_iface_info *f, const struct ifaddrs *ia)
{
	struct ipaddr a = {0}, m = {0};
	unsigned len = 0;
	if (ia->ifa_addr->sa_family == AF_INET) {
		a.family = m.family = AF_INET;
		memcpy(a.bytes, &((struct sockaddr_in *)ia->ifa_addr)->sin_addr, 4);
		if (ia->ifa_netmask)
			memcpy(m.bytes, &((struct sockaddr_in *)ia->ifa_netmask)->sin_addr, 4);
	} else {
		a.family = m.family = AF_INET6;
		memcpy(a.bytes, &((struct sockaddr_in6 *)ia->ifa_addr)->sin6_addr, 16);
		if (ia->ifa_netmask)
			memcpy(m.bytes, &((struct sockaddr_in6 *)ia->ifa_netmask)->sin6_addr, 16);
		if (a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80)
			return; /* link-local: not useful to IPAM */
	}
	for (unsigned i = 0; i < ipaddr_bits(&m) / 8; i++)
		len += (unsigned)__builtin_popcount(m.bytes[i]);
	char text[IPADDR_STRLEN], cidr[IPPREFIX_STRLEN];
	ipaddr_format(&a, text, sizeof(text));
	snprintf(cidr, sizeof(cidr), "%s/%u", text, len);
	f->addresses = xreallocarray(f->addresses, f->n_addresses + 1, sizeof(char *));
	f->addresses[f->n_addresses++] = xstrdup(cidr);
}

static int ifaces_collect(struct rack_iface_info **ret, size_t *ret_n)
{
	struct ifaddrs *list;
	if (getifaddrs(&list) < 0)
		return -errno;
	struct rack_iface_info *ifs = calloc(IFACES_MAX, sizeof(*ifs));
	size_t n = 0;
	for (struct ifaddrs *ia = list; ia; ia = ia->ifa_next) {
		if (!ia->ifa_addr || (ia->ifa_flags & IFF_LOOPBACK))
			continue;
		struct rack_iface_info *f = ifaces_get(ifs, &n, ia->ifa_name);
		if (!f)
			break;
		if (ia->ifa_addr->sa_family == AF_PACKET) {
			const struct sockaddr_ll *ll = (const struct sockaddr_ll *)ia->ifa_addr;
			if (ll->sll_halen == 6)
				mac_format(ll->sll_addr, f->mac, sizeof(f->mac));
			f->vlan = ifaces_vlan(f->name);
		} else if (ia->ifa_addr->sa_family == AF_INET || ia->ifa_addr->sa_family == AF_INET6) {
			ifaces_add_addr(f, ia);
		}
	}
	freeifaddrs(list);
	*ret = ifs;
	*ret_n = n;
	return 0;
}

struct netns_job {
	const char *netns;
	struct rack_iface_info *ifs;
	size_t n;
	int rc;
};

/* setns() changes only the calling thread, so a short-lived thread looks
 * into the namespace and the daemon's own threads stay where they are. */
static void *ifaces_netns_thread(void *p)
{
	struct netns_job *job = p;
	char path[300];
	snprintf(path, sizeof(path), "/run/netns/%s", job->netns);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		job->rc = -errno;
		return NULL;
	}
	if (unshare(CLONE_FS) < 0 || setns(fd, CLONE_NEWNET) < 0) {
		job->rc = -errno;
		close(fd);
		return NULL;
	}
	close(fd);
	job->rc = ifaces_collect(&job->ifs, &job->n);
	return NULL;
}

int rack_ifaces_list(const char *netns, struct rack_iface_info **ret, size_t *ret_n)
{
	if (!netns || !netns[0])
		return ifaces_collect(ret, ret_n);
	struct netns_job job = {.netns = netns};
	pthread_t t;
	int rc = pthread_create(&t, NULL, ifaces_netns_thread, &job);
	if (rc != 0)
		return -rc;
	pthread_join(t, NULL);
	if (job.rc < 0)
		return job.rc;
	*ret = job.ifs;
	*ret_n = job.n;
	return 0;
}

void rack_ifaces_free(struct rack_iface_info *ifs, size_t n)
{
	if (!ifs)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < ifs[i].n_addresses; j++)
			free(ifs[i].addresses[j]);
		free(ifs[i].addresses);
	}
	free(ifs);
}

void rack_addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	char text[INET6_ADDRSTRLEN] = "";

	if (sa && sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, text, sizeof(text));
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a))
			inet_ntop(AF_INET, &a->s6_addr[12], text, sizeof(text));
		else
			inet_ntop(AF_INET6, a, text, sizeof(text));
	}
	snprintf(buf, len, "%s", text);
}

void rack_iface_of(const struct rack *rack, const struct sockaddr *local, char *buf, size_t len)
{
	struct rack_iface_info *ifs = NULL;
	char addr[INET6_ADDRSTRLEN];
	size_t n = 0;

	buf[0] = '\0';
	rack_addr_text(local, addr, sizeof(addr));
	if (!addr[0] || rack_ifaces_list(rack->conf.netns, &ifs, &n) < 0)
		return;
	size_t alen = strlen(addr);
	for (size_t i = 0; i < n && !buf[0]; i++) {
		for (size_t j = 0; j < ifs[i].n_addresses; j++) {
			const char *a = ifs[i].addresses[j];
			if (strncmp(a, addr, alen) == 0 && a[alen] == '/') {
				snprintf(buf, len, "%s", ifs[i].name);
				break;
			}
		}
	}
	rack_ifaces_free(ifs, n);
}
