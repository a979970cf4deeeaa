/* libFuzzer target: the HTTP response parser (whole, and split in two at
 * a point taken from the input), the URL parser, and the input as a Link
 * field and a Retry-After value. */
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
	char err[256], *s, *next;
	size_t cut;

	memset(&r, 0, sizeof r);
	if (http_parse_response((const char *)data, size, 1, 4096, &r, err, sizeof err) == 1) {
		http_header(&r, "link");
		http_response_free(&r);
	}
	cut = size ? data[0] % (size + 1) : 0;
	memset(&r, 0, sizeof r);
	if (http_parse_response((const char *)data, cut, 0, 0, &r, err, sizeof err) == 1)
		http_response_free(&r);
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (url_parse(s, &u, err, sizeof err) == 0)
		url_free(&u);
	if (http_link_next(s, "https://h.example/api/v3/x?page=1", &next, err, sizeof err) == 1)
		free(next);
	http_retry_after(s, 0);
	free(s);
	return 0;
}
