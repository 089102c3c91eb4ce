/* The DHCP HA partner link (docs/dhcp-ha.md, "Messages"): one
 * bidirectional gRPC stream between the two racks of a pair, over mutual
 * TLS with the certificates the region issued them. The secondary listens;
 * the primary dials and redials with backoff. Each side accepts only its
 * configured partner: the server checks the client certificate's CN, the
 * client checks the server certificate's name (the partner's rack id, in
 * its subjectAltName). The first message each way is an HaHello, which
 * must name the partner, the opposite role, the same VLAN and a protocol
 * version this code speaks; then the link is up and every message reaches
 * the owner, checked by ha_msg. An HaState goes out every heartbeat; a
 * partner silent for the timeout is dropped (and redialled).
 *
 * The shell only moves messages: what they mean (the state machine, the
 * lease updates, the pool) is the owner's. Runs on the rack's loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rack/dhcp/ha_msg.h"

struct event_base;
struct rpc_loop;
struct ha_link;

#define HA_LINK_PATH "/ironrack.v1.HaPartner/Session"

struct ha_link_conf {
	enum ha_role role;
	const char *self_id;	  /* our rack id (our certificate's CN) */
	const char *partner_id;	  /* the partner's rack id */
	const char *listen;	  /* the secondary's "host:port" ("127.0.0.1:0" in tests) */
	const char *partner_addr; /* the primary dials this "host:port" */
	uint16_t vlan;
	uint64_t config_version;
	int heartbeat_ms; /* an HaState this often */
	int timeout_ms;	  /* a partner silent this long is dropped */
	const char *ca_pem, *key_pem, *cert_pem;
};

struct ha_link_ops {
	/* The partner's hello was accepted: the link is up. */
	void (*up)(struct ha_link *l, const struct ha_hello *partner, void *arg);
	/* The link went down (why: what happened). Not called for a stream
	 * that never got up. */
	void (*down)(struct ha_link *l, const char *why, void *arg);
	/* A message after the hello, checked; freed when this returns. */
	void (*message)(struct ha_link *l, const struct ha_msg *m, void *arg);
};

struct ha_link_status {
	bool up;
	int64_t up_since_ms; /* monotonic; 0 when down */
	int64_t last_rx_ms;  /* monotonic: the last message from the partner; 0 none yet */
	uint64_t ups;	     /* times the link came up */
	uint64_t refused;    /* streams or hellos refused (wrong identity, role, VLAN, version) */
	uint64_t tx, rx;     /* messages */
	bool partner_state_known;
	struct ha_state_msg partner_state; /* the partner's last HaState */
	char last_error[256];		   /* the last reason the link went down or a stream was refused */
};

/* Start listening (secondary) or dialling (primary). -EINVAL for a bad
 * conf (err says what), else what rpc_server_new/rpc_channel_new return. */
int ha_link_new(struct event_base *base, struct rpc_loop *loop, const struct ha_link_conf *conf,
		const struct ha_link_ops *ops, void *arg, struct ha_link **ret, char *err, size_t err_len);
void ha_link_free(struct ha_link *l);

/* The port the secondary listens on (after "host:0"); 0 for the primary. */
int ha_link_port(const struct ha_link *l);

/* Send one message; -ENOTCONN when the link is not up, -EINVAL for one the
 * codec refuses, else rpc_stream_send()'s error. */
int ha_link_send(struct ha_link *l, const struct ha_msg *m);

/* What our heartbeats (and the hello) say about us. */
void ha_link_set_state(struct ha_link *l, const struct ha_state_msg *st);

void ha_link_get_status(const struct ha_link *l, struct ha_link_status *ret);
