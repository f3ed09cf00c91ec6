#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "domain/money.h"
#include "domain/rating.h"

/*
 * The worked examples of docs/BILLING.md, run through rating_calc(): each
 * "```json example" block there states a period, its tier stretches, the
 * usage and the lines the policy gives, computed by hand in the text.
 */
#define DOC	"docs/BILLING.md"

/* The tiers' allowances as the price list states them (docs/BILLING.md). */
static const struct {
	const char	*name;
	int64_t		 voice, sms;
} tiers[] = {
	{ "ai_buddy", 0, 0 },
	{ "ai_secretary", 100, 100 },
	{ "ai_project_manager", 500, 500 },
	{ "ai_cto", MONEY_UNLIMITED, MONEY_UNLIMITED },
};

/* Reads the whole of path into a NUL-terminated buffer (caller frees). */
static char *
slurp(const char *path)
{
	FILE	*f = fopen(path, "r");
	char	*buf;
	long	 n;

	ck_assert_msg(f != NULL, "cannot open %s (run from the checkout)",
	    path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static int64_t
geti(struct json_object *o, const char *k)
{
	struct json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, k, &v), "no %s", k);
	return json_object_get_int64(v);
}

/* Runs one example; returns its name for messages. */
static void
run_example(struct json_object *ex)
{
	struct rating_tier_at	 h[8];
	struct rating_stretch	 st[RATING_STRETCHES_MAX];
	struct rating_use	*u;
	struct rating_calc	 r;
	struct json_object	*per, *ts, *calls, *sms, *exp, *v;
	const char		*name;
	int64_t			 s, e, ncalls, nsms, i;
	size_t			 nh, j, k, nst, nu = 0;

	json_object_object_get_ex(ex, "name", &v);
	name = json_object_get_string(v);
	json_object_object_get_ex(ex, "period", &per);
	s = json_object_get_int64(json_object_array_get_idx(per, 0));
	e = json_object_get_int64(json_object_array_get_idx(per, 1));
	json_object_object_get_ex(ex, "tiers", &ts);
	nh = json_object_array_length(ts);
	ck_assert_uint_le(nh, 8);
	for (j = 0; j < nh; j++) {
		struct json_object *t = json_object_array_get_idx(ts, j);
		const char *tn = json_object_get_string(
		    json_object_array_get_idx(t, 2));

		memset(&h[j], 0, sizeof(h[j]));
		h[j].at = json_object_get_int64(json_object_array_get_idx(t,
		    0));
		for (k = 0; k < sizeof(tiers) / sizeof(tiers[0]); k++)
			if (strcmp(tiers[k].name, tn) == 0) {
				h[j].voice_included = tiers[k].voice;
				h[j].sms_included = tiers[k].sms;
			}
		snprintf(h[j].tier, sizeof(h[j].tier), "%s", tn);
	}
	nst = rating_stretches(h, nh, s, e, st, RATING_STRETCHES_MAX);
	json_object_object_get_ex(ex, "calls", &calls);
	json_object_object_get_ex(ex, "sms", &sms);
	ncalls = geti(calls, "count");
	nsms = geti(sms, "count");
	u = calloc((size_t)(ncalls + nsms), sizeof(*u));
	ck_assert_ptr_nonnull(u);
	/* Usage spread over the period's first stretch of paid time. */
	for (i = 0; i < ncalls; i++) {
		u[nu].at = s + i % (st[0].to - s);
		u[nu].voice = 1;
		u[nu++].quantity = geti(calls, "seconds");
	}
	for (i = 0; i < nsms; i++) {
		u[nu].at = s + i % (st[0].to - s);
		u[nu++].quantity = geti(sms, "segments");
	}
	json_object_object_get_ex(ex, "phone", &v);
	ck_assert_int_eq(rating_calc(s, e, st, nst, u, nu,
	    json_object_get_boolean(v), &r), XERR_OK);
	json_object_object_get_ex(ex, "expect", &exp);
	json_object_object_get_ex(exp, "voice", &v);
	ck_assert_msg(r.voice.over == json_object_get_int64(
	    json_object_array_get_idx(v, 0)) && r.voice.cents ==
	    json_object_get_int64(json_object_array_get_idx(v, 1)),
	    "%s: voice %lld over, %lld cents", name, (long long)r.voice.over,
	    (long long)r.voice.cents);
	json_object_object_get_ex(exp, "sms", &v);
	ck_assert_msg(r.sms.over == json_object_get_int64(
	    json_object_array_get_idx(v, 0)) && r.sms.cents ==
	    json_object_get_int64(json_object_array_get_idx(v, 1)),
	    "%s: sms %lld over, %lld cents", name, (long long)r.sms.over,
	    (long long)r.sms.cents);
	ck_assert_msg(r.phone_cents == geti(exp, "phone"), "%s: phone %lld",
	    name, (long long)r.phone_cents);
	free(u);
}

