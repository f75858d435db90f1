/*
 * unit.h - the few lines every CUnit test program shares: run the suites
 * given, print failures, exit nonzero when any assertion failed.
 */
#ifndef PARLEY_UNIT_H
#define PARLEY_UNIT_H

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
};

/* Run tests (ending with a {NULL, NULL} entry) as one suite named name. */
static inline int
unit_run(const char *name, const struct unit_test *tests)
{
	CU_pSuite suite;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite(name, NULL, NULL);
	if (suite == NULL)
		return 1;
	for (; tests->name != NULL; tests++)
		if (CU_add_test(suite, tests->name, tests->fn) == NULL)
			return 1;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed == 0 ? 0 : 1;
}

#endif /* PARLEY_UNIT_H */
