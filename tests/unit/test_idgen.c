/*
 * test_idgen.c - conversation IDs: form, randomness, group extraction, and
 * the validator's refusals.
 */
#include "config.h"

#include <string.h>

#include "idgen.h"
#include "parley.h"
#include "unit.h"

static void
test_form(void)
{
	char id[IDGEN_ID_MAX];
	char group[IDGEN_GROUP_MAX + 1];

	CU_ASSERT_EQUAL(idgen_make("n1", id), 0);
	CU_ASSERT_EQUAL(strlen(id), 2 + 1 + IDGEN_RANDOM_CHARS);
	CU_ASSERT_EQUAL(strncmp(id, "n1.", 3), 0);
	CU_ASSERT_TRUE(idgen_valid(id));
	CU_ASSERT_EQUAL(idgen_group(id, group, sizeof group), 0);
	CU_ASSERT_STRING_EQUAL(group, "n1");
	/* base32 of 128 bits: the last character carries 3 bits, padded with zeros. */
	CU_ASSERT_PTR_NOT_NULL(strchr("aeimquy4", id[strlen(id) - 1]));
}

static void
test_member(void)
{
	char a[IDGEN_ID_MAX], b[IDGEN_ID_MAX], c[IDGEN_ID_MAX];
	char sess[IDGEN_SESSION_MAX], group[IDGEN_GROUP_MAX + 1];

	CU_ASSERT_EQUAL(idgen_make("n1", a), 0);
	CU_ASSERT_FALSE(idgen_joined(a));
	CU_ASSERT_EQUAL(idgen_session(a, sess, sizeof sess), 0);
	CU_ASSERT_STRING_EQUAL(sess, a);
	CU_ASSERT_EQUAL(idgen_make_member(a, b), 0);
	CU_ASSERT_TRUE(idgen_valid(b));
	CU_ASSERT_TRUE(idgen_joined(b));
	CU_ASSERT_EQUAL(strlen(b), strlen(a) + 1 + IDGEN_RANDOM_CHARS);
	CU_ASSERT_EQUAL(strncmp(b, a, strlen(a)), 0);
	CU_ASSERT_EQUAL(idgen_session(b, sess, sizeof sess), 0);
	CU_ASSERT_STRING_EQUAL(sess, a);
	CU_ASSERT_EQUAL(idgen_group(b, group, sizeof group), 0);
	CU_ASSERT_STRING_EQUAL(group, "n1");
	/* Joining a member joins its session: IDs never grow a third part. */
	CU_ASSERT_EQUAL(idgen_make_member(b, c), 0);
	CU_ASSERT_EQUAL(strlen(c), strlen(b));
	CU_ASSERT_EQUAL(idgen_session(c, sess, sizeof sess), 0);
	CU_ASSERT_STRING_EQUAL(sess, a);
	CU_ASSERT_STRING_NOT_EQUAL(b, c);
	CU_ASSERT_EQUAL(idgen_session(b, sess, strlen(a)), PARLEY_EINVAL);
	idgen_session_key(b, sess);
	CU_ASSERT_STRING_EQUAL(sess, a);
	idgen_session_key(a, sess);
	CU_ASSERT_STRING_EQUAL(sess, a);
	idgen_session_key("conv-1", sess);
	CU_ASSERT_STRING_EQUAL(sess, "conv-1");
	CU_ASSERT_EQUAL(idgen_make_member("n1.short", c), PARLEY_EINVAL);
	CU_ASSERT_STRING_EQUAL(c, "");
	CU_ASSERT_FALSE(idgen_valid("n1.abcdefghijklmnopqrstuvwxyz."));
	CU_ASSERT_FALSE(idgen_valid("n1.abcdefghijklmnopqrstuvwxyz.abcdefghijklmnopqrstuvwxy"));
	CU_ASSERT_FALSE(idgen_valid("n1.abcdefghijklmnopqrstuvwxyz.abcdefghijklmnopqrstuvwxyza"));
	CU_ASSERT_FALSE(idgen_valid("n1.abcdefghijklmnopqrstuvwxyz.abcdefghijklmnopqrstuvwxyz.a"));
	CU_ASSERT_FALSE(idgen_valid("n1.abcdefghijklmnopqrstuvwxyz..bcdefghijklmnopqrstuvwxyz"));
	CU_ASSERT_TRUE(idgen_valid("n1.abcdefghijklmnopqrstuvwxyz.abcdefghijklmnopqrstuvwxyz"));
}

