// SPDX-License-Identifier: GPL-2.0
/*
 * test_sync_step.c - where a sync step spends its CPU (sy_phase,
 * sy_step_done in daemon/sync_chan.c): the costliest step is kept with its
 * phases, which add up to its CPU; a cheaper one does not replace it; a
 * step over SYNC_SLOW_STEP_NS of CPU is counted. The test burns thread CPU
 * (CLOCK_THREAD_CPUTIME_ID), so a busy machine only makes it take longer:
 * the bounds are on CPU used, never on elapsed time.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/sync_int.h"
#include "daemon/util.h"

static struct ns_sync *s;

static void setup(void)
{
	s = calloc(1, sizeof(*s));
	cr_assert_not_null(s);
}

static void teardown(void)
{
	free(s);
}

TestSuite(sync_step, .init = setup, .fini = teardown);

#define MS 1000000ull

static volatile uint64_t sink;

/* Use ns of this thread's CPU. */
static void burn(uint64_t ns)
{
	uint64_t t0 = sy_cpu_now();

	while (sy_cpu_now() - t0 < ns)
		sink++;
}

static uint64_t ph_sum(void)
{
	uint64_t sum = 0;

	for (int i = 0; i < SYP_N; i++)
		sum += s->st.step_max_cpu_ph[i];
	return sum;
}

Test(sync_step, costliest_step_kept_with_its_phases)
{
	uint64_t start = ns_now(), cpu0 = sy_cpu_now();

	s->step_what = "replication walk";
	sy_phase(s, SYP_LOOKUP);
	burn(25 * MS);
	sy_phase(s, SYP_ENTRIES);
	burn(5 * MS);
	sy_step_done(s, start, cpu0, "timer");

	cr_assert_str_eq(s->st.step_max_cpu_what, "replication walk");
	cr_assert_geq(s->st.step_max_cpu_ns, 30 * MS);
	cr_assert_geq(s->st.step_max_cpu_ph[SYP_LOOKUP], 25 * MS);
	cr_assert_geq(s->st.step_max_cpu_ph[SYP_ENTRIES], 5 * MS);
	cr_assert_eq(s->st.step_max_cpu_ph[SYP_DELETES], 0, "no deletes in this step");
	cr_assert_eq(ph_sum(), s->st.step_max_cpu_ns, "the phases are the step's CPU: %llu of %llu",
		     (unsigned long long)ph_sum(), (unsigned long long)s->st.step_max_cpu_ns);
	cr_assert_eq(s->st.steps_over_cpu, 1, "30 ms of CPU is over %llu ms",
		     (unsigned long long)(SYNC_SLOW_STEP_NS / MS));

	/* A cheaper step in other phases leaves the record alone. */
	start = ns_now();
	cpu0 = sy_cpu_now();
	sy_phase(s, SYP_DELETES);
	burn(2 * MS);
	sy_step_done(s, start, cpu0, "continued step");
	cr_assert_str_eq(s->st.step_max_cpu_what, "replication walk");
	cr_assert_eq(s->st.step_max_cpu_ph[SYP_DELETES], 0);
	cr_assert_eq(s->st.steps_over_cpu, 1);
	cr_assert_eq(s->st.steps, 2);
}

Test(sync_step, a_new_record_replaces_the_phases_and_nothing_leaks_between_steps)
{
	uint64_t start = ns_now(), cpu0 = sy_cpu_now();

	sy_phase(s, SYP_INSTALL);
	burn(3 * MS);
	sy_step_done(s, start, cpu0, "connection event");
	cr_assert_str_eq(s->st.step_max_cpu_what, "connection event");
	cr_assert_geq(s->st.step_max_cpu_ph[SYP_INSTALL], 3 * MS);
	cr_assert_eq(s->st.steps_over_cpu, 0);

	/* CPU used between steps is in neither step. */
	burn(10 * MS);

	start = ns_now();
	cpu0 = sy_cpu_now();
	s->step_what = "stale sweep";
	sy_phase(s, SYP_SWEEP);
	burn(6 * MS);
	sy_step_done(s, start, cpu0, "timer");
	cr_assert_str_eq(s->st.step_max_cpu_what, "stale sweep");
	cr_assert_eq(s->st.step_max_cpu_ph[SYP_INSTALL], 0, "the earlier step's phase is gone");
	cr_assert_geq(s->st.step_max_cpu_ph[SYP_SWEEP], 6 * MS);
	cr_assert_lt(s->st.step_max_cpu_ns, 16 * MS, "the 10 ms between steps is not counted");
	cr_assert_eq(ph_sum(), s->st.step_max_cpu_ns);
}

/* Time in the redundancy handler (step_red_ns) is not charged to sync: when
 * it ran inside a phase, that phase gives it back, and the phases still add
 * up to the step's CPU. */
Test(sync_step, redundancy_time_inside_a_phase_is_not_the_steps)
{
	uint64_t start = ns_now(), cpu0 = sy_cpu_now();

	s->step_what = "receive/install";
	sy_phase(s, SYP_INSTALL);
	burn(12 * MS);
	s->step_red_ns = 5 * MS; /* as sync_recv.c adds after a takeover */
	sy_step_done(s, start, cpu0, "connection event");
	cr_assert_geq(s->st.step_max_cpu_ns, 7 * MS);
	cr_assert_lt(s->st.step_max_cpu_ns, 12 * MS, "the 5 ms of redundancy are not the step's");
	cr_assert_eq(ph_sum(), s->st.step_max_cpu_ns);
	cr_assert_eq(s->st.step_max_cpu_ph[SYP_INSTALL], s->st.step_max_cpu_ns,
		     "all of it was install: %llu of %llu",
		     (unsigned long long)s->st.step_max_cpu_ph[SYP_INSTALL],
		     (unsigned long long)s->st.step_max_cpu_ns);
}