START_TEST(doc_examples)
{
	char		*doc = slurp(DOC), *p = doc, *end;
	const char	*tag = "```json example\n";
	int		 n = 0;

	while ((p = strstr(p, tag)) != NULL) {
		struct json_object *ex;

		p += strlen(tag);
		ck_assert_ptr_nonnull(end = strstr(p, "```"));
		*end = '\0';
		ex = json_tokener_parse(p);
		ck_assert_msg(ex != NULL, "example %d of %s is not JSON", n + 1,
		    DOC);
		run_example(ex);
		json_object_put(ex);
		n++;
		p = end + 3;
	}
	ck_assert_int_ge(n, 6);
	free(doc);
}
END_TEST

/* The tier at a moment: the latest change at or before it, else the first. */
START_TEST(stretches)
{
	struct rating_tier_at h[3] = {
		{ 100, 10, 10, "a" }, { 200, 20, 20, "b" }, { 300, 30, 30, "c" }
	};
	struct rating_stretch st[8];
	size_t	 n;

	n = rating_stretches(h, 3, 0, 1000, st, 8);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(st[0].from, 0);
	ck_assert_int_eq(st[0].to, 200);
	ck_assert_str_eq(st[0].tier, "a");
	ck_assert_int_eq(st[1].from, 200);
	ck_assert_int_eq(st[1].to, 300);
	ck_assert_int_eq(st[2].to, 1000);
	ck_assert_str_eq(st[2].tier, "c");
	/* A period after every change: the last tier only. */
	n = rating_stretches(h, 3, 400, 500, st, 8);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(st[0].tier, "c");
	/* A change exactly at the start counts from the start. */
	n = rating_stretches(h, 3, 200, 250, st, 8);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(st[0].tier, "b");
	/* A change exactly at the end is not in the period. */
	n = rating_stretches(h, 3, 150, 200, st, 8);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(st[0].tier, "a");
	ck_assert_uint_eq(rating_stretches(h, 0, 0, 10, st, 8), 0);
	ck_assert_uint_eq(rating_stretches(h, 3, 10, 10, st, 8), 0);
}
END_TEST

/*
 * Every subscription event writes a history entry: entries that change
 * nothing extend the stretch in force, however many; a period that would
 * need more stretches than there is room for says so, never a part.
 */
START_TEST(stretches_many_entries)
{
	struct rating_tier_at h[200];
	struct rating_stretch st[RATING_STRETCHES_MAX];
	size_t	 i, n;

	for (i = 0; i < 200; i++) {
		h[i].at = (int64_t)i * 60;
		h[i].voice_included = i < 150 ? 100 : 500;
		h[i].sms_included = i < 150 ? 100 : 500;
		snprintf(h[i].tier, sizeof(h[i].tier), "%s", i < 150 ?
		    "ai_secretary" : "ai_project_manager");
	}
	n = rating_stretches(h, 200, 0, 2592000, st, RATING_STRETCHES_MAX);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(st[0].from, 0);
	ck_assert_int_eq(st[0].to, 150 * 60);
	ck_assert_str_eq(st[0].tier, "ai_secretary");
	ck_assert_int_eq(st[1].from, 150 * 60);
	ck_assert_int_eq(st[1].to, 2592000);
	/* Alternating tiers: 200 stretches needed, 64 room. */
	for (i = 0; i < 200; i++)
		snprintf(h[i].tier, sizeof(h[i].tier), "%s", i % 2 ?
		    "ai_secretary" : "ai_project_manager");
	n = rating_stretches(h, 200, 0, 2592000, st, RATING_STRETCHES_MAX);
	ck_assert_uint_eq(n, RATING_STRETCHES_MAX + 1);
}
END_TEST

/* Unlimited stretches: usage in them is free, they add no allowance. */
START_TEST(unlimited_stretch)
{
	struct rating_stretch st[2] = {
		{ 0, 50, 100, 100, "ai_secretary" },
		{ 50, 100, MONEY_UNLIMITED, MONEY_UNLIMITED, "ai_cto" },
	};
	struct rating_use u[3] = {
		{ 10, 60 * 70, 1 },	/* 70 min while secretary */
		{ 60, 60 * 500, 1 },	/* free */
		{ 70, 300, 0 },		/* free */
	};
	struct rating_calc r;

	ck_assert_int_eq(rating_calc(0, 100, st, 2, u, 3, 0, &r), XERR_OK);
	ck_assert_int_eq(r.voice.allowance, 50);
	ck_assert_int_eq(r.voice.units, 70);
	ck_assert_int_eq(r.voice.over, 20);
	ck_assert_int_eq(r.voice.cents, 26);
	ck_assert_int_eq(r.sms.units, 0);
	ck_assert_int_eq(r.phone_cents, 0);
	ck_assert_int_eq(rating_calc(5, 5, st, 2, u, 3, 0, &r), XERR_BADREQ);
}
END_TEST

static Suite *
rating_suite(void)
{
	Suite	*s = suite_create("rating");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, doc_examples);
	tcase_add_test(tc, stretches);
	tcase_add_test(tc, stretches_many_entries);
	tcase_add_test(tc, unlimited_stretch);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(rating_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
