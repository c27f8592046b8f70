#!/usr/bin/env bash
# Soak: t_chaos's kill phase for 60 s. Sixteen readers in two containers over
# meminfo, cpuinfo, stat and uptime, every read checked whole and the
# container's own, while a random worker is SIGKILLed every 50 ms (about 1200
# kills): no failed, short or wrong read, none kept waiting past the request
# deadline + 100 ms, no host content, and afterwards the pool back to its size
# with no descriptor or shared memory chunk leaked.
#
# Not a t_*.sh: the normal suite skips it. Run it with
#   tests/run_integration.sh build soak_chaos
#   tests/run_integration.sh build-asan soak_chaos
# (SOAK_SECONDS, default 60; the runner's LXCFS_TEST_TIMEOUT, default 180 s,
# covers 60 s of kills plus the set-up under ASan.)
CHAOS_SECONDS=${SOAK_SECONDS:-60}
CHAOS_PHASES="kill"
# t_chaos.sh finds lib.sh next to $0, which is this file: same folder.
. "$(dirname "$0")/t_chaos.sh"
