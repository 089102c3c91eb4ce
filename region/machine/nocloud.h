/* The cloud-init NoCloud seed a deployed machine gets (docs/deploy.md,
 * "The NoCloud seed"): meta-data, user-data and network-config version 2,
 * as text. Pure: nocloud_build() renders a model filled by the caller;
 * nocloud_load() (region/db/nocloud_db.c, a database job) fills it from
 * IPAM for one machine. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOCLOUD_ADDRS_MAX   16
#define NOCLOUD_ROUTES_MAX  32
#define NOCLOUD_DNS_MAX	    8
#define NOCLOUD_IFACES_MAX  64
#define NOCLOUD_MEMBERS_MAX 8

enum nocloud_iface_kind {
	NOCLOUD_ETHERNET, /* a physical NIC, matched by MAC */
	NOCLOUD_VLAN,	  /* parent's name + vlan id */
	NOCLOUD_BOND,	  /* members' names + mode */
};

struct nocloud_route {
	char to[50];  /* CIDR, "0.0.0.0/0" for the default route */
	char via[46]; /* gateway address */
	uint32_t metric;
};

struct nocloud_iface {
	enum nocloud_iface_kind kind;
	char name[16];			       /* the name in the model (set-name for ethernets) */
	char mac[18];			       /* aa:bb:cc:dd:ee:ff; ethernets (and bonds: "" = kernel's choice) */
	char parent[16];		       /* VLAN: its link */
	uint16_t vlan_id;		       /* VLAN: 1..4094 */
	char members[NOCLOUD_MEMBERS_MAX][16]; /* bond */
	size_t n_members;
	char bond_mode[24]; /* bond: active-backup, 802.3ad, balance-rr, ... */
	uint32_t mtu;	    /* 0 = leave alone */
	bool dhcp4;
	char addrs[NOCLOUD_ADDRS_MAX][50]; /* CIDR: 10.0.0.5/24 (or IPv6) */
	size_t n_addrs;
	char gateway4[46]; /* "" = none; only the first interface with one gets the default route */
	char dns[NOCLOUD_DNS_MAX][46];
	size_t n_dns;
	struct nocloud_route routes[NOCLOUD_ROUTES_MAX];
	size_t n_routes;
};

struct nocloud_model {
	char instance_id[80];
	char hostname[64];
	const char *user_data;	     /* the operator's, may be NULL or "" */
	const char *const *ssh_keys; /* n_ssh_keys authorized keys */
	size_t n_ssh_keys;
	struct nocloud_iface *ifaces; /* n_ifaces, malloc'd by nocloud_load */
	size_t n_ifaces;
};

struct nocloud_seed {
	char *meta_data; /* malloc'd, NUL-terminated */
	char *user_data;
	char *network_config;
};

/* Render m. -EINVAL with msg for a model that cannot be rendered (an
 * interface name or MAC that is not safe, a VLAN without its parent, user
 * data with ssh keys that is not #cloud-config). */
int nocloud_build(const struct nocloud_model *m, struct nocloud_seed *ret, char *msg, size_t msg_len);
void nocloud_seed_free(struct nocloud_seed *s);

struct db;
/* job: fill m->ifaces (and n_ifaces) from machine_id's interfaces and
 * their IPAM links; the caller sets the rest. 0, -ENOENT, -EIO. */
int nocloud_load(struct db *db, int64_t machine_id, struct nocloud_model *m);
void nocloud_model_free(struct nocloud_model *m);
