/* HTTP boot on the rack (libevent evhttp, port 5248 by default): the same
 * files and rendered boot configs as TFTP, for iPXE, GRUB and UEFI HTTP
 * boot, which fetch kernels and initrds far faster over TCP.
 *
 * GET and HEAD, and POST on the ephemeral agent's report path
 * (rack/machine/agent.h; 405 for another method there, 404 for another
 * path under /machine/). Paths are percent-decoded and then confined to the
 * boot root by the TFTP server's own rules (rack/tftp/root.h: no "..", no
 * NUL, no symlink out of the root); a refusal is 403 (404 for a missing
 * file) with a log line naming the client. Boot config paths
 * (/pxelinux.cfg/01-<mac>, /grub/grub.cfg-<mac>, /ipxe/<mac>.ipxe and the
 * defaults) are rendered by rack/boot/service.h, exactly as over TFTP.
 *
 * Files are sent with sendfile(2) from the page cache (an evbuffer file
 * segment), never read into memory; Content-Length, Last-Modified,
 * Accept-Ranges; one "Range: bytes=..." range gets 206 with Content-Range
 * (416 when it lies beyond the file); several ranges are ignored and the
 * whole file is sent (200). Connections are guarded by common/httpguard.h:
 * at most max_connections at once (max_connections_per_client from one
 * address), counted at accept, a further one answered 503 and closed at
 * once; a request's header must be complete header_timeout_ms after the
 * connection was accepted (or the request's first byte), its body
 * request_timeout_ms after; strict framing (400 for ambiguous framing).
 *
 * One log line per request: client, method, path, status, bytes. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct rack;
struct boot_http;
struct rack_agent;

struct boot_http_conf {
	const char *listen;		     /* "ADDRESS:PORT", "[V6]:PORT"; a literal address */
	const char *root;		     /* boot root directory (must exist) */
	unsigned max_connections;	     /* at once, counted at accept */
	unsigned max_connections_per_client; /* 0 = max_connections */
	unsigned header_timeout_ms;	     /* accept (or a request's first byte) to its header's end; 0 = 10 s */
	unsigned request_timeout_ms;	     /* ... to its body's end; 0 = 60 s */
	int nsfd;			     /* network namespace for the socket (netns_open), -1 = our own */
	const char *netns_name;		     /* for the log */
	struct rack *rack;		     /* boot configs (rack/boot/service.h); NULL: files only */
};

/* Bind and listen. Logs its own errors. */
int boot_http_new(struct event_base *base, const struct boot_http_conf *conf, struct boot_http **ret);
/* Answer held requests 503, close every connection. NULL is fine. */
void boot_http_free(struct boot_http *h);

/* The range a "Range" header asks of a size-byte file. Pure.
 * BOOT_RANGE_NONE: no header, another unit, several ranges or bad
 * syntax: send the whole file. BOOT_RANGE_PARTIAL: send *ret_len bytes
 * from *ret_off (206). BOOT_RANGE_UNSATISFIABLE: 416. */
enum boot_range {
	BOOT_RANGE_NONE,
	BOOT_RANGE_PARTIAL,
	BOOT_RANGE_UNSATISFIABLE,
};
enum boot_range boot_http_range_parse(const char *header, uint64_t size, uint64_t *ret_off, uint64_t *ret_len);

/* The port the server listens on (host order): the configured one, or the
 * one the kernel chose for port 0. */
int boot_http_port(const struct boot_http *h);
