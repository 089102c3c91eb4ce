/* ironrack: the command-line client of the region's REST API. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/version.h"
#include "region/cli/commands.h"
#include "region/cli/deploy_cli.h"
#include "region/cli/discoveries_cli.h"
#include "region/cli/images_cli.h"
#include "region/cli/infra.h"
#include "region/cli/machines_cli.h"
#include "region/cli/net_cli.h"
#include "region/cli/power_cli.h"

#define SERVER_OPTS (CLI_OPT_URL | CLI_OPT_KEY | CLI_OPT_CA)

struct cli_command {
	const char *name; /* words, e.g. "racks push-config" */
	const char *usage_args;
	size_t min_args, max_args;
	uint64_t opts; /* options it accepts besides --help */
	int (*run)(struct cli *cli, char **argv, size_t argc);
	const char *summary;
	const char *help;
};

static const struct cli_command commands[] = {
    {"login", "URL KEY", 2, 2, CLI_OPT_CA | CLI_OPT_CA_FINGERPRINT, cli_cmd_login,
     "check an API key against a region and save both",
     "Checks KEY with GET URL/api/v1/racks and, if the region accepts it, saves URL and\n"
     "KEY to $IRONRACK_CONFIG or ~/.config/ironrack/cli.conf (mode 0600). KEY \"-\" reads\n"
     "the key from the first line of standard input.\n"
     "For an https:// URL it first pins the region's CA: a handshake that sends nothing\n"
     "(not the key) shows the server's certificate and the CA that issued it; that CA is\n"
     "saved next to the login file (cli-ca.pem) and every later command trusts it and\n"
     "nothing else. Only then does the key go out, over a connection verified with it.\n"
     "  --ca-fingerprint SHA256:...  the fingerprint the region logged at start\n"
     "                        (ironrack-regiond ca-fingerprint); a CA that differs is\n"
     "                        refused and nothing is saved. Without it the CA is\n"
     "                        trusted on first use and its fingerprint printed.\n"
     "  --ca FILE             take the CA from FILE (the region's state_dir/tls/ca.crt)\n"
     "                        instead of from the handshake."},
    {"logout", "", 0, 0, 0, cli_cmd_logout, "forget the saved URL and key", "Removes the saved login file."},
    {"racks list", "", 0, 0, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_racks_list, "list racks",
     "Shows every rack: status, when it was last heard from, its software version, its\n"
     "configuration (versions acknowledged/latest) and its interfaces. --json prints the\n"
     "API's answer instead."},
    {"racks show", "ID", 1, 1, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_racks_show, "show one rack",
     "Shows one rack in detail. --json prints the API's answer instead."},
    {"racks ping", "ID", 1, 1, SERVER_OPTS | CLI_OPT_JSON | CLI_OPT_TIMEOUT, cli_cmd_racks_ping,
     "check that a rack answers over its session",
     "Sends a ping down the rack's session and prints the round-trip time. --timeout MS\n"
     "bounds the wait (1-60000, default 5000)."},
    {"racks push-config", "ID KEY=VALUE...", 2, SIZE_MAX, SERVER_OPTS | CLI_OPT_JSON | CLI_OPT_TIMEOUT,
     cli_cmd_racks_push_config, "store a new configuration for a rack and push it",
     "Stores the settings as the rack's next configuration version and pushes it. Waits\n"
     "until the rack has it on disk (--timeout MS, 1-60000, default 10000). A rack that\n"
     "is not connected gets it when it reconnects."},
    {"racks dhcp", "ID", 1, 1, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_racks_dhcp, "show what a rack's DHCP server serves",
     "Shows the DHCP configuration the region would send the rack now: per interface the\n"
     "VLAN, subnets (server address, router, lease time), dynamic ranges and how many\n"
     "reservations and options each subnet has. --json prints the whole configuration."},
    {"racks dhcp-partner-down", "ID [VLAN]", 1, 2, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_racks_dhcp_partner_down,
     "declare a DHCP HA rack's partner dead",
     "The operator's word that the other rack of ID's DHCP HA pair is dead\n"
     "(docs/dhcp-ha.md, PARTNER-DOWN): ID serves every client and, once the maximum\n"
     "client lead time (ha_mclt) has passed, the partner's share of the addresses too.\n"
     "Refused while ID still hears its partner. VLAN names the pair when ID is in\n"
     "several. Over when the two are normal again; the API's DELETE\n"
     "/api/v1/vlans/VLAN/dhcp-partner-down ends it by hand."},
    {"racks dhcp-events", "ID [VLAN]", 1, 2, SERVER_OPTS | CLI_OPT_JSON | CLI_OPT_LIMIT, cli_cmd_racks_dhcp_events,
     "what happened to a rack's DHCP HA pair",
     "The events of ID's DHCP HA pair, oldest first (--limit N, default 100): links\n"
     "lost and back, states degraded and back to normal, partner-downs declared by\n"
     "the operator or granted by the region as witness, and addresses a merge found\n"
     "bound to two clients. VLAN names the pair when ID is in several."},
    /* infrastructure editor (region/cli/infra.c) */
    {"infra list", "", 0, 0, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_infra_list, "list infrastructures",
     "Shows every infrastructure with its zone, fabric, revision (deploys so far) and how\n"
     "many instance arrays and networks its deployed and staged designs hold."},
    {"infra show", "NAME", 1, 1, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_infra_show,
     "show an infrastructure's deployed and staged designs",
     "Shows the deployed design (with VLAN ids, WAN gateways and subnets, instances) and\n"
     "the staged design that 'ironrack infra deploy' would apply."},
    {"infra create", "NAME [--wan-pools CIDR,...]", 1, 1,
     SERVER_OPTS | CLI_OPT_JSON | CLI_OPT_DESCRIPTION | CLI_OPT_FABRIC | CLI_OPT_ZONE | CLI_OPT_WAN_POOLS,
     cli_cmd_infra_create, "create an infrastructure",
     "Creates an empty infrastructure. Its networks take VLAN ids from the pool of\n"
     "--fabric F (default: the first fabric); its WANs take IPv4 blocks from --wan-pools.\n"
     "Also: --description TEXT, --zone Z (default: default)."},
    {"infra delete", "NAME", 1, 1, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_infra_delete,
     "delete an infrastructure and release everything it holds",
     "Deletes the infrastructure with both designs; its VLAN ids and WAN blocks return\n"
     "to their pools."},
    {"infra array add", "NAME ARRAY --count N", 2, 2,
     SERVER_OPTS | CLI_OPT_JSON | CLI_OPT_COUNT | CLI_OPT_PORTS | CLI_OPT_MIN_CPU | CLI_OPT_MIN_MEMORY |
	 CLI_OPT_MIN_DISK | CLI_OPT_IMAGE | CLI_OPT_USER_DATA | CLI_OPT_SSH_KEY,
     cli_cmd_infra_array_add, "stage a new instance array",
     "Stages an instance array of --count identical instances (default 1, up to 1024)\n"
     "with --ports ports each (default 2, named eth0, eth1, ...). Deploy binds each\n"
     "instance to a READY machine of the infrastructure's zone with an interface for\n"
     "every port connected and at least --min-cpu N CPUs, --min-memory GiB of memory\n"
     "and --min-disk GB of disk (default 0: anything). With --image NAME (and\n"
     "--user-data FILE, --ssh-key KEY...) deploy then deploys that image to every\n"
     "instance's machine that is ALLOCATED."},
    {"infra array set", "NAME ARRAY --count N", 2, 2,
     SERVER_OPTS | CLI_OPT_JSON | CLI_OPT_COUNT | CLI_OPT_PORTS | CLI_OPT_MIN_CPU | CLI_OPT_MIN_MEMORY |
	 CLI_OPT_MIN_DISK | CLI_OPT_IMAGE | CLI_OPT_USER_DATA | CLI_OPT_SSH_KEY,
     cli_cmd_infra_array_set, "stage a resize of an instance array",
     "Stages a new instance count (--count N), port count (--ports N) and/or what its\n"
     "machines must have (--min-cpu N, --min-memory GiB, --min-disk GB; for instances\n"
     "bound from then on). Fewer instances give the machines of the last ones back.\n"
     "--image NAME (\"\" for none), --user-data FILE and --ssh-key KEY (\"\" clears the\n"
     "keys) change the OS its machines get; DEPLOYED machines are not redeployed."},
    {"infra array remove", "NAME ARRAY", 2, 2, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_infra_array_remove,
     "stage the removal of an instance array", "Stages the removal of the array with its connections and drives."},
    {"infra network add", "NAME NET --type T", 2, 2, SERVER_OPTS | CLI_OPT_JSON | CLI_OPT_TYPE,
     cli_cmd_infra_network_add, "stage a new network",
     "Stages a network of --type lan (pure L2), wan (L2 with a gateway and addresses\n"
     "from the WAN pools) or san (deployed only while an array connected to it has\n"
     "drives)."},
    {"infra network remove", "NAME NET", 2, 2, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_infra_network_remove,
     "stage the removal of a network", "Stages the removal of the network and every connection to it."},
    {"infra connect", "NAME ARRAY[:PORT] NET", 3, 3, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_infra_connect,
     "stage connecting an array's port to a network",
     "Stages connecting PORT (eth0 when not given; eth1 or 1) of every instance of ARRAY\n"
     "to NET. Joining an existing network works the same way, also with a second port\n"
     "of the same array."},
    {"infra disconnect", "NAME ARRAY[:PORT] NET", 3, 3, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_infra_disconnect,
     "stage disconnecting an array's port from a network", "Stages the removal of one connection."},
    {"infra drive add", "NAME ARRAY --size GB", 2, 2, SERVER_OPTS | CLI_OPT_JSON | CLI_OPT_SIZE,
     cli_cmd_infra_drive_add, "stage a drive on every instance of an array",
     "Stages a drive of --size GB on each instance of ARRAY. A SAN network connected to\n"
     "the array is deployed only while drives are attached."},
    {"infra drive remove", "NAME ARRAY ID", 3, 3, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_infra_drive_remove,
     "stage the removal of a drive", "Stages the removal of drive ID (see 'ironrack infra show')."},
    {"infra subnet list", "NAME NET", 2, 2, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_infra_subnet_list,
     "list the IPv4 subnets routed to a deployed WAN", "Shows the WAN's primary and extra subnets."},
    {"infra subnet add", "NAME NET /LEN", 3, 3, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_infra_subnet_add,
     "order an extra subnet for a deployed WAN (e.g. for MetalLB)",
     "Allocates a /LEN from the infrastructure's WAN pools and routes it to the WAN now."},
    {"infra plan", "NAME", 1, 1, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_infra_plan,
     "show what deploying the staged design would do",
     "Lists the actions 'ironrack infra deploy' would apply (create, change, delete of\n"
     "networks, instance arrays and connections), the VLAN ids and WAN subnets it\n"
     "would allocate, grow or release, the machine each new instance would get (and\n"
     "those given back), and the WAN addresses that become the machines' links. Too\n"
     "few machines: the plan says what is missing (and deploy refuses). Changes nothing."},
    {"infra deploy", "NAME", 1, 1, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_infra_deploy,
     "apply the staged design in one transaction",
     "Turns the staged design into the deployed one in one transaction and prints the\n"
     "plan it applied: new instances are bound to machines (ALLOCATED to\n"
     "\"infrastructure NAME\"), removed ones give theirs back. Too few machines that\n"
     "meet an array's requirements: refused, nothing changes."},
    {"infra discard", "NAME", 1, 1, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_infra_discard, "drop the staged edits",
     "Makes the staged design the deployed one again."},
    {"infra history", "NAME", 1, 1, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_infra_history,
     "show past deploys and the plan each applied", "Shows the last 20 deploys, newest first."},
    /* the network model (region/cli/net_cmds.c): ACTION is list, show,
     * create, update or delete; fields as KEY=VALUE words or options */
    {"zones", "ACTION [NAME] [KEY=VALUE...]", 1, SIZE_MAX, CLI_NET_OPTS, cli_cmd_zones, "availability zones",
     "ironrack zones list | show NAME | create NAME [description=TEXT] |\n"
     "  update NAME name=NEW description=TEXT | delete NAME\n"
     "The 'default' zone can be neither deleted nor renamed. Deleting another zone moves\n"
     "its machines, devices and racks to 'default'."},
    {"fabrics", "ACTION [NAME] [KEY=VALUE...]", 1, SIZE_MAX, CLI_NET_OPTS, cli_cmd_fabrics, "fabrics",
     "ironrack fabrics list | show NAME | create [NAME] [description=TEXT] | update NAME KEY=VALUE... |\n"
     "  delete NAME\n"
     "Every fabric gets a default untagged VLAN (vid 0) when it is created."},
    {"spaces", "ACTION [NAME] [KEY=VALUE...]", 1, SIZE_MAX, CLI_NET_OPTS, cli_cmd_spaces, "spaces",
     "ironrack spaces list | show NAME | create NAME [description=TEXT] | update NAME KEY=VALUE... |\n"
     "  delete NAME\n"
     "A space is assigned per VLAN (ironrack vlans update ID space=NAME)."},
    {"vlans", "ACTION [ID] [KEY=VALUE...]", 1, SIZE_MAX, CLI_NET_OPTS, cli_cmd_vlans, "VLANs",
     "ironrack vlans list [fabric=F] | show ID | create --fabric F --vid N [name=..] [mtu=N] |\n"
     "  update ID KEY=VALUE... | delete ID\n"
     "Fields: name, mtu (552-65535), description, space, dhcp_on, primary_rack,\n"
     "secondary_rack, relay_vlan, external_dhcp, dhcp_ha_auto_down (seconds unheard before the\n"
     "region gives a DHCP HA partner-down by itself; empty = regiond.conf's, 0 = never).\n"
     "DHCP needs a primary rack and a dynamic range on a managed subnet of the VLAN."},
    {"subnets", "ACTION [CIDR] [KEY=VALUE...]", 1, SIZE_MAX, CLI_NET_OPTS, cli_cmd_subnets, "subnets",
     "ironrack subnets list [fabric=F] [vlan=ID] [space=S] [managed=BOOL] [family=4|6] |\n"
     "  show CIDR | create CIDR [--gateway A] [dns_servers=A,B] [managed=false] [--fabric F --vid N] |\n"
     "  update CIDR KEY=VALUE... | delete CIDR | scan CIDR\n"
     "Fields: name, vlan, gateway, dns_servers, description, managed, active_discovery,\n"
     "discovery_interval (s, or 30m, 3h, 1d), allow_proxy, allow_dns, domain, ntp_servers,\n"
     "dhcp_lease_time (s; empty: the default). A subnet with addresses in use\n"
     "is not deleted. scan: the rack serving the subnet's VLAN ARP-scans it now (IPv4);\n"
     "what answers shows in 'ironrack discoveries list'. active_discovery=on scans it\n"
     "every discovery_interval (default 3h)."},
    {"subnet", "ACTION CIDR [ARGS]", 2, SIZE_MAX, CLI_NET_OPTS, cli_cmd_subnet,
     "one subnet: details with utilisation, assign and release addresses",
     "ironrack subnet show CIDR                 details, utilisation, ranges, suggestions\n"
     "ironrack subnet allocate-ip CIDR [--ip A] [--hostname H] [--comment C] [--mode M]\n"
     "                [interface=ID | device=HOST | rack=ID rack_interface=IF]\n"
     "        without --ip: auto assign (managed: outside every range; unmanaged: inside\n"
     "        reserved ranges), avoiding the gateway, DNS servers, rack addresses and\n"
     "        addresses seen on the wire. Prints the address.\n"
     "ironrack subnet release-ip CIDR IP\n"
     "ironrack subnet next-free CIDR [pool=dhcp]  the address auto assign would pick\n"
     "ironrack subnet scan CIDR                 the serving rack ARP-scans it now"},
    {"ranges", "ACTION [ID] [KEY=VALUE...]", 1, SIZE_MAX, CLI_NET_OPTS, cli_cmd_ranges,
     "reserved and dynamic IP ranges",
     "ironrack ranges list [--subnet CIDR] [--type T] | show ID |\n"
     "  create --subnet CIDR --type reserved|dynamic --start A --end B [--comment C] [owner=O] |\n"
     "  update ID KEY=VALUE... | delete ID\n"
     "Ranges never overlap. Managed subnet: auto assign never picks inside a range and\n"
     "DHCP leases from dynamic ranges. Unmanaged: auto assign picks only inside reserved\n"
     "ranges."},
    {"routes", "ACTION [ID] [KEY=VALUE...]", 1, SIZE_MAX, CLI_NET_OPTS, cli_cmd_routes, "static routes",
     "ironrack routes list [source=CIDR] | show ID |\n"
     "  create source=CIDR destination=CIDR --gateway A [metric=N] | update ID KEY=VALUE... |\n"
     "  delete ID\n"
     "The gateway must be inside the source subnet."},
    {"ips", "ACTION [ID|IP] [KEY=VALUE...]", 1, SIZE_MAX, CLI_NET_OPTS, cli_cmd_ips, "assigned IP addresses",
     "ironrack ips list [--subnet CIDR] [--mode M] [owner_kind=K] [machine=H] [device=H] |\n"
     "  show ID|IP | update ID|IP hostname=H comment=C | delete ID|IP\n"
     "Addresses are assigned with 'ironrack subnet allocate-ip'; delete releases one."},
    /* before "machines": the first row whose words all match is taken */
    {"machines power-on", "HOST", 1, 1, CLI_POWER_BOOT_OPTS, cli_cmd_machines_power_on,
     "switch a machine on through its BMC",
     "Asks the region to switch HOST on; a rack that reaches the machine's BMC does it.\n"
     "Prints the action queued (its id and rack).\n"
     "  --wait                wait for the outcome and print it: \"node-3: power on: done\n"
     "                        (state on) in 5.2 s\"; exit status 1 when the action failed,\n"
     "                        needs a person (power_type=manual) or is still pending\n"
     "                        after --timeout\n"
     "  --timeout SECONDS     how long --wait waits (1-3600, default 120)\n"
     "  --boot pxe|disk       set the boot device first: for the next boot only, unless\n"
     "                        --boot-persistent; --boot-efi for a UEFI machine\n"
     "The BMC is set with 'ironrack machines update HOST power_type=... power_address=...'."},
    {"machines power-off", "HOST", 1, 1, CLI_POWER_ACTION_OPTS, cli_cmd_machines_power_off,
     "switch a machine off through its BMC",
     "Asks the region to switch HOST off. Prints the action queued;\n"
     "--wait [--timeout SECONDS] waits for the outcome as for 'machines power-on'."},
    {"machines power-cycle", "HOST", 1, 1, CLI_POWER_BOOT_OPTS, cli_cmd_machines_power_cycle,
     "switch a machine off and on again",
     "Asks the region to power-cycle HOST (a machine that is off is switched on).\n"
     "Options as for 'machines power-on': --wait [--timeout SECONDS], --boot pxe|disk\n"
     "[--boot-persistent] [--boot-efi]."},
    {"machines power-query", "HOST", 1, 1, CLI_POWER_ACTION_OPTS, cli_cmd_machines_power_query,
     "ask a machine's BMC for its power state now",
     "Asks the machine's BMC for its power state. With --wait [--timeout SECONDS] prints\n"
     "the state found (\"node-3: power query: done (state off) in 0.4 s\"); without, the\n"
     "action queued. 'machines power HOST' shows the last state known without asking."},
    {"machines power", "HOST", 1, 1, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_machines_power,
     "show a machine's power state, error, rack and last action",
     "Shows the power state last seen (racks poll it), when it was seen, the last error,\n"
     "the rack that reaches the BMC and the last power action with its outcome."},
    {"machines events", "HOST", 1, 1, SERVER_OPTS | CLI_OPT_JSON | CLI_OPT_LIMIT, cli_cmd_machines_events,
     "show what happened to a machine",
     "Lists the machine's events, oldest first: power actions requested and their\n"
     "outcomes, power states seen changing. --limit N (1-1000, default 100)."},
    /* the lifecycle (region/cli/machines.c), also before "machines" */
    {"machines list", "[--status S] [--zone Z]", 0, SIZE_MAX, CLI_MACHINES_LIST_OPTS, cli_cmd_machines_list,
     "list machines with their status, power and hardware",
     "Shows every machine (or those the filters match) as the region orders them:\n"
     "hostname, status (NEW, COMMISSIONING, READY, ...), power state, zone, CPUs, memory\n"
     "and storage (\"\xe2\x80\x94\" when not known yet: commissioning reads them).\n"
     "  --status S            only machines in status S, e.g. --status READY (also status=S)\n"
     "  --zone Z              only machines in zone Z (also zone=Z)\n"
     "  --hostname H          only the machine H (also hostname=H)\n"
     "  limit=N offset=N      a page of the list (the region's default: 100)\n"
     "--json prints the API's answer instead."},
    /* deploy and release (region/cli/machines_deploy.c) */
    {"machines deploy", "HOST --image NAME [--user-data FILE] [--ssh-key KEY]...", 1, 1, CLI_MACHINES_DEPLOY_OPTS,
     cli_cmd_machines_deploy, "write an OS image to an ALLOCATED machine's disk and boot it",
     "Asks the region to deploy HOST (ALLOCATED): it is powered on into the ephemeral\n"
     "environment, whose agent writes the image to its first disk with a cloud-init\n"
     "NoCloud seed (hostname, user-data, SSH keys, the network from IPAM), then it boots\n"
     "its disk and is DEPLOYED (docs/deploy.md). Prints the new status.\n"
     "  --image NAME          the image to write ('ironrack images list'); required\n"
     "  --user-data FILE      cloud-init user-data for the machine (\"-\": standard input;\n"
     "                        at most 64 KiB)\n"
     "  --ssh-key KEY         an authorized key line for the machine (again for more);\n"
     "                        user-data, if given, must then be #cloud-config\n"
     "  --wait                wait until the machine is no longer DEPLOYING and print its\n"
     "                        status: \"node-3: DEPLOYED\" (exit status 0), or e.g.\n"
     "                        \"node-3: FAILED_DEPLOYMENT (deploy failed at verify: ...)\"\n"
     "                        (exit status 1)\n"
     "  --timeout SECONDS     how long --wait waits (1-36000, default 1800); after it:\n"
     "                        exit status 1, the deploy goes on\n"
     "  --comment TEXT        why, recorded in the machine's event\n"
     "--json prints the machine as the region answered (after --wait: its last state)."},
    {"machines release", "HOST [--erase quick|full]", 1, 1, CLI_MACHINES_RELEASE_OPTS, cli_cmd_machines_release,
     "return a machine to READY, optionally erasing its disks",
     "Releases HOST (ALLOCATED, DEPLOYED or FAILED_DEPLOYMENT): its automatically\n"
     "assigned addresses are freed and its owner cleared, and it is powered off; it is\n"
     "READY once the power off is done (at once when nothing can switch it off).\n"
     "  --erase quick|full    first boot the ephemeral environment to erase every disk:\n"
     "                        quick zeroes the first and last MiB of each, full all of\n"
     "                        it; READY when the agent is done (BROKEN if it fails)\n"
     "  --wait                wait until the machine is no longer RELEASING and print its\n"
     "                        status (exit status 0 only for READY)\n"
     "  --timeout SECONDS     how long --wait waits (1-36000, default 1800)\n"
     "  --comment TEXT        why, recorded in the machine's event\n"
     "--json prints the machine as the region answered (after --wait: its last state)."},
    {"machines allocate", "[--zone Z] [--min-cpu N] [--min-memory GiB] [--min-disk GB] [--tags a,b]", 0, 0,
     CLI_MACHINES_ALLOCATE_OPTS, cli_cmd_machines_allocate, "take one READY machine that meets the options",
     "Asks the region for one READY machine that meets every option and makes it\n"
     "ALLOCATED to you (the API key's name). Of the machines that match, the smallest\n"
     "is taken (fewest CPUs, then memory, then disk), so large ones stay for requests\n"
     "that need them. Prints \"HOST: ALLOCATED (allocated to NAME)\".\n"
     "  --zone Z              only machines in zone Z\n"
     "  --min-cpu N           at least N CPUs\n"
     "  --min-memory GiB      at least this much memory, in GiB\n"
     "  --min-disk GB         at least this much disk, all disks together, in GB (10^9)\n"
     "  --tags a,b            every one of these tags (set them with\n"
     "                        'ironrack machines update HOST tags=a,b')\n"
     "  --comment TEXT        why, recorded in the machine's event\n"
     "No machine matches: exit status 1 and what was missing, e.g. \"no READY machine in\n"
     "zone rack-a with at least 8 CPUs: 3 READY machines there, the largest has 4 CPUs\".\n"
     "--json prints the machine as the region answered."},
    {"machines show", "HOST", 1, 1, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_machines_show,
     "show a machine: status, hardware, interfaces, events",
     "Shows HOST (a host name or id): its status with the reason and since when (and\n"
     "the deadline of a timed state), power, zone and architecture; the hardware the\n"
     "machine reported when it was last commissioned (system, CPUs, memory, disks);\n"
     "its interfaces with driver, speed, carrier and links (addresses on subnets); and\n"
     "its latest 20 events, oldest first ('ironrack machines events HOST' lists all).\n"
     "--json prints {\"machine\", \"interfaces\", \"links\", \"events\"} as the API gives them."},
    {"machines commission", "HOST [--comment TEXT]", 1, 1, CLI_MACHINES_COMMISSION_OPTS, cli_cmd_machines_commission,
     "read a machine's hardware (boot it into the ephemeral environment)",
     "Asks the region to commission HOST: it is powered on to boot over the network into\n"
     "the ephemeral environment, whose agent reports the hardware; then it is READY.\n"
     "Allowed from NEW, READY, FAILED_COMMISSIONING, FAILED_DEPLOYMENT and BROKEN.\n"
     "Prints the new status (\"node-3: COMMISSIONING\"; with manual power, what a person\n"
     "must do).\n"
     "  --wait                wait until the machine is no longer COMMISSIONING and print\n"
     "                        its status: \"node-3: READY\" (exit status 0), or e.g.\n"
     "                        \"node-3: FAILED_COMMISSIONING (why)\" (exit status 1)\n"
     "  --timeout SECONDS     how long --wait waits (1-36000, default 1800); after it:\n"
     "                        exit status 1, commissioning goes on\n"
     "  --comment TEXT        why, recorded in the machine's event\n"
     "--json prints the machine as the region answered (after --wait: its last state)."},
    {"machines abort", "HOST [--comment TEXT]", 1, 1, CLI_MACHINES_ACTION_OPTS, cli_cmd_machines_abort,
     "stop a machine's commissioning or deployment",
     "Stops what HOST is doing: COMMISSIONING goes back to the state before it,\n"
     "DEPLOYING to ALLOCATED. Prints the new status. --comment TEXT says why (recorded\n"
     "in the machine's event)."},
    {"machines mark-broken", "HOST [--comment TEXT]", 1, 1, CLI_MACHINES_ACTION_OPTS, cli_cmd_machines_mark_broken,
     "take a machine out of service (BROKEN)",
     "Marks HOST BROKEN, from any state: nothing allocates or deploys it until\n"
     "'ironrack machines mark-fixed' (or a commission). Prints the new status.\n"
     "--comment TEXT says why (recorded in the machine's event)."},
    {"machines mark-fixed", "HOST [--comment TEXT]", 1, 1, CLI_MACHINES_ACTION_OPTS, cli_cmd_machines_mark_fixed,
     "return a BROKEN machine to service (READY)",
     "Marks a BROKEN machine READY again. Prints the new status. --comment TEXT says\n"
     "what was done (recorded in the machine's event)."},
    {"machines", "ACTION [HOST] [KEY=VALUE...]", 1, SIZE_MAX, CLI_NET_OPTS, cli_cmd_machines, "machines",
     "ironrack machines list [--status S] [--zone Z] | show HOST | create HOST [--zone Z] [KEY=VALUE...] |\n"
     "  update HOST KEY=VALUE... | delete HOST\n"
     "Deleting a machine removes its interfaces and releases their addresses; a machine in\n"
     "use or mid-action is refused (the region names its status and what it allows).\n"
     "Lifecycle: ironrack machines commission|abort|mark-broken|mark-fixed|deploy|release\n"
     "HOST (each has its --help); docs/machines.md, \"States\", and docs/deploy.md.\n"
     "Power: ironrack machines power-on|power-off|power-cycle|power-query|power|events HOST\n"
     "(each has its --help). Power fields for create and update:\n"
     "  power_type=ipmi|redfish|wol|manual  power_address=BMC  power_user=USER\n"
     "  power_pass=PASSWORD, or power_pass=- to read it from the first line of standard\n"
     "  input (without echo on a terminal), keeping it out of shell history and the\n"
     "  process list; power_pass= clears it\n"
     "  power_NAME=VALUE for a driver parameter: ipmi: port, cipher_suite, privilege,\n"
     "  workarounds, ipmi_version; redfish: port, system, verify_tls, auth; wol: port,\n"
     "  mac, interface, broadcast (e.g. power_cipher_suite=17)\n"
     "'show' says whether a BMC password is set, never the password."},
    {"interfaces", "ACTION [ID] [KEY=VALUE...]", 1, SIZE_MAX, CLI_NET_OPTS, cli_cmd_interfaces,
     "machine interfaces and their links to subnets",
     "ironrack interfaces list [machine=H] | show ID | create machine=H name=eth0 mac=M [vlan=ID] |\n"
     "  update ID KEY=VALUE... | delete ID |\n"
     "  link ID subnet=CIDR [--mode auto|static|dhcp|unconfigured] [--ip A] | unlink ID LINK"},
    {"devices", "ACTION [HOST] [KEY=VALUE...]", 1, SIZE_MAX, CLI_NET_OPTS, cli_cmd_devices,
     "devices (hosts ironrack does not manage)",
     "ironrack devices list | show HOST | create HOST [--zone Z] | update HOST KEY=VALUE... |\n"
     "  delete HOST\n"
     "Give a device addresses with 'ironrack subnet allocate-ip CIDR device=HOST'."},
    {"dhcp-snippets", "ACTION [NAME] [KEY=VALUE...]", 1, SIZE_MAX, CLI_NET_OPTS, cli_cmd_dhcp_snippets,
     "extra DHCP options (snippets)",
     "ironrack dhcp-snippets list [--subnet CIDR] [enabled=BOOL] | show NAME |\n"
     "  create NAME code=N type=T value=V [--subnet CIDR | ip_range=ID | interface=ID]\n"
     "         [--description D] [enabled=false] | update NAME KEY=VALUE... | delete NAME\n"
     "Types: u8 u16 u32 i32 bool ip ips string hex routes. The value is checked and encoded\n"
     "as the rack encodes it; options the DHCP server sets itself (50-55, 57-59, 61, 82)\n"
     "are refused. No scope: global. subnet= (or ip_range=, interface=) with an empty\n"
     "value on update makes a snippet global."},
    {"neighbours", "ACTION [ID] [KEY=VALUE...]", 1, SIZE_MAX, CLI_NET_OPTS, cli_cmd_neighbours,
     "addresses seen on the wire",
     "ironrack neighbours list [--subnet CIDR] | show ID | create --ip A mac=M [rack=R] [interface=I]\n"
     "  [last_seen=RFC3339] | delete ID\n"
     "Auto assign avoids these addresses; when nothing else is free it offers the least\n"
     "recently seen one for a re-check."},
    /* discovery (region/cli/discoveries.c) */
    {"discoveries list", "", 0, 0, SERVER_OPTS | CLI_OPT_JSON | CLI_OPT_UNKNOWN, cli_cmd_discoveries_list,
     "list what racks see on the wire",
     "Shows one line per address and MAC racks have seen (ARP, mDNS): the name heard over\n"
     "mDNS, the subnet, the rack and interface, first and last seen, and what accounts for\n"
     "it (a machine's or device's interface, an assigned address, a DHCP lease) or \"no\".\n"
     "--unknown shows only those nothing accounts for."},
    {"discoveries clear", "", 0, 0, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_discoveries_clear, "forget every sighting",
     "Deletes every sighting racks reported; racks report what they see again."},
    {"discoveries claim", "IP --hostname NAME", 1, 1, SERVER_OPTS | CLI_OPT_JSON | CLI_OPT_HOSTNAME,
     cli_cmd_discoveries_claim, "make a device of a discovered address",
     "Creates device NAME with the MAC last seen at IP and gives it IP as a static address\n"
     "in the subnet that holds it, so IPAM never hands the address out."},
    {"discoveries events", "", 0, 0, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_discoveries_events, "what discovery raised",
     "Shows the newest events discovery raised: 'conflict' when an address of a managed\n"
     "subnet is seen with a new MAC (a possible address conflict)."},
    /* deployable OS images (region/cli/images.c) */
    {"images list", "", 0, 0, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_images_list, "list the deployable OS images",
     "Shows every image: name, architecture, format (raw, gzip, zstd), size, status\n"
     "(ready, or how far its upload is), the start of its SHA-256 and its description.\n"
     "--json prints the API's answer instead."},
    {"images show", "NAME", 1, 1, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_images_show, "show one image",
     "Shows the image NAME with its whole SHA-256 and the path racks serve it at\n"
     "(http://RACK:5248/images/NAME). --json prints the API's answer instead."},
    {"images add", "FILE --name NAME", 1, 1, CLI_IMAGES_ADD_OPTS, cli_cmd_images_add,
     "upload an OS image to the region (resumable)",
     "Computes FILE's size and SHA-256, creates the image NAME in the region and uploads\n"
     "FILE in chunks; the region checks the SHA-256 of the whole, and once it matches the\n"
     "image is ready and published to every rack. Prints the image as 'images list' does.\n"
     "An upload that was interrupted resumes where the region stopped when the same\n"
     "command is run again (same NAME, same file); an image of that name with another\n"
     "content is refused (delete it first).\n"
     "  --name NAME           the image's name: 1-63 of A-Z a-z 0-9 . _ + -\n"
     "  --arch ARCH           the architecture it is for (default amd64)\n"
     "  --format FORMAT       auto (default: gzip or zstd by the file's magic bytes, else\n"
     "                        raw), raw (a whole-disk image), gzip or zstd (a compressed\n"
     "                        raw image, decompressed while it is written to a disk)\n"
     "  --description TEXT    up to 255 bytes\n"
     "--json prints the image as the region answered."},
    {"images delete", "NAME", 1, 1, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_images_delete, "delete an image",
     "Deletes the image NAME and its file; racks stop serving it. Refused while a\n"
     "machine is being deployed with it (DEPLOYING)."},
    {"version", "", 0, 0, SERVER_OPTS, cli_cmd_version, "print the client's and the region's versions",
     "Prints this client's version and, if a region is configured and reachable, the\n"
     "region's."},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char options_help[] = "Options:\n"
				   "  --url URL      region URL (overrides IRONRACK_URL and the saved login)\n"
				   "  --key KEY      API key (overrides IRONRACK_KEY and the saved login)\n"
				   "  --ca FILE      region CA to verify an https:// region with (overrides\n"
				   "                 IRONRACK_CA and the CA pinned at login)\n"
				   "  --json         print the API's JSON answer\n"
				   "  --timeout MS   how long to wait for a rack (1-60000 ms); with --wait of\n"
				   "                 a power command or commission: seconds\n"
				   "  -h, --help     show help (also: ironrack help COMMAND)\n"
				   "  --version      same as 'ironrack version'\n";

/* Words of name that match words[0..n): the count if all of name matched,
 * 0 if not. *ret_group is set when the first word matched but not all:
 * words[0] names a group of commands ("racks"). */
static size_t name_match(const char *name, char **words, size_t n, bool *ret_group)
{
	size_t i = 0;
	const char *p = name;

	*ret_group = false;
	while (*p) {
		size_t len = strcspn(p, " ");
		if (i == n || strlen(words[i]) != len || strncmp(words[i], p, len) != 0) {
			*ret_group = i > 0;
			return 0;
		}
		i++;
		p += len;
		p += *p == ' ';
	}
	return i;
}

/* The command named by the first words; *ret_used words consumed. NULL
 * if none; *ret_group then says whether words name a group ("racks"). */
static const struct cli_command *command_find(char **words, size_t n, size_t *ret_used, bool *ret_group)
{
	*ret_group = false;
	for (size_t i = 0; i < N_COMMANDS; i++) {
		bool prefix;
		size_t used = name_match(commands[i].name, words, n, &prefix);
		if (used) {
			*ret_used = used;
			return &commands[i];
		}
		*ret_group |= prefix;
	}
	return NULL;
}

static void usage_print(FILE *out, const char *group)
{
	fprintf(out, "Usage: ironrack [--url URL] [--key KEY] [--ca FILE] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const struct cli_command *c = &commands[i];
		char line[128];
		if (group && strncmp(c->name, group, strlen(group)) != 0)
			continue;
		snprintf(line, sizeof(line), "%s%s%s", c->name, *c->usage_args ? " " : "", c->usage_args);
		fprintf(out, "  %-38s %s\n", line, c->summary);
	}
	fprintf(out, "  %-38s %s\n\n%s", "help [COMMAND]", "show help for a command", options_help);
	fprintf(out, "\nThe login is saved in $IRONRACK_CONFIG or ~/.config/ironrack/cli.conf; for an https://\n"
		     "region, the CA pinned at login next to it (cli-ca.pem).\n");
}

static void command_help_print(const struct cli_command *c)
{
	/* --timeout bounds a wait for a rack in ms, or --wait in seconds. */
	const char *timeout = !(c->opts & CLI_OPT_TIMEOUT) ? ""
			      : (c->opts & CLI_OPT_WAIT)   ? " [--wait [--timeout SECONDS]]"
							   : " [--timeout MS]";

	printf("Usage: ironrack %s%s%s%s%s%s%s%s\n\n%s\n", c->name, *c->usage_args ? " " : "", c->usage_args, timeout,
	       (c->opts & CLI_OPT_BOOT) ? " [--boot pxe|disk [--boot-persistent] [--boot-efi]]" : "",
	       (c->opts & CLI_OPT_LIMIT) ? " [--limit N]" : "", (c->opts & CLI_OPT_JSON) ? " [--json]" : "",
	       (c->opts & CLI_OPT_URL)	? " [--url URL] [--key KEY] [--ca FILE]"
	       : (c->opts & CLI_OPT_CA) ? " [--ca-fingerprint SHA256:...] [--ca FILE]"
					: "",
	       c->help);
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("error: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n\n", stderr);
	usage_print(stderr, NULL);
	return CLI_EXIT_USAGE;
}

/* `ironrack help WORDS...` and `ironrack WORDS... --help`. */
static int help_run(char **words, size_t n)
{
	size_t used;
	bool group;

	if (n == 0) {
		usage_print(stdout, NULL);
		return CLI_EXIT_OK;
	}
	const struct cli_command *c = command_find(words, n, &used, &group);
	if (c && used == n) {
		command_help_print(c);
		return CLI_EXIT_OK;
	}
	if (group && n == 1) {
		usage_print(stdout, words[0]);
		return CLI_EXIT_OK;
	}
	return usage_error("unknown command \"%s\"", words[0]);
}

static int command_check(const struct cli_command *c, const struct cli_args *a, size_t n_args)
{
	uint64_t extra = a->given & ~(c->opts | CLI_OPT_HELP);

	if (extra) {
		fprintf(stderr, "error: %s does not apply to 'ironrack %s'\n", cli_opt_name(extra), c->name);
		return CLI_EXIT_USAGE;
	}
	if (n_args < c->min_args || n_args > c->max_args) {
		fprintf(stderr, "error: usage: ironrack %s%s%s\n", c->name, *c->usage_args ? " " : "", c->usage_args);
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

static int cli_run(struct cli_args *a)
{
	struct cli cli = {.args = a};
	size_t used;
	bool group;

	if (a->n_words == 0) {
		if (a->given & CLI_OPT_VERSION) {
			a->given &= ~CLI_OPT_VERSION;
			a->words[a->n_words++] = "version";
		} else if (a->given & CLI_OPT_HELP) {
			return help_run(NULL, 0);
		} else {
			usage_print(stderr, NULL);
			return CLI_EXIT_USAGE;
		}
	}
	if (strcmp(a->words[0], "help") == 0)
		return help_run(a->words + 1, a->n_words - 1);
	const struct cli_command *c = command_find(a->words, a->n_words, &used, &group);
	if (!c && group && (a->given & CLI_OPT_HELP))
		return help_run(a->words, 1);
	if (!c && group) {
		if (a->n_words == 1)
			fprintf(stderr, "error: \"%s\" needs a subcommand\n\n", a->words[0]);
		else
			fprintf(stderr, "error: unknown command \"%s %s\"\n\n", a->words[0], a->words[1]);
		usage_print(stderr, a->words[0]);
		return CLI_EXIT_USAGE;
	}
	if (!c)
		return usage_error("unknown command \"%s\"", a->words[0]);
	if (a->given & CLI_OPT_HELP) {
		command_help_print(c);
		return CLI_EXIT_OK;
	}
	int rc = command_check(c, a, a->n_words - used);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli_conf_path(cli.conf_path, sizeof(cli.conf_path)) < 0) {
		fprintf(stderr, "error: cannot tell where the login is saved: set IRONRACK_CONFIG or HOME\n");
		return CLI_EXIT_FAIL;
	}
	return c->run(&cli, a->words + used, a->n_words - used);
}

int main(int argc, char **argv)
{
	struct cli_args args;
	char err[256];

	if (cli_args_parse(argc, argv, &args, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\nRun 'ironrack --help' for usage.\n", err);
		return CLI_EXIT_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "error: cannot initialise libcurl\n");
		cli_args_done(&args);
		return CLI_EXIT_FAIL;
	}
	int rc = cli_run(&args);
	curl_global_cleanup();
	cli_args_done(&args);
	return rc;
}
