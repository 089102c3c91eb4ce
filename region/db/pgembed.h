/* The region's embedded PostgreSQL: a private cluster in <state_dir>/pg,
 * listening only on a unix socket in <state_dir>/pg-run, started and stopped
 * with the region. Used when no database DSN is configured. */
#pragma once

#include <stddef.h>

struct pgembed;

/* Start the cluster, running initdb first if <state_dir>/pg does not exist.
 * If a postmaster from an earlier run (e.g. after the region was SIGKILLed)
 * still answers on the socket, adopt it instead of starting another.
 * bindir: directory with initdb and postgres; NULL or "" = the newest
 * /usr/lib/postgresql/N/bin. run_as: the unprivileged user the cluster runs
 * as when the region runs as root (PostgreSQL refuses root); ignored
 * otherwise. The "ironrack" database is created if missing.
 * Children are started with fork+exec only. Blocks until the server accepts
 * connections (or fails, with err saying why and naming its log file). */
int pgembed_start(const char *state_dir, const char *bindir, const char *run_as, struct pgembed **ret, char *err,
		  size_t errlen);

/* libpq connection string for the "ironrack" database. */
const char *pgembed_dsn(const struct pgembed *pg);

/* Fast shutdown of the server if this process started or adopted it
 * (waits for it to exit), then free. NULL is fine. */
void pgembed_stop(struct pgembed *pg);

/* Free without stopping the server (for short-lived subcommands that found
 * a running region's cluster). */
void pgembed_detach(struct pgembed *pg);

/* Did pgembed_start find an already running server? */
int pgembed_was_adopted(const struct pgembed *pg);
