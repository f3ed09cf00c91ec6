#include <locale.h>
#include <string.h>

#include "core/jsonx.h"

void
jsonx_thread_init(void)
{
	locale_t	 c;

	if ((c = newlocale(LC_ALL_MASK, "C", (locale_t)0)) != (locale_t)0)
		uselocale(c);
}

struct json_object *
jsonx_get(struct json_object *obj, const char *key)
{
	struct json_object	*v;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

struct json_object *
jsonx_path(struct json_object *obj, const char *path)
{
	char		 key[64];
	const char	*dot;
	size_t		 len;

	while (obj != NULL) {
		dot = strchr(path, '.');
		len = dot != NULL ? (size_t)(dot - path) : strlen(path);
		if (len == 0 || len >= sizeof(key))
			return NULL;
		memcpy(key, path, len);
		key[len] = '\0';
		obj = jsonx_get(obj, key);
		if (dot == NULL)
			return obj;
		path = dot + 1;
	}
	return NULL;
}

struct json_object *
jsonx_idx(struct json_object *obj, const char *path, size_t i)
{
	struct json_object *a = jsonx_path(obj, path);

	if (a == NULL || !json_object_is_type(a, json_type_array) ||
	    i >= json_object_array_length(a))
		return NULL;
	return json_object_array_get_idx(a, i);
}

const char *
jsonx_str(struct json_object *obj, const char *path)
{
	struct json_object *v = jsonx_path(obj, path);

	if (v == NULL || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

const char *
jsonx_id(struct json_object *obj, const char *path)
{
	struct json_object *v = jsonx_path(obj, path);

	if (v != NULL && json_object_is_type(v, json_type_object))
		return jsonx_str(v, "id");
	if (v == NULL || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int
jsonx_int(struct json_object *obj, const char *path, int64_t *out)
{
	struct json_object *v = jsonx_path(obj, path);

	if (v == NULL || !json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	return 0;
}

int
jsonx_bool(struct json_object *obj, const char *path, int def)
{
	struct json_object *v = jsonx_path(obj, path);

	if (v == NULL || !json_object_is_type(v, json_type_boolean))
		return def;
	return json_object_get_boolean(v) ? 1 : 0;
}

int
jsonx_add_str(struct json_object *obj, const char *key, const char *s)
{
	struct json_object *v = NULL;

	if (s != NULL && (v = json_object_new_string(s)) == NULL)
		return -1;
	if (json_object_object_add(obj, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

int
jsonx_add_int(struct json_object *obj, const char *key, int64_t v)
{
	struct json_object *o;

	if ((o = json_object_new_int64(v)) == NULL)
		return -1;
	if (json_object_object_add(obj, key, o) != 0) {
		json_object_put(o);
		return -1;
	}
	return 0;
}
