/* The rack's services, started and stopped from one table; see services.h. */
#include "rack/services.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/httpguard.h"
#include "common/log.h"
#include "common/net.h"
#include "common/util.h"
#include "rack/boot/http.h"
#include "rack/boot/loaders.h"
#include "rack/boot/resources.h"
#include "rack/boot/service.h"
#include "rack/dhcp/glue.h"
#include "rack/dhcp/ha_service.h"
#include "rack/discovery/service.h"
#include "rack/netns.h"
#include "rack/power/service.h"
#include "rack/rack.h"
#include "rack/tftp/server.h"

#define FD_RESERVE 256 /* files and sockets besides transfers and connections */

/* Each TFTP transfer holds a socket, each HTTP connection a socket and,
 * while sending, a file: make room for all of them. */
static void services_raise_fd_limit(const struct rack *rack)
{
	rlim_t want = FD_RESERVE;
	struct rlimit rl;

	if (rack->conf.tftp_listen[0])
		want += (rlim_t)rack->conf.tftp_max_transfers;
	if (rack->conf.http_boot_listen[0])
		want += 2 * (rlim_t)rack->conf.http_boot_max_connections;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		log_warn("open file limit %llu is below what tftp_max_transfers and http_boot_max_connections need "
			 "(%llu); transfers and connections past it fail",
			 (unsigned long long)rl.rlim_cur, (unsigned long long)want);
}

static int services_netns_open(const struct rack *rack, const char *who, int *ret_fd)
{
	*ret_fd = -1;
	if (!rack->conf.netns[0])
		return 0;
	int fd = netns_open(rack->conf.netns);
	if (fd < 0) {
		log_err("%s: cannot open network namespace '%s': %s", who, rack->conf.netns, strerror(-fd));
		return fd;
	}
	*ret_fd = fd;
	return 0;
}

/* ---- the services ---- */

/* Loaders and cached boot resources are on disk before TFTP starts. */
static int loaders_start(struct rack *rack, const char *boot_root)
{
	return rack_loaders_install(rack, boot_root);
}

static int tftp_start(struct rack *rack, const char *boot_root)
{
	int nsfd, r;

	if (!rack->conf.tftp_listen[0]) {
		log_info("tftp: disabled (tftp_listen is empty)");
		return 0;
	}
	r = services_netns_open(rack, "tftp", &nsfd);
	if (r < 0)
		return r;
	struct tftp_server_conf tc = {
	    .listen = rack->conf.tftp_listen,
	    .root = boot_root,
	    .max_transfers = (unsigned)rack->conf.tftp_max_transfers,
	    .max_per_client = (unsigned)rack->conf.tftp_max_transfers_per_client,
	    .max_blksize = (uint32_t)rack->conf.tftp_max_blksize,
	    .workers = (unsigned)rack->conf.tftp_workers,
	    .nsfd = nsfd,
	    .netns_name = rack->conf.netns,
	    .hook = rack_boot_tftp_hook(rack),
	};
	r = tftp_server_new(rack->base, &tc, &rack->tftp);
	if (nsfd >= 0)
		close(nsfd);
	return r;
}

static void tftp_stop(struct rack *rack)
{
	tftp_server_free(rack->tftp);
	rack->tftp = NULL;
}

/* A listener on port 0 gets its port from the kernel: the port file
 * (state_dir/ports/http-boot) tells whoever started the rack. */
static int http_start(struct rack *rack, const char *boot_root)
{
	char host[256];
	uint16_t port;
	int nsfd, r;

	if (!rack->conf.http_boot_listen[0]) {
		log_info("http: boot server disabled (http_boot_listen is empty)");
		return 0;
	}
	r = services_netns_open(rack, "http", &nsfd);
	if (r < 0)
		return r;
	struct boot_http_conf hc = {
	    .listen = rack->conf.http_boot_listen,
	    .root = boot_root,
	    .max_connections = httpguard_fd_cap((unsigned)rack->conf.http_boot_max_connections, 2,
						FD_RESERVE + (unsigned)rack->conf.tftp_max_transfers),
	    .max_connections_per_client = (unsigned)rack->conf.http_boot_max_connections_per_client,
	    .header_timeout_ms = (unsigned)rack->conf.http_boot_header_timeout * 1000,
	    .request_timeout_ms = (unsigned)rack->conf.http_boot_request_timeout * 1000,
	    .nsfd = nsfd,
	    .netns_name = rack->conf.netns,
	    .rack = rack,
	};
	r = boot_http_new(rack->base, &hc, &rack->http);
	if (nsfd >= 0)
		close(nsfd);
	if (r < 0)
		return r;
	/* boot_http_new accepted the address, so it parses; the host without
	 * brackets, which port_file_write adds for IPv6. */
	if (endpoint_parse(rack->conf.http_boot_listen, 0, host, sizeof(host), &port) < 0)
		return 0;
	r = port_file_write(rack->conf.state_dir, "http-boot", host, boot_http_port(rack->http));
	if (r < 0)
		log_warn("http: cannot write the port file in %s: %s", rack->conf.state_dir, strerror(-r));
	return 0;
}

static void http_stop(struct rack *rack)
{
	boot_http_free(rack->http);
	rack->http = NULL;
}

static int dhcp_start(struct rack *rack, const char *boot_root)
{
	return rack_dhcp_start(rack);
}

static int power_start(struct rack *rack, const char *boot_root)
{
	return rack_power_start(rack);
}

static int discovery_start(struct rack *rack, const char *boot_root)
{
	return rack_discovery_start(rack);
}

static int ha_start(struct rack *rack, const char *boot_root)
{
	return rack_ha_start(rack);
}

/* Started in this order, stopped in reverse. */
static const struct rack_service {
	const char *name;
	int (*start)(struct rack *rack, const char *boot_root);
	void (*stop)(struct rack *rack);
} services[] = {
    {"loaders", loaders_start, NULL},
    {"boot resources", rack_resources_start, rack_resources_stop},
    {"tftp", tftp_start, tftp_stop},
    {"http boot", http_start, http_stop},
    {"dhcp", dhcp_start, rack_dhcp_stop},
    {"power", power_start, rack_power_stop},
    {"discovery", discovery_start, rack_discovery_stop},
    {"dhcp ha", ha_start, rack_ha_stop},
};

#define N_SERVICES (sizeof(services) / sizeof(services[0]))

static void services_stop_from(struct rack *rack, size_t n)
{
	for (size_t i = n; i-- > 0;)
		if (services[i].stop)
			services[i].stop(rack);
}

int rack_services_start(struct rack *rack)
{
	char boot_root[PATH_MAX];
	int r = rack_boot_root(rack, boot_root, sizeof(boot_root));
	if (r < 0)
		return r;
	services_raise_fd_limit(rack);
	for (size_t i = 0; i < N_SERVICES; i++) {
		r = services[i].start(rack, boot_root);
		if (r < 0) {
			log_err("%s: cannot start: %s", services[i].name, strerror(-r));
			services_stop_from(rack, i + 1); /* a failed start may leave state behind */
			return r;
		}
	}
	return 0;
}

void rack_services_stop(struct rack *rack)
{
	services_stop_from(rack, N_SERVICES);
}
