/* Every service the rack runs on the wire, started, stopped and listed in
 * one place (rack/services.c): boot loaders and resources on disk, TFTP,
 * HTTP boot, DHCP. None waits for the region: each serves what is on disk
 * (the stored config), so a restarted rack serves with the region down.
 * Configuration changes reach the services through their config parts
 * (rack/session.h), not through here. */
#pragma once

struct rack;

/* Start every service, in order; on failure stop those started and return
 * -errno (the reason is logged). */
int rack_services_start(struct rack *rack);
/* Stop every service, in reverse order. */
void rack_services_stop(struct rack *rack);
