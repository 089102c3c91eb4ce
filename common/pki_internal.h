/* Shared by common/pki.c and common/pki_fetch.c only. */
#pragma once

#include <openssl/x509.h>

/* cert as a malloc'd PEM string: 0 or -errno. */
int pki_x509_to_pem(X509 *cert, char **ret);
