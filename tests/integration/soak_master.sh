#!/usr/bin/env bash
# Soak: t_master_kill's 60 s form. Sixteen readers in two containers while the
# master is SIGKILLed twenty times in 60 s (one every 3 s): no failed, short
# or wrong read, none kept waiting over 2 s, no host content, and a new master
# serving within 2 s of each kill.
#
# Not a t_*.sh: the normal suite skips it. Run it with
#   tests/run_integration.sh build soak_master
# (SOAK_SECONDS, default 60; SOAK_MASTER_KILLS, default 20.)
MASTER_KILL_SECONDS=${SOAK_SECONDS:-60}
MASTER_KILLS=${SOAK_MASTER_KILLS:-20}
# t_master_kill.sh finds lib.sh next to $0, which is this file: same folder.
. "$(dirname "$0")/t_master_kill.sh"
