/* Pinning the region CA for https:// (pure: no I/O; tests/unit/test_cli_pin.c).
 *
 * `ironrack login https://...` takes the certificates the server presents
 * in a handshake that sends nothing (verification off), keeps the
 * self-signed CA at the top of that chain if the server's own certificate
 * chains to it as a TLS server certificate, compares it with
 * --ca-fingerprint when given (otherwise trusts it on first use and says
 * so), and saves it next to the login file. Every request after that
 * verifies the server against that CA alone. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* From the chain a server presented (PEM certificates, its own first): the
 * self-signed CA in it (PEM, malloc'd) and its fingerprint
 * ("SHA256:AB:..."; fplen >= PKI_FINGERPRINT_LEN). The server's certificate
 * must chain to that CA and be fit for a TLS server (extendedKeyUsage
 * serverAuth when it has one). -ENOENT: no self-signed CA in the chain;
 * -EKEYREJECTED: the server's certificate does not chain to it for server
 * use; -EBADMSG: a certificate that does not parse; -EINVAL: no chain. */
int cli_pin_chain_ca(const char *const *pems, size_t n, char **ret_ca_pem, char *ret_fp, size_t fplen);

/* Is text a SHA-256 fingerprint (hex, ':' separators and a "SHA256:"
 * prefix optional)? */
bool cli_pin_fingerprint_valid(const char *text);

/* Where the CA of the login saved in conf_path goes: conf_path with a
 * ".conf" ending replaced by "-ca.pem", else conf_path + "-ca.pem".
 * -ENAMETOOLONG if it does not fit. */
int cli_pin_ca_path(const char *conf_path, char *buf, size_t len);
