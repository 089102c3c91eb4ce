/* The cloud-init NoCloud seed a deployed machine gets (docs/deploy.md,
 * "The NoCloud seed"): meta-data, user-data and network-config version 2,
 * as text. Pure: nocloud_build() renders a model filled by the caller;
 * nocloud_load() (region/db/nocloud_db.c, a database job) fills its
 * interfaces from IPAM for one machine. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOCLOUD_ADDRS_MAX   16
#define NOCLOUD_ROUTES_MAX  32
#define NOCLOUD_DNS_MAX	    8
#define NOCLOUD_IFACES_MAX  64
#define NOCLOUD_MEMBERS_MAX 8
#define NOCLOUD_SSH_KEY_MAX 16384 /* bytes of one authorized key line */

enum nocloud_iface_kind {
	NOCLOUD_ETHERNET, /* a physical NIC, matched by MAC */
	NOCLOUD_VLAN,	  /* parent's name + vlan id */
	NOCLOUD_BOND,	  /* members' names + mode */
};

struct nocloud_route {
	char to[50];	 /* CIDR of the destination, not /0 (default routes come from the gateways) */
	char via[46];	 /* gateway address, of the destination's family */
	uint32_t metric; /* 0 = the kernel's default */
};

/* One interface of the seed. Names are Linux interface names (1-15 of
 * A-Z a-z 0-9 . _ -, not starting with . _ or -); the model's order is the
 * output's order within each of ethernets, bonds and vlans. */
struct nocloud_iface {
	enum nocloud_iface_kind kind;
	char name[16];			       /* the name in the model (set-name for ethernets) */
	char mac[18];			       /* ethernets: required; bonds: "" = kernel's choice; VLANs: unused */
	char parent[16];		       /* VLAN: its link (an ethernet or a bond of the model) */
	uint16_t vlan_id;		       /* VLAN: 1..4094 */
	char members[NOCLOUD_MEMBERS_MAX][16]; /* bond: ethernets of the model, without addresses of their own */
	size_t n_members;
	char bond_mode[24]; /* bond: balance-rr, active-backup, balance-xor, broadcast, 802.3ad,
			       balance-tlb, balance-alb; "" = the kernel's default (balance-rr) */
	uint32_t mtu;	    /* 0 = leave alone; else 68..65535 */
	bool dhcp4;
	bool dhcp6;
	char addrs[NOCLOUD_ADDRS_MAX][50]; /* address with its prefix length: 10.0.0.5/24, 2001:db8::5/64 */
	size_t n_addrs;
	/* Gateways of the interface's subnets, "" = none. Of all interfaces
	 * only the first (in model order) with a gateway4 gets the IPv4
	 * default route through it ("to: 0.0.0.0/0"), and likewise for
	 * gateway6 (written as gateway6, which needs an IPv6 address on the
	 * interface): a host has one default route per family. */
	char gateway4[46];
	char gateway6[46];
	char dns[NOCLOUD_DNS_MAX][46];
	size_t n_dns;
	struct nocloud_route routes[NOCLOUD_ROUTES_MAX];
	size_t n_routes;
};

struct nocloud_model {
	char instance_id[80];	     /* printable, no quotes or backslashes: ironrack-MACHINEID-DEPLOYNUMBER */
	char hostname[64];	     /* one DNS label */
	const char *user_data;	     /* the operator's, may be NULL or "" (not owned) */
	const char *const *ssh_keys; /* n_ssh_keys authorized keys, one line each (not owned) */
	size_t n_ssh_keys;
	struct nocloud_iface *ifaces; /* n_ifaces; malloc'd by nocloud_load, freed by nocloud_model_free */
	size_t n_ifaces;
};

struct nocloud_seed {
	char *meta_data; /* malloc'd, NUL-terminated */
	char *user_data;
	char *network_config;
};

/* Render m into *ret (all three NUL-terminated, malloc'd; the same model
 * gives the same bytes). -EINVAL with msg for a model that cannot be
 * rendered: a bad hostname or instance id; an interface name, MAC,
 * address, gateway, route, DNS server or MTU that is not well formed; two
 * interfaces with one name or MAC; a VLAN whose link is not in the model;
 * a bond member that is not an ethernet of the model or has addresses; SSH
 * keys with user data that is not #cloud-config, or whose
 * ssh_authorized_keys is not a block list; an SSH key that is not one
 * line. *ret is untouched on failure. */
int nocloud_build(const struct nocloud_model *m, struct nocloud_seed *ret, char *msg, size_t msg_len);
void nocloud_seed_free(struct nocloud_seed *s);

struct db;
/* job: fill m->ifaces (and n_ifaces) from machine_id's interfaces (by
 * name, C collation) and their IPAM links; the caller sets the rest. Runs
 * plain statements on the caller's connection: inside the caller's
 * transaction when one is open. Only ethernets: the model has no VLAN
 * sub-interfaces or bonds. 0, -ENOENT (no such machine), -E2BIG (more
 * interfaces, addresses, DNS servers or routes than the limits above),
 * -EIO. */
int nocloud_load(struct db *db, int64_t machine_id, struct nocloud_model *m);
/* Frees m->ifaces only (the caller owns the rest); accepts NULL. */
void nocloud_model_free(struct nocloud_model *m);
