/* Run the rack's DHCPv4 server (rack/dhcp/server.h) standalone, with a
 * config built from the command line: for smoke tests in network
 * namespaces and for benchmarks. No region, no load.c: the config is
 * built by hand and wrapped in a struct dhcp_loaded with arena = NULL.
 *
 *   dhcp_serve -l LEASEDIR [-N NETNS] [-v] [-p] [-T PROBE_MS] [-C COMMIT_US] [-e SECONDS]
 *              [-t LEASE_S] [-B ARCH=FILE[,http]]...
 *              -i IFACE [-V VID]
 *                -s NET/LEN | -x NET/LEN    (on-link | relayed subnet of IFACE)
 *                  [-r FIRST-LAST]... [-g ROUTER] [-d DNS]... [-a RACK_ADDR]
 *                  [-H MAC=IP[=HOSTNAME]]...
 *                [-s ... ]...
 *              [-i IFACE2 ...]...
 *
 * Per-subnet options apply to the last -s/-x, which applies to the last
 * -i. -N serves inside /run/netns/NETNS (or run the tool under
 * `ip netns exec`). -p turns on conflict probes, -e external DHCP
 * detection. Lease events and external servers are printed on stdout;
 * SIGHUP re-applies the same config as a new version (exercises the
 * apply path: sockets kept, config swapped, old one freed); SIGTERM/SIGINT
 * stop it and print the stats. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/net.h"
#include "rack/dhcp/server.h"
#include "rack/netns.h"

#define MAX_IFACES  8
#define MAX_SUBNETS 8
#define MAX_LIST    16

struct tool_subnet {
	struct dhcp_subnet s;
	bool relayed;
	struct dhcp_range ranges[MAX_LIST];
	uint32_t dns[MAX_LIST];
	struct dhcp_host hosts[MAX_LIST];
};

struct tool_iface {
	struct dhcp_iface ifc;
	struct tool_subnet subnets[MAX_SUBNETS];
	size_t n;
	struct dhcp_subnet onlink[MAX_SUBNETS], relayed[MAX_SUBNETS];
};

static struct tool_iface ifaces[MAX_IFACES];
static struct dhcp_iface cfg_ifaces[MAX_IFACES];
static size_t n_ifaces;
static struct dhcp_boot_file boot_files[MAX_LIST];
static size_t n_boot_files;
static uint32_t next_id = 1;

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "dhcp_serve: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(2);
}

static uint32_t parse_ip(const char *text)
{
	struct in_addr a;
	if (inet_pton(AF_INET, text, &a) != 1)
		die("bad IPv4 address '%s'", text);
	return ntohl(a.s_addr);
}

static struct tool_iface *cur_iface(void)
{
	if (!n_ifaces)
		die("%s", "-i IFACE must come first");
	return &ifaces[n_ifaces - 1];
}

static struct tool_subnet *cur_subnet(void)
{
	struct tool_iface *t = cur_iface();
	if (!t->n)
		die("%s", "-s/-x NET/LEN must come before per-subnet options");
	return &t->subnets[t->n - 1];
}

static void add_subnet(const char *text, bool relayed)
{
	struct tool_iface *t = cur_iface();
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", text);
	char *slash = strchr(buf, '/');
	if (!slash || t->n == MAX_SUBNETS)
		die("bad subnet '%s' (NET/LEN)", text);
	*slash = '\0';
	struct tool_subnet *ts = &t->subnets[t->n++];
	ts->relayed = relayed;
	ts->s.id = next_id++;
	ts->s.network = parse_ip(buf);
	ts->s.prefix_len = (uint8_t)atoi(slash + 1);
}

static void add_range(const char *text)
{
	struct tool_subnet *ts = cur_subnet();
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", text);
	char *dash = strchr(buf, '-');
	if (!dash || ts->s.n_ranges == MAX_LIST)
		die("bad range '%s' (FIRST-LAST)", text);
	*dash = '\0';
	struct dhcp_range *r = &ts->ranges[ts->s.n_ranges++];
	r->id = next_id++;
	r->first = parse_ip(buf);
	r->last = parse_ip(dash + 1);
}

static void add_host(const char *text)
{
	struct tool_subnet *ts = cur_subnet();
	char *buf = strdup(text);
	char *ip = strchr(buf, '=');
	if (!ip || ts->s.n_hosts == MAX_LIST)
		die("bad reservation '%s' (MAC=IP[=HOSTNAME])", text);
	*ip++ = '\0';
	char *name = strchr(ip, '=');
	if (name)
		*name++ = '\0';
	struct dhcp_host *h = &ts->hosts[ts->s.n_hosts++];
	if (mac_parse(buf, h->mac) < 0)
		die("bad MAC in '%s'", text);
	h->addr = parse_ip(ip);
	h->hostname = name;
}

static void add_boot_file(const char *text)
{
	char *buf = strdup(text);
	char *file = strchr(buf, '=');
	if (!file || n_boot_files == MAX_LIST)
		die("bad boot file '%s' (ARCH=FILE[,http])", text);
	*file++ = '\0';
	struct dhcp_boot_file *b = &boot_files[n_boot_files++];
	b->arch = (uint16_t)strtoul(buf, NULL, 0);
	char *comma = strchr(file, ',');
	if (comma) {
		*comma = '\0';
		b->http = strcmp(comma + 1, "http") == 0;
	}
	b->file = file;
}

static void finish_config(struct dhcp_config *cfg)
{
	for (size_t i = 0; i < n_ifaces; i++) {
		struct tool_iface *t = &ifaces[i];
		for (size_t j = 0; j < t->n; j++) {
			struct tool_subnet *ts = &t->subnets[j];
			ts->s.ranges = ts->ranges;
			ts->s.dns = ts->dns;
			ts->s.hosts = ts->hosts;
			if (ts->relayed)
				t->relayed[t->ifc.n_relayed++] = ts->s;
			else
				t->onlink[t->ifc.n_subnets++] = ts->s;
		}
		t->ifc.subnets = t->onlink;
		t->ifc.relayed = t->relayed;
		cfg_ifaces[i] = t->ifc;
	}
	cfg->ifaces = cfg_ifaces;
	cfg->n_ifaces = n_ifaces;
	cfg->pxe.files = boot_files;
	cfg->pxe.n_files = n_boot_files;
	cfg->pxe.enabled = n_boot_files > 0;
}

static void on_events(void *arg, const char *ifname, const struct dhcp_event *ev, size_t n)
{
	static const char *kinds[] = {"?", "granted", "released", "conflict", "exhausted", "reserved-busy", "expired"};
	for (size_t i = 0; i < n; i++) {
		struct in_addr a = {htonl(ev[i].addr)};
		char text[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &a, text, sizeof(text));
		printf("event %s %s %s %02x:%02x:%02x:%02x:%02x:%02x %s\n", ifname[0] ? ifname : "-",
		       ev[i].kind <= DHCP_EV_LEASE_EXPIRED ? kinds[ev[i].kind] : "?", text, ev[i].chaddr[0],
		       ev[i].chaddr[1], ev[i].chaddr[2], ev[i].chaddr[3], ev[i].chaddr[4], ev[i].chaddr[5],
		       ev[i].hostname);
	}
	fflush(stdout);
}

static void on_external(void *arg, const char *ifname, uint16_t vid, uint64_t vlan_id, const uint32_t *servers,
			size_t n)
{
	printf("external %s vid %u: %zu server(s)", ifname, vid, n);
	for (size_t i = 0; i < n; i++) {
		struct in_addr a = {htonl(servers[i])};
		char text[INET_ADDRSTRLEN];
		printf(" %s", inet_ntop(AF_INET, &a, text, sizeof(text)));
	}
	printf("\n");
	fflush(stdout);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static struct dhcp_loaded template;

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct dhcp_loaded *l = malloc(sizeof(*l));
	char why[256];

	*l = template;
	l->cfg.version = ++template.cfg.version;
	if (dhcp_server_apply(arg, l, why, sizeof(why)) < 0) {
		fprintf(stderr, "dhcp_serve: re-apply failed: %s\n", why);
		free(l);
	}
}

int main(int argc, char **argv)
{
	struct dhcp_server_conf conf = {.nsfd = -1};
	const char *netns = NULL;
	uint32_t external = 0;
	enum log_level level = LOG_LEVEL_INFO;
	struct dhcp_loaded *l = calloc(1, sizeof(*l));
	int opt;

	while ((opt = getopt(argc, argv, "l:N:vpT:C:e:t:B:i:V:s:x:r:g:d:a:H:")) != -1) {
		switch (opt) {
		case 'l':
			conf.lease_dir = optarg;
			break;
		case 'N':
			netns = optarg;
			break;
		case 'v':
			level = LOG_LEVEL_DEBUG;
			break;
		case 'p':
			l->cfg.probe = true;
			break;
		case 'T':
			conf.probe_timeout_ms = atoll(optarg);
			break;
		case 'C':
			conf.commit_interval_us = atoll(optarg);
			break;
		case 'e':
			external = (uint32_t)atoi(optarg);
			break;
		case 't':
			l->cfg.lease_time = (uint32_t)atoi(optarg);
			break;
		case 'B':
			add_boot_file(optarg);
			break;
		case 'i':
			if (n_ifaces == MAX_IFACES)
				die("%s", "too many interfaces");
			ifaces[n_ifaces++].ifc.name = optarg;
			break;
		case 'V':
			cur_iface()->ifc.vid = (uint16_t)atoi(optarg);
			break;
		case 's':
			add_subnet(optarg, false);
			break;
		case 'x':
			add_subnet(optarg, true);
			break;
		case 'r':
			add_range(optarg);
			break;
		case 'g':
			cur_subnet()->s.router = parse_ip(optarg);
			break;
		case 'd': {
			struct tool_subnet *ts = cur_subnet();
			if (ts->s.n_dns == MAX_LIST)
				die("%s", "too many DNS servers");
			ts->dns[ts->s.n_dns++] = parse_ip(optarg);
			break;
		}
		case 'a':
			cur_subnet()->s.server_addr = parse_ip(optarg);
			break;
		case 'H':
			add_host(optarg);
			break;
		default:
			fprintf(stderr, "usage: see the comment at the top of tests/tools/dhcp_serve.c\n");
			return 2;
		}
	}
	if (!conf.lease_dir || !n_ifaces)
		die("%s", "need -l LEASEDIR and at least one -i IFACE");
	log_setup("dhcp_serve", level);
	finish_config(&l->cfg);
	l->external_probe_interval_s = external;
	char why[256];
	if (dhcp_config_validate(&l->cfg, why, sizeof(why)) < 0)
		die("invalid config: %s", why);
	if (netns) {
		conf.nsfd = netns_open(netns);
		if (conf.nsfd < 0)
			die("cannot open netns %s", netns);
	}

	struct event_base *base = event_base_new();
	struct dhcp_server_ops ops = {.on_events = on_events, .on_external = on_external};
	struct dhcp_server *s;
	int r = dhcp_server_new(base, &conf, &ops, NULL, &s);
	if (r < 0)
		die("cannot start: %s", strerror(-r));
	template = *l;
	r = dhcp_server_apply(s, l, why, sizeof(why));
	if (r < 0)
		die("cannot serve: %s", why);
	struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	struct event *sighup = evsignal_new(base, SIGHUP, on_hup, s);
	event_add(sighup, NULL);
	printf("ready\n");
	fflush(stdout);
	event_base_dispatch(base);

	struct dhcp_server_stats st;
	dhcp_server_get_stats(s, &st);
	printf("stats received %llu replied %llu offers %llu acks %llu naks %llu ignored %llu dropped_busy %llu "
	       "probes %llu conflicts %llu commits %llu\n",
	       (unsigned long long)st.received, (unsigned long long)st.replied, (unsigned long long)st.offers,
	       (unsigned long long)st.acks, (unsigned long long)st.naks, (unsigned long long)st.ignored,
	       (unsigned long long)st.dropped_busy, (unsigned long long)st.probes, (unsigned long long)st.conflicts,
	       (unsigned long long)st.commits);
	dhcp_server_free(s);
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	event_base_free(base);
	if (conf.nsfd >= 0)
		close(conf.nsfd);
	return 0;
}
