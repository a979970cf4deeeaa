/* http_mini.c - buffers, JSON/form encoding, URLs and a small HTTP/1.1
 * client. Contracts are in include/http_mini.h. Nothing here exits. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_mini.h"

/* ---- growable buffer ---------------------------------------------- */

int
buf_grow(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > SIZE_MAX - b->len - 1)
		return -1;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (!(p = realloc(b->data, cap)))
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
buf_put(struct buf *b, const void *p, size_t n)
{
	if (buf_grow(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_put(b, s, strlen(s));
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_grow(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* ---- JSON and form encoding --------------------------------------- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

int
json_put_string(struct buf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run, k;
	char esc[8];

	if (buf_put(b, "\"", 1) < 0)
		return -1;
	while (i < n) {
		/* copy the longest run that needs no escaping in one go */
		for (run = i; run < n && s[run] >= 0x20 && s[run] < 0x80 &&
		     s[run] != '"' && s[run] != '\\'; run++)
			;
		if (run > i && buf_put(b, s + i, run - i) < 0)
			return -1;
		if ((i = run) >= n)
			break;
		if (s[i] >= 0x80) {
			if ((k = utf8_len(s + i, n - i)) == 0) {
				if (buf_put(b, "\xef\xbf\xbd", 3) < 0)
					return -1;
				i++;
			} else {
				if (buf_put(b, s + i, k) < 0)
					return -1;
				i += k;
			}
			continue;
		}
		switch (s[i]) {
		case '"': strcpy(esc, "\\\""); break;
		case '\\': strcpy(esc, "\\\\"); break;
		case '\b': strcpy(esc, "\\b"); break;
		case '\f': strcpy(esc, "\\f"); break;
		case '\n': strcpy(esc, "\\n"); break;
		case '\r': strcpy(esc, "\\r"); break;
		case '\t': strcpy(esc, "\\t"); break;
		default: snprintf(esc, sizeof esc, "\\u%04x", s[i]); break;
		}
		if (buf_puts(b, esc) < 0)
			return -1;
		i++;
	}
	return buf_put(b, "\"", 1);
}

int
form_put_escaped(struct buf *b, const char *str, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)str;
	char enc[3];
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
		    c == '*') {
			if (buf_put(b, &c, 1) < 0)
				return -1;
		} else if (c == ' ') {
			if (buf_put(b, "+", 1) < 0)
				return -1;
		} else {
			enc[0] = '%', enc[1] = hex[c >> 4], enc[2] = hex[c & 15];
			if (buf_put(b, enc, 3) < 0)
				return -1;
		}
	}
	return 0;
}
