/* The ping command: the region's round-trip check of a rack session. */
#include "rack/ping.h"

#include "common/util.h"

static void ping_run(struct rack *rack, const Ironrack__V1__RegionMessage *in)
{
	Ironrack__V1__Pong pong = IRONRACK__V1__PONG__INIT;
	Ironrack__V1__CommandResult res = IRONRACK__V1__COMMAND_RESULT__INIT;
	pong.rack_unix_ms = clock_real_ms();
	res.result_case = IRONRACK__V1__COMMAND_RESULT__RESULT_PONG;
	res.pong = &pong;
	rack_session_reply_result(rack, in->request_id, &res);
}

const struct rack_command rack_ping_command = {IRONRACK__V1__COMMAND__COMMAND_PING, ping_run};
