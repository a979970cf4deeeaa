/* unit_http.c - pure functions of http_mini.c: buffers, encoders, URL
 * parsing, the response parser (including a small mutation fuzz), header
 * fields, Link rel="next" and Retry-After. */
#include <stdlib.h>
#include <string.h>

#include "http_mini.h"
#include "unit.h"

static char err[256];

static const char *
json(const char *s, size_t n)
{
	static struct buf b;

	buf_free(&b);
	if (json_put_string(&b, s, n) < 0)
		return "(oom)";
	return b.data;
}

static const char *
form(const char *s)
{
	static struct buf b;

	buf_free(&b);
	if (form_put_escaped(&b, s, strlen(s)) < 0 || buf_put(&b, "", 0) < 0)
		return "(oom)";
	return b.data;
}

static void
test_buf(void)
{
	struct buf b = { 0 };
	int i, ok = 1;

	CHECK("buf: empty", b.data == NULL && b.len == 0);
	CHECK("buf: put", buf_put(&b, "ab", 2) == 0 && b.len == 2);
	CHECK_STR("buf: NUL-terminated", b.data, "ab");
	CHECK("buf: puts", buf_puts(&b, "cd") == 0);
	CHECK("buf: printf", buf_printf(&b, "-%d-%s", 42, "x") == 0);
	CHECK_STR("buf: contents", b.data, "abcd-42-x");
	CHECK("buf: put 0 bytes", buf_put(&b, NULL, 0) == 0 && b.len == 9);
	for (i = 0; i < 10000; i++)
		ok &= buf_put(&b, "0123456789", 10) == 0;
	CHECK("buf: grows", ok && b.len == 100009 && b.cap > b.len && b.data[b.len] == '\0');
	CHECK("buf: overflow refused", buf_grow(&b, (size_t)-1) == -1);
	buf_free(&b);
	CHECK("buf: free resets", b.data == NULL && b.len == 0 && b.cap == 0);
}

