#include <string.h>

#include "core/ids.h"

int
ids_user_ok(const char *s)
{
	size_t	 n;

	if (s == NULL || (n = strlen(s)) == 0 || n > IDS_USER_MAX)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

int
ids_ext_ok(const char *s, size_t max)
{
	size_t	 n;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return 0;
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s > '~')
			return 0;
	return 1;
}
