/* The ping command (a row of rack_commands[], rack/registry.c). */
#pragma once

#include "rack/session.h"

extern const struct rack_command rack_ping_command;