static void
test_json(void)
{
	CHECK_STR("json: plain", json("abc", 3), "\"abc\"");
	CHECK_STR("json: empty", json("", 0), "\"\"");
	CHECK_STR("json: quote and backslash", json("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
	CHECK_STR("json: named escapes", json("\b\f\n\r\t", 5), "\"\\b\\f\\n\\r\\t\"");
	CHECK_STR("json: other controls", json("\x01\x1f", 2), "\"\\u0001\\u001f\"");
	CHECK_STR("json: NUL inside", json("a\0b", 3), "\"a\\u0000b\"");
	CHECK_STR("json: DEL kept", json("\x7f", 1), "\"\x7f\"");
	CHECK_STR("json: slash kept", json("a/b", 3), "\"a/b\"");
	CHECK_STR("json: valid UTF-8 kept", json("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9),
		"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	CHECK_STR("json: stray byte",
		json("a\xff"
		     "b",
			3),
		"\"a\xef\xbf\xbd"
		"b\"");
	CHECK_STR("json: lone continuation", json("\x80", 1), "\"\xef\xbf\xbd\"");
	CHECK_STR("json: truncated sequence", json("\xe2\x82", 2), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	CHECK_STR("json: overlong", json("\xc0\xaf", 2), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	CHECK_STR("json: overlong 3-byte", json("\xe0\x80\xaf", 3),
		"\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	CHECK_STR("json: surrogate", json("\xed\xa0\x80", 3),
		"\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	CHECK_STR("json: past U+10FFFF", json("\xf4\x90\x80\x80", 4),
		"\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	CHECK_STR("json: U+10FFFF kept", json("\xf4\x8f\xbf\xbf", 4), "\"\xf4\x8f\xbf\xbf\"");
	CHECK_STR("json: length respected", json("abcdef", 3), "\"abc\"");
}

static void
test_form(void)
{
	CHECK_STR("form: unreserved", form("aZ09-_.*"), "aZ09-_.*");
	CHECK_STR("form: space is plus", form("a b"), "a+b");
	CHECK_STR("form: reserved", form("&=+/?#%~"), "%26%3D%2B%2F%3F%23%25%7E");
	CHECK_STR("form: UTF-8 bytes", form("\xc3\xa9"), "%C3%A9");
	CHECK_STR("form: newline", form("a\nb"), "a%0Ab");
	CHECK_STR("form: JSON", form("{\"t\":\"x y\"}"), "%7B%22t%22%3A%22x+y%22%7D");
}

static void
url_ok(const char *name, const char *s, int https, const char *host, const char *port,
	const char *path)
{
	struct url u;
	char n[128];

	snprintf(n, sizeof n, "url %s: parses", name);
	if (url_parse(s, &u, err, sizeof err) < 0) {
		CHECK_STR(n, err, "(success)");
		return;
	}
	CHECK(n, u.https == https);
	snprintf(n, sizeof n, "url %s: host", name);
	CHECK_STR(n, u.host, host);
	snprintf(n, sizeof n, "url %s: port", name);
	CHECK_STR(n, u.port, port);
	snprintf(n, sizeof n, "url %s: path", name);
	CHECK_STR(n, u.path, path);
	url_free(&u);
	CHECK("url: free resets", u.host == NULL && u.path == NULL);
}

/* Rejected, with a reason that does not quote the secret part. */
static void
url_bad(const char *name, const char *s, const char *secret)
{
	struct url u;
	char n[128];
	int r;

	err[0] = '\0';
	r = url_parse(s, &u, err, sizeof err);
	snprintf(n, sizeof n, "url %s: rejected", name);
	CHECK(n, r == -1 && err[0] != '\0' && u.host == NULL && u.path == NULL);
	if (r == 0)
		url_free(&u);
	if (secret) {
		snprintf(n, sizeof n, "url %s: reason hides secret", name);
		CHECK(n, strstr(err, secret) == NULL);
	}
}

static void
test_url(void)
{
	url_ok("plain", "http://example.com", 0, "example.com", "80", "/");
	url_ok("https", "https://hooks.example.com/services/T/B/x", 1, "hooks.example.com", "443",
		"/services/T/B/x");
	url_ok("port and query", "http://h:8080/a/b?x=1&y=2", 0, "h", "8080", "/a/b?x=1&y=2");
	url_ok("query only", "http://h?x=1", 0, "h", "80", "/?x=1");
	url_ok("fragment dropped", "https://h/p?q#frag", 1, "h", "443", "/p?q");
	url_ok("scheme case", "HTTPS://H.example:1/", 1, "H.example", "1", "/");
	url_ok("ipv4", "http://127.0.0.1:65535/x", 0, "127.0.0.1", "65535", "/x");
	url_ok("ipv6", "http://[::1]:8080/x", 0, "::1", "8080", "/x");
	url_ok("ipv6 no port", "https://[2001:db8::1]/", 1, "2001:db8::1", "443", "/");
	url_ok("non-ASCII path", "http://h/caf\xc3\xa9", 0, "h", "80", "/caf%C3%A9");
	url_ok("underscore host", "http://my_host-1.local/", 0, "my_host-1.local", "80", "/");

	url_bad("ftp", "ftp://h/", NULL);
	url_bad("no scheme", "example.com/x", NULL);
	url_bad("empty", "", NULL);
	url_bad("empty host", "http:///x", NULL);
	url_bad("only scheme", "https://", NULL);
	url_bad("empty host with port", "http://:80/", NULL);
	url_bad("port 0", "http://h:0/", NULL);
	url_bad("port too big", "http://h:65536/", NULL);
	url_bad("port letters", "http://h:8o/", NULL);
	url_bad("port empty", "http://h:/", NULL);
	url_bad("port sign", "http://h:-1/", NULL);
	url_bad("port long", "http://h:000080/", NULL);
	url_bad("space", "http://h/a b", NULL);
	url_bad("space in host", "http://a b/", NULL);
	url_bad("newline", "http://h/x\r\nX-Evil: 1", NULL);
	url_bad("tab", "http://h/\t", NULL);
	url_bad("DEL", "http://h/\x7f", NULL);
	url_bad("userinfo", "https://user:tok3n@h/x", "tok3n");
	url_bad("unclosed ipv6", "http://[::1/x", NULL);
	url_bad("bad ipv6", "http://[zz::1]/", NULL);
	url_bad("empty ipv6", "http://[]/", NULL);
	url_bad("junk after ipv6", "http://[::1]x/", NULL);
	url_bad("bad host char", "http://h%41/", NULL);
	url_bad("unbracketed ipv6", "http://::1/", NULL);
}

/* Parse the whole of s; returns the result, resp filled on 1. */
static int
parse(const char *s, size_t n, int eof, struct http_response *r)
{
	memset(r, 0, sizeof *r);
	return http_parse_response(s, n, eof, 0, r, err, sizeof err);
}

static void
resp_ok(const char *name, const char *s, int eof, int status, const char *body)
{
	struct http_response r;
	char n[128];

	snprintf(n, sizeof n, "parse %s: complete", name);
	if (parse(s, strlen(s), eof, &r) != 1) {
		CHECK_STR(n, err, "(complete)");
		return;
	}
	CHECK(n, r.status == status);
	snprintf(n, sizeof n, "parse %s: body", name);
	CHECK_STR(n, r.body.data, body);
	http_response_free(&r);
}

static void
resp_bad(const char *name, const char *s, int eof)
{
	struct http_response r;
	char n[128];
	int got;

	snprintf(n, sizeof n, "parse %s: rejected", name);
	err[0] = '\0';
	got = parse(s, strlen(s), eof, &r);
	CHECK(n, got == -1 && err[0] != '\0');
	if (got == 1)
		http_response_free(&r);
}

/* Every proper prefix needs more input; the whole parses to body. */
static void
resp_split(const char *name, const char *s, const char *body)
{
	struct http_response r;
	size_t n = strlen(s), k;
	int ok = 1, got;
	char nm[128];

	for (k = 0; k < n; k++) {
		r.status = -7;
		if ((got = http_parse_response(s, k, 0, 0, &r, err, sizeof err)) != 0 ||
			r.status != -7) {
			ok = 0;
			if (got == 1)
				http_response_free(&r);
		}
	}
	snprintf(nm, sizeof nm, "parse %s: every prefix wants more", name);
	CHECK(nm, ok);
	resp_ok(name, s, 0, 200, body);
}

static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			      "5;name=val\r\nhello\r\n6 \r\n world\r\nA\r\n0123456789\r\n0\r\n"
			      "X-Trailer: yes\r\n\r\n";

static void
test_parse_good(void)
{
	struct http_response r;

	resp_ok("content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0, 200,
		"hello");
	resp_ok("extra bytes ignored", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello", 0, 200,
		"he");
	resp_ok("header case", "HTTP/1.0 404 Not Found\r\ncOnTeNt-LeNgTh:3\r\n\r\nabc", 0, 404,
		"abc");
	resp_ok("LF only", "HTTP/1.1 201 Created\nContent-Length: 2\n\nhi", 0, 201, "hi");
	resp_ok("no reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0, 200, "");
	resp_ok("empty reason", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 0, 200, "");
	resp_ok("equal lengths",
		"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc", 0, 200,
		"abc");
	resp_ok("chunked", chunked, 0, 200, "hello world0123456789");
	resp_ok("chunked LF only", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n",
		0, 200, "abc");
	resp_ok("chunked wins over length",
		"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: Chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
		0, 200, "x");
	resp_ok("gzip, chunked",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", 0,
		200, "x");
	resp_ok("close-delimited", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close",
		1, 200, "until close");
	resp_ok("non-chunked coding reads to close",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\nabc", 1,
		200, "abc");
	resp_ok("100 continue",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0,
		200, "ok");
	resp_ok("two interim",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\n!",
		0, 500, "!");
	resp_ok("204 no body", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", 0, 204, "");
	resp_ok("304 no body", "HTTP/1.1 304 Not Modified\r\n\r\n", 0, 304, "");
	resp_ok("blank line first", "\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 0, 200,
		"x");
	resp_ok("empty value", "HTTP/1.1 200 OK\r\nX-Empty:\r\nContent-Length: 1\r\n\r\nx", 0, 200,
		"x");
	resp_ok("binary body", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n\x01\xff\x7f", 0, 200,
		"\x01\xff\x7f");

	resp_split("split content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"hello");
	resp_split("split chunked", chunked, "hello world0123456789");
	resp_split("split 100 continue",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"ok");

	CHECK("parse close-delimited: wants eof",
		parse("HTTP/1.1 200 OK\r\n\r\nabc", 22, 0, &r) == 0);
	CHECK("parse empty: wants more", parse("", 0, 0, &r) == 0);
	r.status = 99;
	r.body.data = NULL;
	http_parse_response("HTTP/1.1 200 OK\r\n", 17, 0, 0, &r, err, sizeof err);
	CHECK("parse: resp untouched while incomplete", r.status == 99 && r.body.data == NULL);
}

static void
test_parse_bad(void)
{
	resp_bad("nothing at eof", "", 1);
	resp_bad("truncated at eof", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", 1);
	resp_bad("headers cut at eof", "HTTP/1.1 200 OK\r\nContent-", 1);
	resp_bad("chunked cut at eof",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 1);
	resp_bad("garbage", "garbage\r\n\r\n", 0);
	resp_bad("HTTP/2", "HTTP/2 200 OK\r\n\r\n", 0);
	resp_bad("HTTP/1.x letters", "HTTP/1.x 200 OK\r\n\r\n", 0);
	resp_bad("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", 0);
	resp_bad("status glued to reason", "HTTP/1.1 200OK\r\n\r\n", 0);
	resp_bad("status 600", "HTTP/1.1 600 Odd\r\n\r\n", 0);
	resp_bad("status 099", "HTTP/1.1 099 Odd\r\n\r\n", 0);
	resp_bad("101", "HTTP/1.1 101 Switching Protocols\r\n\r\n", 0);
	resp_bad("negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0);
	resp_bad("garbage length", "HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n", 0);
	resp_bad("empty length", "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", 0);
	resp_bad("plus length", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", 0);
	resp_bad("unequal list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", 0);
	resp_bad("trailing comma", "HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\n", 0);
	resp_bad("conflicting lengths",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 0);
	resp_bad("huge length",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0);
	resp_bad("no colon", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", 0);
	resp_bad("empty name", "HTTP/1.1 200 OK\r\n: x\r\n\r\n", 0);
	resp_bad("space in name", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx", 0);
	resp_bad("folded", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  more\r\n\r\n", 0);
	resp_bad(
		"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0);
	resp_bad(
		"empty chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 0);
	resp_bad(
		"negative chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 0);
	resp_bad("chunk junk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n", 0);
	resp_bad("huge chunk",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n", 0);
	resp_bad("chunk too long",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", 0);
}

/* s parsed with limit max: the result, resp freed. */
static int
parse_max(const struct buf *s, size_t max)
{
	struct http_response r;
	int got;

	memset(&r, 0, sizeof r);
	got = http_parse_response(s->data, s->len, 1, max, &r, err, sizeof err);
	if (got == 1)
		http_response_free(&r);
	return got;
}

/* Bodies past the caller's limit are an error, never cut short. */
static void
test_parse_limits(void)
{
	struct http_response r;
	struct buf b = { 0 };
	int i, got;

	buf_printf(&b, "HTTP/1.1 200 OK\r\nContent-Length: 327680\r\n\r\n");
	for (i = 0; i < 327680; i++)
		buf_put(&b, "a", 1);
	got = parse(b.data, b.len, 0, &r);
	CHECK("limit: 320 KiB body whole under the default",
		got == 1 && r.body.len == 327680 && r.body.data[327680] == '\0');
	if (got == 1)
		http_response_free(&r);
	CHECK("limit: long body wants the rest", parse(b.data, b.len - 1, 0, &r) == 0);
	CHECK("limit: body at the limit", parse_max(&b, 327680) == 1);
	err[0] = '\0';
	CHECK("limit: one byte past the limit", parse_max(&b, 327679) == -1);
	CHECK_STR("limit: says so", err, "response body larger than 327679 bytes");
	b.len = strlen("HTTP/1.1 200 OK\r\nContent-Length: 327680\r\n\r\n");
	CHECK("limit: the head alone is refused",
		http_parse_response(b.data, b.len, 0, 65536, &r, err, sizeof err) == -1);
	buf_free(&b);

	buf_puts(&b, "HTTP/1.1 200 OK\r\nContent-Length: 1048577\r\n\r\n");
	CHECK("limit: default is 1 MiB", parse_max(&b, 0) == -1 && strstr(err, "1048576 bytes"));
	buf_free(&b);

	buf_puts(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < 100; i++) {
		int k;
		buf_puts(&b, "3E8\r\n");
		for (k = 0; k < 1000; k++)
			buf_put(&b, "c", 1);
		buf_puts(&b, "\r\n");
	}
	buf_puts(&b, "0\r\n\r\n");
	got = parse(b.data, b.len, 0, &r);
	CHECK("limit: long chunked whole", got == 1 && r.body.len == 100000);
	if (got == 1)
		http_response_free(&r);
	CHECK("limit: chunked at the limit", parse_max(&b, 100000) == 1);
	CHECK("limit: chunked past the limit", parse_max(&b, 99999) == -1);
	buf_free(&b);

	buf_puts(&b, "HTTP/1.1 200 OK\r\n\r\n0123456789");
	CHECK("limit: close-delimited at the limit", parse_max(&b, 10) == 1);
	CHECK("limit: close-delimited past the limit", parse_max(&b, 9) == -1);
	buf_free(&b);
	buf_puts(&b, "HTTP/1.1 204 No Content\r\nContent-Length: 99\r\n\r\n");
	CHECK("limit: 204 has no body to refuse", parse_max(&b, 1) == 1);
	buf_free(&b);

	buf_puts(&b, "HTTP/1.1 200 OK\r\nX-Long: ");
	for (i = 0; i < 20000; i++)
		buf_put(&b, "x", 1);
	CHECK("limit: header line too long", parse(b.data, b.len, 0, &r) == -1);
	buf_free(&b);

	buf_puts(&b, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < 30000; i++)
		buf_puts(&b, "X-Many: 1\r\n");
	CHECK("limit: too many headers", parse(b.data, b.len, 0, &r) == -1);
	buf_free(&b);
}

static void
test_fields(void)
{
	static const char s[] =
		"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
		"link: <https://h/x?page=2>; rel=\"next\"\r\n"
		"X-RateLimit-Remaining:  4999 \r\n"
		"LINK: <https://h/x?page=9>; rel=\"last\"\r\n"
		"Retry-After:\t120\r\n"
		"X-Empty:\r\n"
		"X-Ctl: a\x01"
		"b\x7f"
		"c\td\r\n"
		"X-Nul: a\0b\r\n"
		"X-Cr: a\rb\r\n"
		"\r\nok";
	struct http_response r;
	int got = parse(s, sizeof s - 1, 0, &r);

	CHECK("fields: parsed", got == 1 && r.status == 200);
	if (got != 1)
		return;
	CHECK_STR("fields: repeated names joined", http_header(&r, "Link"),
		"<https://h/x?page=2>; rel=\"next\", <https://h/x?page=9>; rel=\"last\"");
	CHECK_STR("fields: value trimmed, any case", http_header(&r, "x-ratelimit-remaining"),
		"4999");
	CHECK_STR("fields: tab trimmed", http_header(&r, "RETRY-AFTER"), "120");
	CHECK_STR("fields: empty value", http_header(&r, "x-empty"), "");
	CHECK_STR("fields: controls become spaces", http_header(&r, "x-ctl"), "a b c\td");
	CHECK_STR("fields: NUL becomes a space", http_header(&r, "x-nul"), "a b");
	CHECK_STR("fields: bare CR becomes a space", http_header(&r, "x-cr"), "a b");
	CHECK_STR("fields: framing fields kept", http_header(&r, "content-length"), "2");
	CHECK("fields: absent", http_header(&r, "location") == NULL);
	CHECK("fields: prefix is not a match", http_header(&r, "x-rate") == NULL);
	CHECK("fields: longer is not a match", http_header(&r, "x-emptyy") == NULL);
	CHECK("fields: empty name", http_header(&r, "") == NULL);
	CHECK("fields: interim response's fields dropped",
		!strstr(http_header(&r, "link"), "style.css"));
	CHECK_STR("fields: body", r.body.data, "ok");
	http_response_free(&r);
	CHECK("fields: free resets", r.head.data == NULL && r.body.data == NULL);
	CHECK("fields: none after free", http_header(&r, "link") == NULL);
}

/* http_link_next on link against base: its result, *next in got. */
static int
next_of(const char *link, const char *base, char *got, size_t n)
{
	char *next = NULL;
	int r;

	err[0] = '\0';
	r = http_link_next(link, base, &next, err, sizeof err);
	snprintf(got, n, "%s", next ? next : "(none)");
	free(next);
	return r;
}

static void
link_ok(const char *name, const char *link, const char *base, const char *want)
{
	char got[512], n[128];
	int r = next_of(link, base, got, sizeof got);

	snprintf(n, sizeof n, "link %s", name);
	if (r != 1)
		CHECK_STR(n, err, "(found)");
	else
		CHECK_STR(n, got, want);
}

/* Refused: -1, a reason containing want, never the secret. */
static void
link_bad(const char *name, const char *link, const char *base, const char *want, const char *secret)
{
	char got[512], n[128];
	int r = next_of(link, base, got, sizeof got);

	snprintf(n, sizeof n, "link %s: refused", name);
	CHECK(n, r == -1 && strcmp(got, "(none)") == 0);
	snprintf(n, sizeof n, "link %s: reason", name);
	if (!strstr(err, want))
		CHECK_STR(n, err, want);
	else
		CHECK(n, !secret || !strstr(err, secret));
}

static void
test_link(void)
{
	static const char gh[] = "https://api.github.com/repos/o/r/pulls?state=open&per_page=100";
	char got[64];

	link_ok("github",
		"<https://api.github.com/repositories/7/pulls?state=open&per_page=100&page=2>; "
		"rel=\"next\", <https://api.github.com/repositories/7/pulls?state=open&per_page=100&page=2>; rel=\"last\"",
		gh, "https://api.github.com/repositories/7/pulls?state=open&per_page=100&page=2");
	link_ok("next after others",
		"<https://api.github.com/x?page=1>; rel=\"prev\", <https://api.github.com/x?page=3>; rel=\"next\"",
		gh, "https://api.github.com/x?page=3");
	link_ok("unquoted rel", "<https://api.github.com/n>;rel=next", gh,
		"https://api.github.com/n");
	link_ok("rel list", "<https://api.github.com/n>; rel=\"prev  next\"", gh,
		"https://api.github.com/n");
	link_ok("rel case", "<https://api.github.com/n>; REL=\"Next\"", gh,
		"https://api.github.com/n");
	link_ok("first rel counts",
		"<https://api.github.com/a>; rel=last; rel=next, <https://api.github.com/b>; rel=next",
		gh, "https://api.github.com/b");
	link_ok("comma in URL and quoted param",
		"<https://api.github.com/a,b>; title=\"x, \\\"y\\\"; z\"; rel=\"next\"", gh,
		"https://api.github.com/a,b");
	link_ok("param without value", "<https://api.github.com/n>; crossorigin; rel=next", gh,
		"https://api.github.com/n");
	link_ok("host case and default port", "<HTTPS://API.GitHub.com:443/n>; rel=next", gh,
		"HTTPS://API.GitHub.com:443/n");
	link_ok("absolute path", "</api/v3/repos/o/r/pulls?page=2>; rel=\"next\"",
		"https://ghe.example:8443/api/v3/repos/o/r/pulls?page=1",
		"https://ghe.example:8443/api/v3/repos/o/r/pulls?page=2");
	link_ok("query only", "<?page=2>; rel=next", "http://127.0.0.1:9/p/q?page=1",
		"http://127.0.0.1:9/p/q?page=2");
	link_ok("relative path", "<pulls2?page=2>; rel=next", "http://h/api/v3/pulls?page=1",
		"http://h/api/v3/pulls2?page=2");
	link_ok("relative to a bare host", "<p?page=2>; rel=next", "http://h?page=1",
		"http://h/p?page=2");
	link_ok("scheme-relative, same host", "<//h:81/n>; rel=next", "http://h:81/x",
		"http://h:81/n");
	link_ok("enterprise prefix",
		"<https://ghe.example/api/v3/repositories/5/pulls?per_page=100&page=2>; rel=\"next\"",
		"https://ghe.example/api/v3/repos/o/r/pulls?per_page=100",
		"https://ghe.example/api/v3/repositories/5/pulls?per_page=100&page=2");

	CHECK("link: none",
		next_of("<https://api.github.com/a>; rel=last", gh, got, sizeof got) == 0 &&
			strcmp(got, "(none)") == 0);
	CHECK("link: NULL field", next_of(NULL, gh, got, sizeof got) == 0);
	CHECK("link: empty field", next_of("", gh, got, sizeof got) == 0);
	CHECK("link: rel without value",
		next_of("<https://api.github.com/a>; rel", gh, got, sizeof got) == 0);

	link_bad("foreign host", "<https://evil.example/steal?token=s3cret>; rel=\"next\"", gh,
		"another server (https://evil.example:443)", "s3cret");
	link_bad("other port", "<https://api.github.com:444/x?page=2>; rel=next", gh,
		"(https://api.github.com:444)", "page=2");
	link_bad("http downgrade", "<http://api.github.com/x?page=2>; rel=next", gh,
		"(http://api.github.com:80)", "page=2");
	link_bad("scheme-relative, other host", "<//evil.example/x>; rel=next", gh,
		"another server (https://evil.example:443)", NULL);
	link_bad("user info", "<https://u:pw@api.github.com/x>; rel=next", gh, "user info", "pw");
	link_bad("other scheme", "<ftp://api.github.com/x>; rel=next", gh, "http:// or https://",
		NULL);
	link_bad("javascript", "<javascript:alert(1)>; rel=next", gh, "http:// or https://", NULL);
	link_bad("dot segment", "<../../evil>; rel=next", gh, "dot segment", NULL);
	link_bad("same page",
		"<https://api.github.com/repos/o/r/pulls?state=open&per_page=100>; rel=next", gh,
		"same page", NULL);
	link_bad("fragment only", "<#x>; rel=next", gh, "same page", NULL);
	link_bad("space in URL", "<https://api.github.com/a b>; rel=next", gh, "space", NULL);
	link_bad("no brackets", "https://api.github.com/a; rel=next", gh, "malformed", NULL);
	link_bad("unclosed bracket", "<https://api.github.com/a; rel=next", gh, "malformed", NULL);
	link_bad("junk after link", "<https://api.github.com/a> junk; rel=next", gh, "malformed",
		NULL);
	link_bad("unclosed quote", "<https://api.github.com/a>; rel=\"next", gh, "unclosed quote",
		NULL);
	link_bad("empty param", "<https://api.github.com/a>; =next", gh, "empty parameter", NULL);
	link_bad("bad base", "</x>; rel=next", "not a url", "base URL", NULL);
}

static void
test_retry_after(void)
{
	CHECK("retry-after: seconds", http_retry_after("120", 0) == 120);
	CHECK("retry-after: zero", http_retry_after("0", 5) == 0);
	CHECK("retry-after: spaces", http_retry_after(" \t7 ", 0) == 7);
	CHECK("retry-after: huge saturates",
		http_retry_after("99999999999999999999999999", 0) > 1000000000000LL);
	CHECK("retry-after: NULL", http_retry_after(NULL, 0) == -1);
	CHECK("retry-after: empty", http_retry_after("", 0) == -1);
	CHECK("retry-after: negative", http_retry_after("-1", 0) == -1);
	CHECK("retry-after: fraction", http_retry_after("1.5", 0) == -1);
	CHECK("retry-after: junk", http_retry_after("12abc", 0) == -1);
	CHECK("retry-after: date, 10 s ahead",
		http_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111767) == 10);
	CHECK("retry-after: date passed",
		http_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 3600) == 0);
	CHECK("retry-after: leap day, leap second",
		http_retry_after("Thu, 29 Feb 2024 23:59:60 GMT", 1709251200 - 60) == 60);
	CHECK("retry-after: 2100 March",
		http_retry_after("Mon, 01 Mar 2100 00:00:00 GMT", 4107542400LL - 1) == 1);
	CHECK("retry-after: epoch", http_retry_after("Thu, 01 Jan 1970 00:00:05 GMT", 0) == 5);
	CHECK("retry-after: bad day name",
		http_retry_after("Xyz, 06 Nov 1994 08:49:37 GMT", 0) == -1);
	CHECK("retry-after: bad month", http_retry_after("Sun, 06 Nox 1994 08:49:37 GMT", 0) == -1);
	CHECK("retry-after: 31 April", http_retry_after("Sun, 31 Apr 1994 08:49:37 GMT", 0) == -1);
	CHECK("retry-after: hour 24", http_retry_after("Sun, 06 Nov 1994 24:49:37 GMT", 0) == -1);
	CHECK("retry-after: not GMT", http_retry_after("Sun, 06 Nov 1994 08:49:37 UTC", 0) == -1);
	CHECK("retry-after: RFC 850 form refused",
		http_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", 0) == -1);
}

/* Mutations of valid responses: any result is fine, a crash or leak
 * (under valgrind / ASan) is not; a result of 1 has a sane body. */
static void
test_parse_fuzz(void)
{
	static const char *seeds[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		chunked,
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nbody",
		"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nTransfer-Encoding: x, chunked\r\n\r\n1;a=b\r\nx\r\n0\r\nT: 1\r\n\r\n",
	};
	struct http_response r;
	char s[256];
	unsigned seed = 12345;
	int i, j, n, got, ok = 1;

	for (i = 0; i < 40000; i++) {
		const char *src = seeds[i % 4];
		n = (int)strlen(src);
		memcpy(s, src, (size_t)n);
		for (j = 0; j < 1 + i % 4; j++) {
			seed = seed * 1103515245u + 12345u;
			s[(seed >> 8) % (unsigned)n] = (char)(seed >> 20);
		}
		seed = seed * 1103515245u + 12345u;
		n = (int)((seed >> 8) % (unsigned)(n + 1));
		got = parse(s, (size_t)n, (int)(seed >> 30) & 1, &r);
		if (got == 1)
			ok &= http_header(&r, "content-length") || http_header(&r, "x") == NULL;
		if (got == 1) {
			ok &= r.body.data != NULL && r.body.len <= (size_t)n && r.status >= 200 &&
				r.status <= 599;
			http_response_free(&r);
		}
		ok &= got >= -1 && got <= 1;
	}
	CHECK("fuzz: 40000 mutated responses", ok);
}

int
main(void)
{
	test_buf();
	test_json();
	test_form();
	test_url();
	test_parse_good();
	test_parse_bad();
	test_parse_limits();
	test_fields();
	test_link();
	test_retry_after();
	test_parse_fuzz();
	UNIT_EXIT();
}
