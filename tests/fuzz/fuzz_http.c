/* libFuzzer target: the HTTP response parser (whole, and split in two at
 * a point taken from the input) and the URL parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_mini.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_response r;
	struct url u;
	char err[256], *s;
	size_t cut;

	memset(&r, 0, sizeof r);
	if (http_parse_response((const char *)data, size, 1, &r, err, sizeof err) == 1)
		buf_free(&r.body);
	cut = size ? data[0] % (size + 1) : 0;
	memset(&r, 0, sizeof r);
	if (http_parse_response((const char *)data, cut, 0, &r, err, sizeof err) == 1)
		buf_free(&r.body);
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (url_parse(s, &u, err, sizeof err) == 0)
		url_free(&u);
	free(s);
	return 0;
}
