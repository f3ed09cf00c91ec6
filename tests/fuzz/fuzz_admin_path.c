/*
 * fuzz_admin_path: how the admin API reads the ids of its paths
 * (/api/admin/users/<id>/<action>, /jobs/<id>/retry, ...) and what it
 * writes of a request into the audit trail: admin_split(), admin_job_id(),
 * ids_user_ok(), ids_ext_ok() and admin_ascii(), static in admin.c, which
 * this target includes.
 *
 * Input: the whole input (up to its first NUL) is a route's rest as
 * core/route.c hands it over (decoded, any byte).  Invariants:
 *  - admin_split() accepts exactly "<id>" and "<id>/<action>" with both
 *    parts non-empty, without '/', shorter than their buffers (checked
 *    with the buffers the handlers use), and gives those parts back;
 *  - admin_job_id() accepts exactly [1-9][0-9]* up to INT64_MAX and gives
 *    its value;
 *  - ids_user_ok() and ids_ext_ok() accept exactly what ids.h says;
 *  - admin_ascii() writes only printable ASCII, as many bytes as fit,
 *    keeping each printable byte where it was.
 */
#include "fuzz.h"

#include "app/admin.c"

/* Reference of ids.h: 1 to max bytes, each one of ok(). */
static int
ref_ids(const char *s, size_t max, int user)
{
	size_t	 i, n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (user ? !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-') :
		    (c <= 0x20 || c >= 0x7f))
			return 0;
	}
	return 1;
}

/* Reference of admin_job_id(): 1 with *v for a job id, else 0. */
static int
ref_job(const char *s, long long *v)
{
	size_t	 i, n = strlen(s);

	if (n == 0 || s[0] < '1' || s[0] > '9' || n > 19)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	if (n == 19 && strcmp(s, "9223372036854775807") > 0)
		return 0;
	*v = 0;
	for (i = 0; i < n; i++)
		*v = *v * 10 + (s[i] - '0');
	return 1;
}

/* Checks admin_split() on rest with buffers of idsz and actsz bytes. */
static void
check_split(const char *rest, size_t idsz, size_t actsz)
{
	char		 id[ADMIN_EVENT_ID_MAX + 1], action[ADMIN_ACTION_MAX];
	const char	*slash = strchr(rest, '/');
	size_t		 n1 = slash ? (size_t)(slash - rest) : strlen(rest);
	size_t		 n2 = slash ? strlen(slash + 1) : 0;
	int		 want;

	want = n1 > 0 && n1 < idsz && (slash == NULL || (n2 > 0 &&
	    n2 < actsz && strchr(slash + 1, '/') == NULL));
	FUZZ_ASSERT((admin_split(rest, id, idsz, action, actsz) == 0) == want);
	if (!want)
		return;
	FUZZ_ASSERT(strlen(id) == n1 && memcmp(id, rest, n1) == 0);
	FUZZ_ASSERT(slash == NULL ? action[0] == '\0' :
	    strcmp(action, slash + 1) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*s = fuzz_memdup(data, size);
	char		 out[64];
	long long	 v = 0, w = 0;
	size_t		 i, n;

	check_split(s, IDS_USER_MAX + 1, ADMIN_ACTION_MAX);
	check_split(s, ADMIN_EVENT_ID_MAX + 1, ADMIN_ACTION_MAX);
	check_split(s, ADMIN_SUB_ID_MAX + 1, ADMIN_ACTION_MAX);
	check_split(s, 24, ADMIN_ACTION_MAX);

	FUZZ_ASSERT((admin_job_id(s, &v) == 0) == ref_job(s, &w));
	if (ref_job(s, &w))
		FUZZ_ASSERT(v == w);
	FUZZ_ASSERT(ids_user_ok(s) == ref_ids(s, IDS_USER_MAX, 1));
	FUZZ_ASSERT(ids_ext_ok(s, ADMIN_EVENT_ID_MAX) ==
	    ref_ids(s, ADMIN_EVENT_ID_MAX, 0));

	admin_ascii(s, out, sizeof(out));
	n = strlen(s) < sizeof(out) - 1 ? strlen(s) : sizeof(out) - 1;
	FUZZ_ASSERT(strlen(out) == n);
	for (i = 0; i < n; i++) {
		FUZZ_ASSERT(out[i] >= 0x20 && out[i] <= 0x7e);
		if ((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] <= 0x7e)
			FUZZ_ASSERT(out[i] == s[i]);
	}
	admin_ascii(NULL, out, sizeof(out));
	FUZZ_ASSERT(out[0] == '\0');
	free(s);
	return 0;
}