static void
test_unique(void)
{
	char ids[200][IDGEN_ID_MAX];
	int i, j, same = 0;

	for (i = 0; i < 200; i++)
		CU_ASSERT_EQUAL(idgen_make("shop-7", ids[i]), 0);
	for (i = 0; i < 200; i++)
		for (j = i + 1; j < 200; j++)
			same += strcmp(ids[i], ids[j]) == 0;
	CU_ASSERT_EQUAL(same, 0);
}

static void
test_bad_groups(void)
{
	char id[IDGEN_ID_MAX];
	char long_group[IDGEN_GROUP_MAX + 2];

	memset(long_group, 'a', sizeof long_group - 1);
	long_group[sizeof long_group - 1] = '\0';
	CU_ASSERT_EQUAL(idgen_make("", id), PARLEY_EINVAL);
	CU_ASSERT_STRING_EQUAL(id, "");
	CU_ASSERT_EQUAL(idgen_make("N1", id), PARLEY_EINVAL);
	CU_ASSERT_EQUAL(idgen_make("-a", id), PARLEY_EINVAL);
	CU_ASSERT_EQUAL(idgen_make("a.b", id), PARLEY_EINVAL);
	CU_ASSERT_EQUAL(idgen_make(long_group, id), PARLEY_EINVAL);
	long_group[IDGEN_GROUP_MAX] = '\0';
	CU_ASSERT_EQUAL(idgen_make(long_group, id), 0);
	CU_ASSERT_TRUE(idgen_valid(id));
}

static void
test_validator(void)
{
	char group[4];

	CU_ASSERT_FALSE(idgen_valid(NULL));
	CU_ASSERT_FALSE(idgen_valid(""));
	CU_ASSERT_FALSE(idgen_valid("n1"));
	CU_ASSERT_FALSE(idgen_valid("n1."));
	CU_ASSERT_FALSE(idgen_valid(".abcdefghijklmnopqrstuvwxyz"));
	CU_ASSERT_FALSE(idgen_valid("n1.abcdefghijklmnopqrstuvwxy"));    /* 25 characters */
	CU_ASSERT_FALSE(idgen_valid("n1.abcdefghijklmnopqrstuvwxyza"));  /* 27 */
	CU_ASSERT_FALSE(idgen_valid("n1.abcdefghijklmnopqrstuvwx1z"));   /* 1 is not base32 */
	CU_ASSERT_FALSE(idgen_valid("n1.ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
	CU_ASSERT_FALSE(idgen_valid("n1.abcdefghijklm<opqrstuvwxyz"));
	CU_ASSERT_TRUE(idgen_valid("n1.abcdefghijklmnopqrstuvwxyz"));
	CU_ASSERT_EQUAL(idgen_group("n1.abcdefghijklmnopqrstuvwxyz", group, 2), PARLEY_EINVAL);
	CU_ASSERT_EQUAL(idgen_group("n1.abcdefghijklmnopqrstuvwxyz", group, 3), 0);
	CU_ASSERT_EQUAL(idgen_group("n1.bad", group, sizeof group), PARLEY_EINVAL);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "an ID has the group, a dot and 26 base32 characters", test_form },
		{ "a joined ID is its session, a dot and 26 more characters", test_member },
		{ "200 IDs are all different", test_unique },
		{ "invalid groups are refused", test_bad_groups },
		{ "the validator refuses what is not an ID", test_validator },
		{ NULL, NULL }
	};

	return unit_run("idgen", tests);
}
