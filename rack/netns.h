/* Sockets in another network namespace.
 *
 * A socket belongs to the namespace it was created in, for its whole life,
 * whichever thread later uses it. So the rack, which stays in its own
 * namespace (it reaches the region from there), creates the sockets it
 * serves on inside the namespace named by its netns key: a short-lived
 * thread enters the namespace with setns(2) (which changes only the calling
 * thread), creates the socket and hands back the descriptor. The daemon's
 * own threads never change namespace. */
#pragma once

/* Open /run/netns/NAME. Returns a descriptor (>= 0) or -errno. Keeping it
 * open keeps working even if the name is later removed. */
int netns_open(const char *name);

/* socket(domain, type, protocol) inside the namespace nsfd (from
 * netns_open), or in the caller's own namespace when nsfd < 0. Returns the
 * descriptor or -errno. Needs CAP_SYS_ADMIN for another namespace. */
int netns_socket(int nsfd, int domain, int type, int protocol);
