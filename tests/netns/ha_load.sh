#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# ha_load.sh - the HA pair holds under load (issue 10): the pair of
# test_failover.sh with 1,000,000 replicated sessions, run for 120 s with a
# CPU hog (stress-ng) on every core and the sync link up: no role change on
# either box, no heartbeat later than half the dead interval (500 ms dead
# interval, 100 ms heartbeats); then, under the same load, a hard failure of
# the primary keeps every long-lived flow (100 TCP + 10 UDP, 40 young UDP
# flows opened just before the failure): no reset, every TCP byte back, no
# UDP flow rebound. The aging sweep runs over the million sessions every
# 500 ms all along (in-kernel engine: run-all.sh sets it).
#
# Environment: NSR_LOAD_SESSIONS (default 1000000), NSR_LOAD_SOAK_S (default
# 120) for a shorter run by hand.
set -u
n=${NSR_LOAD_SESSIONS:-1000000}
export NSR_PREFIX=nsrl
export NSR_PHASES=hard
export NSR_EXTRA=$n
export NSR_SOAK_S=${NSR_LOAD_SOAK_S:-120}
export NSR_MAX_SESSIONS=$((n * 2 + 65536))
exec bash "$(dirname "$0")/test_failover.sh"
