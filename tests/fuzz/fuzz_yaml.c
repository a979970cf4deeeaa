/* libFuzzer target: the YAML parser on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "yaml_mini.h"

static size_t
walk(const struct yaml_node *n, int depth)
{
	size_t i, c = 1;

	if (depth > 4 * YAML_MAX_DEPTH)
		return c;
	(void)yaml_resolve(n);
	if (n->tagname)
		c += strlen(n->tagname) > 0;
	for (i = 0; i < n->n && c < 100000; i++)
		c += walk(n->child[i], depth + 1);
	return c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct yaml_doc *d = yaml_parse((const char *)data, size, "fuzz", err, sizeof err);
	size_t i;

	if (!d)
		return 0;
	for (i = 0; i < yaml_count(d); i++) {
		walk(yaml_root(d, i), 0);
		(void)yaml_get(yaml_root(d, i), "pipeline");
	}
	yaml_free(d);
	return 0;
}
