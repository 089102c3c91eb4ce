/* The ironrack release version, shared by the daemons and the CLI. */
#pragma once

#ifndef IRONRACK_VERSION
#define IRONRACK_VERSION "0.1.0"
#endif
