/* unit_http.c - pure functions of http_mini.c: buffers, encoders, URL
 * parsing and the response parser (including a small mutation fuzz). */
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
	return http_parse_response(s, n, eof, r, err, sizeof err);
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
	buf_free(&r.body);
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
		buf_free(&r.body);
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
		if ((got = http_parse_response(s, k, 0, &r, err, sizeof err)) != 0 ||
			r.status != -7) {
			ok = 0;
			if (got == 1)
				buf_free(&r.body);
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
	http_parse_response("HTTP/1.1 200 OK\r\n", 17, 0, &r, err, sizeof err);
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

/* Oversize bodies are capped at 64 KiB but still parsed to the end. */
static void
test_parse_limits(void)
{
	struct http_response r;
	struct buf b = { 0 };
	int i, got;

	buf_printf(&b, "HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n");
	for (i = 0; i < 200000; i++)
		buf_put(&b, "a", 1);
	got = parse(b.data, b.len, 0, &r);
	CHECK("limit: long body complete", got == 1);
	CHECK("limit: body capped at 64 KiB",
		got == 1 && r.body.len == 65536 && r.body.data[65536] == '\0');
	if (got == 1)
		buf_free(&r.body);
	CHECK("limit: long body wants the rest", parse(b.data, b.len - 1, 0, &r) == 0);
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
	CHECK("limit: long chunked capped", got == 1 && r.body.len == 65536);
	if (got == 1)
		buf_free(&r.body);
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
		if (got == 1) {
			ok &= r.body.data != NULL && r.body.len <= (size_t)n && r.status >= 200 &&
				r.status <= 599;
			buf_free(&r.body);
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
	test_parse_fuzz();
	UNIT_EXIT();
}
