/* http_mini.c - text buffers and encoders, URLs and a small HTTP/1.1
 * client. Contracts are in include/http_mini.h. Nothing here exits. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime, getaddrinfo, kill: also under -std=c11 */
#endif
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_mini.h"

/* ---- text buffers and encoders ------------------------------------- */

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
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	if (n < 0 || buf_grow(b, (size_t)n) < 0) {
		va_end(again);
		return -1;
	}
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
	va_end(again);
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

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

	/* most strings need no escaping: one copy between the quotes */
	while (i < n && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
		i++;
	if (i == n) {
		if (buf_grow(b, n + 2) < 0)
			return -1;
		b->data[b->len] = '"';
		if (n)
			memcpy(b->data + b->len + 1, s, n);
		b->data[b->len + n + 1] = '"';
		b->len += n + 2;
		b->data[b->len] = '\0';
		return 0;
	}
	if (buf_put(b, "\"", 1) < 0 || buf_put(b, s, i) < 0)
		return -1;
	while (i < n) {
		/* copy the longest run that needs no escaping in one go */
		for (run = i; run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' &&
			s[run] != '\\';
			run++)
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
		case '"':
			strcpy(esc, "\\\"");
			break;
		case '\\':
			strcpy(esc, "\\\\");
			break;
		case '\b':
			strcpy(esc, "\\b");
			break;
		case '\f':
			strcpy(esc, "\\f");
			break;
		case '\n':
			strcpy(esc, "\\n");
			break;
		case '\r':
			strcpy(esc, "\\r");
			break;
		case '\t':
			strcpy(esc, "\\t");
			break;
		default:
			snprintf(esc, sizeof esc, "\\u%04x", s[i]);
			break;
		}
		if (buf_puts(b, esc) < 0)
			return -1;
		i++;
	}
	return buf_put(b, "\"", 1);
}

/* Percent-encode s[0..n): ASCII letters and digits and the bytes of keep
 * stay, a space is '+' when plus is set, the rest %XX. */
static int
percent_put(struct buf *b, const char *str, size_t n, const char *keep, int plus)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)str;
	char enc[3];
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			(c && strchr(keep, c))) {
			if (buf_put(b, &c, 1) < 0)
				return -1;
		} else if (c == ' ' && plus) {
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

int
form_put_escaped(struct buf *b, const char *str, size_t n)
{
	return percent_put(b, str, n, "-_.*", 1);
}

int
url_put_segment(struct buf *b, const char *str, size_t n)
{
	return percent_put(b, str, n, "-._~", 0);
}

/* XML 1.0 text (attr 0) or a double-quoted attribute value (attr 1):
 * valid UTF-8 only (an invalid byte becomes U+FFFD), no character XML
 * 1.0 forbids (C0 controls but tab, newline and CR; U+FFFE, U+FFFF;
 * surrogates are invalid UTF-8 already). */
static int
xml_put(struct buf *b, const char *str, size_t n, int attr)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run, k;
	const char *esc;

	while (i < n) {
		for (run = i; run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '&' &&
			s[run] != '<' && s[run] != '>' && s[run] != '"';
			run++)
			;
		if (run > i && buf_put(b, s + i, run - i) < 0)
			return -1;
		if ((i = run) >= n)
			break;
		if (s[i] >= 0x80) {
			k = utf8_len(s + i, n - i);
			if (k == 3 && s[i] == 0xef && s[i + 1] == 0xbf && s[i + 2] >= 0xbe)
				esc = ""; /* U+FFFE, U+FFFF: not characters in XML */
			else if (k)
				esc = NULL;
			else
				esc = "\xef\xbf\xbd", k = 1;
			if (buf_put(b, esc ? esc : str + i, esc ? strlen(esc) : k) < 0)
				return -1;
			i += k;
			continue;
		}
		switch (s[i]) {
		case '&':
			esc = "&amp;";
			break;
		case '<':
			esc = "&lt;";
			break;
		case '>':
			esc = "&gt;";
			break;
		case '"':
			esc = "&quot;";
			break;
		case '\t':
			esc = attr ? "&#9;" : "\t";
			break;
		case '\n':
			esc = attr ? "&#10;" : "\n";
			break;
		case '\r': /* a parser would read a bare CR as a newline */
			esc = "&#13;";
			break;
		default: /* other C0 controls: no way to write them in XML 1.0 */
			esc = "";
			break;
		}
		if (buf_puts(b, esc) < 0)
			return -1;
		i++;
	}
	return 0;
}

int
xml_put_text(struct buf *b, const char *s, size_t n)
{
	return xml_put(b, s, n, 0);
}

int
xml_put_attr(struct buf *b, const char *s, size_t n)
{
	return xml_put(b, s, n, 1);
}

/* ---- small helpers ------------------------------------------------ */

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* then SO_NOSIGPIPE below keeps SIGPIPE away */
#endif

#define LINE_MAXLEN 16384  /* one status, header or chunk-size line */
#define HEAD_MAXLEN 262144 /* all header lines of one response */

extern char **environ;

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int
isdig(int c)
{
	return c >= '0' && c <= '9';
}

/* s[0..n) equals the NUL-terminated lowercase word w, ignoring case */
static int
ieq(const char *s, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!w[i] || lower((unsigned char)s[i]) != w[i])
			return 0;
	return w[n] == '\0';
}

/* a[0..n) equals b[0..n), ignoring case; stops at the first difference
 * (so a NUL in either ends it) */
static int
ncaseeq(const char *a, const char *b, size_t n)
{
	for (; n; a++, b++, n--)
		if (lower((unsigned char)*a) != lower((unsigned char)*b))
			return 0;
	return 1;
}

/* RFC 9110 token characters (header names, methods) */
static int
istchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isdig(c) ||
		(c && strchr("!#$%&'*+-.^_`|~", c));
}

static int
hexval(int c)
{
	if (isdig(c))
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Trim optional whitespace (SP, HT) from both ends of s[0..*n). */
static const char *
trim(const char *s, size_t *n)
{
	while (*n && (*s == ' ' || *s == '\t'))
		s++, (*n)--;
	while (*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
		(*n)--;
	return s;
}

static void
xclose(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static long long
now_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
left_ms(long long deadline)
{
	long long d = deadline - now_ms();

	return d <= 0 ? 0 : d > INT_MAX ? INT_MAX : (int)d;
}

/* Wait until fd is ready for ev: 1 ready (or in error), 0 at the
 * deadline, -1 poll failed. */
static int
wait_fd(int fd, short ev, long long deadline)
{
	struct pollfd pfd;
	int r;

	for (;;) {
		pfd.fd = fd;
		pfd.events = ev;
		pfd.revents = 0;
		if ((r = poll(&pfd, 1, left_ms(deadline))) >= 0 || errno != EINTR)
			return r;
	}
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- URLs --------------------------------------------------------- */

void
url_free(struct url *u)
{
	free(u->host);
	free(u->port);
	free(u->path);
	u->host = u->port = u->path = NULL;
}

static char *
dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* Decimal port 1..65535; s[0..n) */
static int
port_ok(const char *s, size_t n)
{
	long v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return 0;
	for (i = 0; i < n; i++) {
		if (!isdig((unsigned char)s[i]))
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

static int
hostchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isdig(c) || c == '-' ||
		c == '.' || c == '_' || c == '~';
}

/* Split the authority a[0..n) into host and port. */
static int
parse_authority(const char *a, size_t n, int https, struct url *u, char *err, size_t errlen)
{
	const char *h = a, *p = NULL, *end = a + n, *q;
	size_t hn;
	char tmp[INET6_ADDRSTRLEN + 1];
	struct in6_addr a6;

	if (memchr(a, '@', n))
		return fail(err, errlen, "URL user info (user:password@) is not supported");
	if (n && a[0] == '[') {
		if (!(q = memchr(a, ']', n)))
			return fail(err, errlen, "URL has an unclosed '[' in its host");
		h = a + 1, hn = (size_t)(q - h);
		if (hn == 0 || hn >= sizeof tmp)
			return fail(err, errlen, "URL has a bad IPv6 address");
		memcpy(tmp, h, hn);
		tmp[hn] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) != 1)
			return fail(err, errlen, "URL has a bad IPv6 address");
		if (q + 1 < end && q[1] != ':')
			return fail(err, errlen, "URL has junk after its IPv6 address");
		if (q + 1 < end)
			p = q + 2;
	} else {
		q = memchr(a, ':', n);
		hn = q ? (size_t)(q - a) : n;
		if (q)
			p = q + 1;
		for (q = a; q < a + hn; q++)
			if (!hostchar((unsigned char)*q))
				return fail(err, errlen, "URL host has a bad character");
	}
	if (hn == 0)
		return fail(err, errlen, "URL has an empty host");
	if (p && !port_ok(p, (size_t)(end - p)))
		return fail(err, errlen, "URL has a bad port (want 1-65535)");
	u->host = dupn(h, hn);
	u->port = p ? dupn(p, (size_t)(end - p)) : dupn(https ? "443" : "80", https ? 3 : 2);
	if (!u->host || !u->port)
		return fail(err, errlen, "out of memory");
	return 0;
}

/* Copy path and query, percent-encoding bytes past ASCII; drops the
 * fragment, which is never sent. */
static int
parse_path(const char *s, struct url *u, char *err, size_t errlen)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b = { 0 };
	size_t n = strcspn(s, "#");
	int r = 0;

	if (*s != '/')
		r |= buf_put(&b, "/", 1);
	for (; n > 0 && r == 0; s++, n--) {
		unsigned char c = (unsigned char)*s;
		char enc[3] = { '%', hex[c >> 4], hex[c & 15] };
		r |= c >= 0x80 ? buf_put(&b, enc, 3) : buf_put(&b, s, 1);
	}
	if (r < 0) {
		buf_free(&b);
		return fail(err, errlen, "out of memory");
	}
	u->path = b.data;
	return 0;
}

int
url_parse(const char *s, struct url *u, char *err, size_t errlen)
{
	const char *p;
	size_t n;

	u->host = u->port = u->path = NULL;
	u->https = 0;
	for (p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return fail(err, errlen, "URL contains a space or control character");
	/* ieq stops at the NUL of a short s, so no overread */
	if (ieq(s, 7, "http://"))
		p = s + 7;
	else if (ieq(s, 8, "https://"))
		p = s + 8, u->https = 1;
	else
		return fail(err, errlen, "URL must start with http:// or https://");
	n = strcspn(p, "/?#");
	if (parse_authority(p, n, u->https, u, err, errlen) < 0 ||
		parse_path(p + n, u, err, errlen) < 0) {
		url_free(u);
		return -1;
	}
	return 0;
}

/* "host:port" for messages and Host headers; IPv6 literals bracketed. */
static int
put_hostport(struct buf *b, const char *host, const char *port)
{
	const char *fmt;

	if (!host || !port)
		return buf_puts(b, "?");
	fmt = strchr(host, ':') ? "[%s]:%s" : "%s:%s";

	return buf_printf(b, fmt, host, port);
}

/* ---- response parser ---------------------------------------------- */

/* A streaming parser: http_send feeds it each recv() (or curl's output)
 * so memory stays bounded (the head plus max_body) whatever the server
 * sends. */
enum pstate {
	P_STATUS,
	P_HEADER,
	P_LENGTH,
	P_CHUNK_SIZE,
	P_CHUNK_DATA,
	P_CHUNK_END,
	P_TRAILER,
	P_UNTIL_EOF,
	P_DONE
};

struct parser {
	enum pstate st;
	struct buf line;        /* the line being assembled */
	size_t head_bytes;      /* status and header bytes so far */
	unsigned long long len; /* Content-Length, then bytes left */
	int has_len, has_te, chunked;
	int head; /* response to HEAD: never a body */
	int raw;  /* curl's output: the framing is undone, the body runs to EOF */
	int status;
	size_t max_body;
	struct buf body;
	struct buf fields; /* "name\0value\0"..., names lower-cased */
};

static void
parser_init(struct parser *p, size_t max_body)
{
	memset(p, 0, sizeof *p);
	p->max_body = max_body ? max_body : HTTP_BODY_MAX;
}

static void
parser_free(struct parser *p)
{
	buf_free(&p->line);
	buf_free(&p->body);
	buf_free(&p->fields);
}

/* Comma list of equal decimal lengths ("5" or "5, 5"). */
static int
parse_length(const char *s, size_t n, unsigned long long *out)
{
	unsigned long long v, first = 0;
	size_t i = 0, k, elems = 0;
	const char *e;

	while (i <= n) {
		k = (e = memchr(s + i, ',', n - i)) ? (size_t)(e - s) - i : n - i;
		const char *t = trim(s + i, &k);
		if (k == 0)
			return -1;
		for (v = 0; k > 0; t++, k--) {
			if (!isdig((unsigned char)*t) || v > (ULLONG_MAX - 9) / 10)
				return -1;
			v = v * 10 + (unsigned long long)(*t - '0');
		}
		if (elems++ && v != first)
			return -1;
		first = v;
		if (!e)
			break;
		i = (size_t)(e - s) + 1;
	}
	*out = first;
	return 0;
}

/* Transfer-Encoding: only the last coding matters to a client. */
static void
parse_te(struct parser *p, const char *s, size_t n)
{
	const char *c = s + n;
	size_t k;

	while (c > s && c[-1] != ',')
		c--;
	k = (size_t)(s + n - c);
	if (memchr(c, ';', k))
		k = (size_t)((const char *)memchr(c, ';', k) - c);
	c = trim(c, &k);
	p->has_te = 1;
	p->chunked = ieq(c, k, "chunked");
}

static int
on_status(struct parser *p, const char *s, size_t n, char *err, size_t errlen)
{
	if (n == 0) /* stray blank lines before a status line are harmless */
		return 0;
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || !isdig((unsigned char)s[7]) || s[8] != ' ' ||
		!isdig((unsigned char)s[9]) || !isdig((unsigned char)s[10]) ||
		!isdig((unsigned char)s[11]) || (n > 12 && s[12] != ' '))
		return fail(err, errlen, "malformed status line");
	p->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (p->status < 100 || p->status > 599)
		return fail(err, errlen, "status %d out of range", p->status);
	p->has_len = p->has_te = p->chunked = 0;
	p->len = 0;
	p->fields.len = 0; /* an interim response's fields are not the final's */
	p->st = P_HEADER;
	return 0;
}

/* The blank line after the headers: decide how the body is framed
 * (RFC 9112 section 6.3). */
static int
end_headers(struct parser *p, char *err, size_t errlen)
{
	if (p->status < 200) {
		if (p->status == 101)
			return fail(err, errlen, "unexpected 101 Switching Protocols");
		p->st = P_STATUS; /* interim (100 Continue): the real one follows */
	} else if (p->head || p->status == 204 || p->status == 304) {
		p->st = P_DONE;
	} else if (p->has_te && !p->raw) {
		p->st = p->chunked ? P_CHUNK_SIZE : P_UNTIL_EOF;
	} else if (p->has_len && !p->raw) {
		if (p->len > p->max_body) /* fail before reading it */
			return fail(
				err, errlen, "response body larger than %zu bytes", p->max_body);
		p->st = p->len ? P_LENGTH : P_DONE;
	} else { /* close-delimited; or curl's output, its framing undone */
		p->st = P_UNTIL_EOF;
	}
	return 0;
}

/* The entry of field name[0..n) in fields (any case), or NULL. */
static const char *
find_field(const struct buf *fields, const char *name, size_t n)
{
	const char *e = fields->data, *end;
	size_t k;

	if (!e)
		return NULL;
	for (end = e + fields->len; e < end; e += k + 1) {
		k = strlen(e);
		if (ncaseeq(e, name, n) && e[n] == '\0')
			return e;
		e += k + 1;
		k = strlen(e);
	}
	return NULL;
}

/* Keep a header field; a repeated name joins the earlier value with
 * ", " (RFC 9110 5.3). Control bytes but tab become spaces (5.5). */
static int
add_field(struct buf *fields, const char *name, size_t n, const char *v, size_t vn)
{
	const char *old = find_field(fields, name, n);
	size_t at = old ? (size_t)(old - fields->data) + n + 1 : 0; /* buf_grow may move it */
	size_t i, extra = vn + (old ? 2 : n + 2);
	char *d;

	if (buf_grow(fields, extra) < 0)
		return -1;
	if (old) {
		at += strlen(fields->data + at); /* the value's NUL */
		memmove(fields->data + at + extra, fields->data + at, fields->len - at + 1);
		memcpy(fields->data + at, ", ", 2);
		d = fields->data + at + 2;
	} else {
		d = fields->data + fields->len;
		for (i = 0; i < n; i++)
			*d++ = (char)lower((unsigned char)name[i]);
		*d++ = '\0';
	}
	for (i = 0; i < vn; i++) {
		unsigned char c = (unsigned char)v[i];
		*d++ = (char)((c < 0x20 && c != '\t') || c == 0x7f ? ' ' : c);
	}
	if (!old)
		*d = '\0';
	fields->len += extra;
	fields->data[fields->len] = '\0';
	return 0;
}

static int
on_header(struct parser *p, const char *s, size_t n, char *err, size_t errlen)
{
	const char *colon, *v;
	unsigned long long len;
	size_t i, vn;

	if (n == 0)
		return end_headers(p, err, errlen);
	if (s[0] == ' ' || s[0] == '\t')
		return fail(err, errlen, "folded header line");
	if (!(colon = memchr(s, ':', n)) || colon == s)
		return fail(err, errlen, "malformed header line");
	for (i = 0; s + i < colon; i++)
		if (!istchar((unsigned char)s[i]))
			return fail(err, errlen, "malformed header name");
	vn = n - i - 1;
	v = trim(colon + 1, &vn);
	if (add_field(&p->fields, s, i, v, vn) < 0)
		return fail(err, errlen, "out of memory");
	if (ieq(s, i, "content-length")) {
		if (parse_length(v, vn, &len) < 0)
			return fail(err, errlen, "bad Content-Length");
		if (p->has_len && len != p->len)
			return fail(err, errlen, "conflicting Content-Length headers");
		p->has_len = 1;
		p->len = len;
	} else if (ieq(s, i, "transfer-encoding")) {
		parse_te(p, v, vn);
	}
	return 0;
}

static int
on_chunk_size(struct parser *p, const char *s, size_t n, char *err, size_t errlen)
{
	unsigned long long v = 0;
	size_t i;

	for (i = 0; i < n && hexval((unsigned char)s[i]) >= 0; i++) {
		if (v > ULLONG_MAX >> 4)
			return fail(err, errlen, "chunk size too large");
		v = v << 4 | (unsigned long long)hexval((unsigned char)s[i]);
	}
	if (i == 0)
		return fail(err, errlen, "malformed chunk size");
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < n && s[i] != ';') /* ';' starts chunk extensions: ignored */
		return fail(err, errlen, "malformed chunk size");
	p->len = v;
	p->st = v ? P_CHUNK_DATA : P_TRAILER;
	return 0;
}

/* One complete line (without its LF or CRLF) for the current state. */
static int
on_line(struct parser *p, const char *s, size_t n, char *err, size_t errlen)
{
	switch (p->st) {
	case P_STATUS:
		return on_status(p, s, n, err, errlen);
	case P_HEADER:
		return on_header(p, s, n, err, errlen);
	case P_CHUNK_SIZE:
		return on_chunk_size(p, s, n, err, errlen);
	case P_CHUNK_END:
		if (n != 0)
			return fail(err, errlen, "chunk not followed by CRLF");
		p->st = P_CHUNK_SIZE;
		return 0;
	case P_TRAILER:
		if (n == 0)
			p->st = P_DONE;
		return 0; /* trailer fields are ignored */
	default:
		return fail(err, errlen, "internal parser state");
	}
}

/* Gather s[0..n) (ending in LF when complete) into the current line. */
static int
line_in(struct parser *p, const char *s, size_t n, int complete, char *err, size_t errlen)
{
	size_t len;

	if (p->st == P_STATUS || p->st == P_HEADER || p->st == P_TRAILER) {
		if ((p->head_bytes += n) > HEAD_MAXLEN)
			return fail(err, errlen, "response headers too large");
	}
	if (p->line.len + n > LINE_MAXLEN)
		return fail(err, errlen, "response line too long");
	if (buf_put(&p->line, s, n) < 0)
		return fail(err, errlen, "out of memory");
	if (!complete)
		return 0;
	len = p->line.len - 1;
	if (len && p->line.data[len - 1] == '\r')
		len--;
	p->line.len = 0;
	return on_line(p, p->line.data, len, err, errlen);
}

/* Never a silent cut: a body past the limit fails the response. */
static int
keep(struct parser *p, const char *s, size_t n, char *err, size_t errlen)
{
	if (n > p->max_body - p->body.len)
		return fail(err, errlen, "response body larger than %zu bytes", p->max_body);
	if (buf_put(&p->body, s, n) < 0)
		return fail(err, errlen, "out of memory");
	return 0;
}

/* Consume s[0..n): 1 when the response is complete (later bytes are
 * ignored), 0 when more is needed, -1 when malformed. */
static int
feed(struct parser *p, const char *s, size_t n, char *err, size_t errlen)
{
	const char *nl;
	size_t take;

	while (n > 0 && p->st != P_DONE) {
		if (p->st == P_LENGTH || p->st == P_CHUNK_DATA || p->st == P_UNTIL_EOF) {
			take = n;
			if (p->st != P_UNTIL_EOF && take > p->len)
				take = (size_t)p->len;
			if (keep(p, s, take, err, errlen) < 0)
				return -1;
			if (p->st != P_UNTIL_EOF && (p->len -= take) == 0)
				p->st = p->st == P_LENGTH ? P_DONE : P_CHUNK_END;
		} else {
			nl = memchr(s, '\n', n);
			take = nl ? (size_t)(nl - s) + 1 : n;
			if (line_in(p, s, take, nl != NULL, err, errlen) < 0)
				return -1;
		}
		s += take;
		n -= take;
	}
	return p->st == P_DONE;
}

/* The peer closed: complete only for a close-delimited body. */
static int
finish(struct parser *p, char *err, size_t errlen)
{
	if (p->st == P_UNTIL_EOF)
		p->st = P_DONE;
	if (p->st == P_DONE)
		return 1;
	if (p->st == P_STATUS && p->head_bytes == 0 && p->line.len == 0)
		return fail(err, errlen, "connection closed without a response");
	return fail(err, errlen, "connection closed before the response was complete");
}

/* Hand the finished response over; resp's old contents are not freed. */
static int
deliver(struct parser *p, struct http_response *resp, char *err, size_t errlen)
{
	if (buf_put(&p->body, "", 0) < 0) /* body.data is never NULL */
		return fail(err, errlen, "out of memory");
	resp->status = p->status;
	resp->body = p->body;
	resp->head = p->fields;
	memset(&p->body, 0, sizeof p->body);
	memset(&p->fields, 0, sizeof p->fields);
	return 1;
}

/* resp is written only when 1 is returned (and then owns a fresh body
 * and head: http_response_free them); on 0 or -1 it is left untouched. */
int
http_parse_response(const char *buf, size_t len, int eof, size_t max_body,
	struct http_response *resp, char *err, size_t errlen)
{
	struct parser p;
	int r;

	parser_init(&p, max_body);
	r = feed(&p, buf, len, err, errlen);
	if (r == 0 && eof)
		r = finish(&p, err, errlen);
	if (r == 1)
		r = deliver(&p, resp, err, errlen);
	parser_free(&p);
	return r;
}

void
http_response_free(struct http_response *resp)
{
	buf_free(&resp->body);
	buf_free(&resp->head);
}

const char *
http_header(const struct http_response *resp, const char *name)
{
	const char *e = find_field(&resp->head, name, strlen(name));

	return e ? e + strlen(e) + 1 : NULL;
}

/* ---- Link and Retry-After ----------------------------------------- */

static const char *
ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* A link-param value at *ps (token or quoted-string) into v, unquoted. */
static int
param_value(const char **ps, struct buf *v, char *err, size_t errlen)
{
	const char *s = *ps, *t;

	if (*s == '"') {
		for (s++;; s++) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '"')
				break;
			if (!*s)
				return fail(err, errlen, "Link header has an unclosed quote");
			if (buf_put(v, s, 1) < 0)
				return fail(err, errlen, "out of memory");
		}
		s++;
	} else {
		for (t = s; istchar((unsigned char)*s); s++)
			;
		if (s == t)
			return fail(err, errlen, "Link header has a parameter without a value");
		if (buf_put(v, t, (size_t)(s - t)) < 0)
			return fail(err, errlen, "out of memory");
	}
	*ps = s;
	return 0;
}

/* A rel value (space-separated relation types) names "next". */
static int
rel_next(const struct buf *v)
{
	const char *s = v->data ? v->data : "";
	size_t n;

	for (; *s; s += n) {
		s += strspn(s, " \t");
		n = strcspn(s, " \t");
		if (ieq(s, n, "next"))
			return 1;
	}
	return 0;
}

/* The link-params after a "<...>": *is_next says whether the first rel
 * (later ones are ignored, RFC 8288 3.3) names next. */
static int
link_params(const char **ps, int *is_next, char *err, size_t errlen)
{
	const char *s = *ps, *name;
	struct buf v = { 0 };
	int rels = 0, r = 0;
	size_t n;

	*is_next = 0;
	while (r == 0 && *(s = ows(s)) == ';') {
		for (name = s = ows(s + 1); istchar((unsigned char)*s); s++)
			;
		if ((n = (size_t)(s - name)) == 0) {
			r = fail(err, errlen, "Link header has an empty parameter name");
			break;
		}
		v.len = 0;
		if (buf_put(&v, "", 0) < 0) {
			r = fail(err, errlen, "out of memory");
			break;
		}
		if (*(s = ows(s)) == '=') {
			s = ows(s + 1);
			if ((r = param_value(&s, &v, err, errlen)) < 0)
				break;
		}
		if (ieq(name, n, "rel") && rels++ == 0)
			*is_next = rel_next(&v);
	}
	if (r == 0 && *s && *s != ',')
		r = fail(err, errlen, "malformed Link header");
	buf_free(&v);
	*ps = s;
	return r;
}

/* The first rel="next" target in link: 1 with its span, 0 none, -1. */
static int
find_next(const char *link, const char **uri, size_t *un, char *err, size_t errlen)
{
	const char *s = link, *e;
	int is_next;

	for (;;) {
		s += strspn(s, " \t,");
		if (!*s)
			return 0;
		if (*s != '<' || !(e = strchr(s, '>')))
			return fail(err, errlen, "malformed Link header");
		*uri = s + 1, *un = (size_t)(e - s - 1), s = e + 1;
		if (link_params(&s, &is_next, err, errlen) < 0)
			return -1;
		if (is_next)
			return 1;
	}
}

/* uri resolved against the absolute URL base (RFC 3986 5.2, minus dot
 * segments, which are refused). */
static int
resolve(const char *uri, const char *base, struct buf *out, char *err, size_t errlen)
{
	const char *auth = strstr(base, "://"), *path, *q;
	size_t n = strlen(uri), k = strcspn(uri, ":/?#"), seg;
	int r;

	if (!auth)
		return fail(err, errlen, "bad base URL");
	auth += 3;
	path = auth + strcspn(auth, "/?#");
	if (k < n && uri[k] == ':') /* it has a scheme of its own */
		r = buf_put(out, uri, n);
	else if (n >= 2 && uri[0] == '/' && uri[1] == '/')
		r = buf_put(out, base, (size_t)(auth - 2 - base)) | buf_put(out, uri, n);
	else if (n >= 1 && uri[0] == '/')
		r = buf_put(out, base, (size_t)(path - base)) | buf_put(out, uri, n);
	else if (n >= 1 && uri[0] == '?')
		r = buf_put(out, base, (size_t)(path + strcspn(path, "?#") - base)) |
			buf_put(out, uri, n);
	else if (n == 0 || uri[0] == '#')
		return fail(err, errlen, "Link rel=\"next\" points back to the same page");
	else {
		for (q = uri; *q && *q != '?' && *q != '#'; q += seg + 1) {
			seg = strcspn(q, "/?#");
			if ((seg == 1 && q[0] == '.') || (seg == 2 && q[0] == '.' && q[1] == '.'))
				return fail(err, errlen, "Link rel=\"next\" has a dot segment");
			if (q[seg] != '/')
				break;
		}
		for (q = path + strcspn(path, "?#"); q > path && q[-1] != '/'; q--)
			;
		r = buf_put(out, base, (size_t)(q - base));
		if (q == path)
			r |= buf_put(out, "/", 1);
		r |= buf_put(out, uri, n);
	}
	return r < 0 ? fail(err, errlen, "out of memory") : 0;
}

/* next must keep base's scheme, host (any case) and port. */
static int
same_origin(const char *next, const char *base, char *err, size_t errlen)
{
	struct url a = { 0 }, b = { 0 };
	struct buf w = { 0 };
	char why[128];
	int r = 0;

	if (url_parse(next, &a, why, sizeof why) < 0)
		r = fail(err, errlen, "Link rel=\"next\": %s", why);
	else if (url_parse(base, &b, why, sizeof why) < 0)
		r = fail(err, errlen, "bad base URL: %s", why);
	else if (a.https != b.https || strcmp(a.port, b.port) != 0 ||
		strlen(a.host) != strlen(b.host) || !ncaseeq(a.host, b.host, strlen(a.host))) {
		r = buf_puts(&w, a.https ? "https://" : "http://") |
			put_hostport(&w, a.host, a.port);
		fail(err, errlen, "Link rel=\"next\" leads to another server (%s)",
			r < 0 ? "?" : w.data);
		r = -1;
	}
	url_free(&a), url_free(&b), buf_free(&w);
	return r;
}

int
http_link_next(const char *link, const char *base, char **next, char *err, size_t errlen)
{
	struct buf out = { 0 };
	const char *uri = NULL, *got;
	char *u = NULL;
	size_t un = 0;
	int r;

	*next = NULL;
	if (!link)
		return 0;
	if ((r = find_next(link, &uri, &un, err, errlen)) <= 0)
		return r;
	if (!uri || !(u = dupn(uri, un)))
		return fail(err, errlen, "out of memory");
	r = resolve(u, base, &out, err, errlen);
	got = out.data ? out.data : ""; /* (never empty after a 0) */
	if (r == 0 && same_origin(got, base, err, errlen) < 0)
		r = -1;
	else if (r == 0 && strcmp(got, base) == 0)
		r = fail(err, errlen, "Link rel=\"next\" points back to the same page");
	free(u);
	if (r < 0) {
		buf_free(&out);
		return -1;
	}
	*next = out.data;
	return 1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1-12). */
static long long
days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* n decimal digits at s, or -1 */
static long
digits(const char *s, int n)
{
	long v = 0;

	for (; n > 0; s++, n--) {
		if (!isdig((unsigned char)*s))
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/* IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" as seconds since the
 * epoch; -1 if it is not one. */
static long long
imf_fixdate(const char *s, size_t n)
{
	static const char days[] = "MonTueWedThuFriSatSun";
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *m;
	long d, y, hh, mm, ss;
	int mon;

	if (n != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
		s[19] != ':' || s[22] != ':' || memcmp(s + 25, " GMT", 4) != 0)
		return -1;
	for (m = days; *m && memcmp(m, s, 3) != 0; m += 3)
		;
	if (!*m)
		return -1;
	for (m = months; *m && memcmp(m, s + 8, 3) != 0; m += 3)
		;
	mon = (int)(m - months) / 3;
	d = digits(s + 5, 2), y = digits(s + 12, 4);
	hh = digits(s + 17, 2), mm = digits(s + 20, 2), ss = digits(s + 23, 2);
	if (!*m || d < 1 || d > mdays[mon] || y < 0 || hh < 0 || hh > 23 || mm < 0 || mm > 59 ||
		ss < 0 || ss > 60)
		return -1;
	return days_from_civil(y, mon + 1, (int)d) * 86400 + hh * 3600 + mm * 60 + ss;
}

long long
http_retry_after(const char *value, long long now)
{
	const char *s;
	long long v = 0, t;
	size_t n, i;

	if (!value)
		return -1;
	n = strlen(value);
	s = trim(value, &n);
	for (i = 0; i < n && isdig((unsigned char)s[i]); i++)
		v = v > LLONG_MAX / 10 - 1 ? LLONG_MAX / 10 : v * 10 + (s[i] - '0');
	if (n && i == n)
		return v;
	if ((t = imf_fixdate(s, n)) < 0)
		return -1;
	return t > now ? t - now : 0;
}

/* ---- plain HTTP over a socket -------------------------------------- */

/* Close fd on an error path, keeping the errno that explains the error;
 * returns -1 for the caller to pass on. */
static int
close_keep_errno(int fd)
{
	int e = errno;

	close(fd);
	errno = e;
	return -1;
}

static int
open_socket(const struct addrinfo *ai)
{
	int fd;

#ifdef SOCK_CLOEXEC
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
#else
	if ((fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol)) >= 0 &&
		fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		goto err;
#endif
	if (fd < 0)
		return -1;
	if (set_nonblock(fd) < 0)
		goto err;
#ifdef SO_NOSIGPIPE
	{
		int one = 1;
		if (setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one) < 0)
			goto err;
	}
#endif
	return fd;
err:
	return close_keep_errno(fd);
}

/* Connect to one address by the deadline; -1 with errno set. */
static int
connect_one(const struct addrinfo *ai, long long deadline)
{
	int fd, r, soerr = 0;
	socklen_t len = sizeof soerr;

	if ((fd = open_socket(ai)) < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	/* after EINTR the connect goes on in the background, as EINPROGRESS */
	if (errno != EINPROGRESS && errno != EINTR)
		goto err;
	if ((r = wait_fd(fd, POLLOUT, deadline)) == 0)
		errno = ETIMEDOUT;
	if (r <= 0)
		goto err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		goto err;
	if (soerr) {
		errno = soerr;
		goto err;
	}
	return fd;
err:
	return close_keep_errno(fd);
}

/* Try every address of host:port. Returns the fd; -1 for a failure not
 * worth retrying (name lookup); -2 for a connection failure. */
static int
dial(const char *host, const char *port, int connect_ms, long long deadline, const char *label,
	char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	long long until;
	int fd = -1, r, e = ECONNREFUSED;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		fail(err, errlen, "%s: cannot resolve host: %s", label,
			r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return r == EAI_AGAIN ? -2 : -1;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		until = now_ms() + connect_ms;
		if (until > deadline)
			until = deadline;
		if ((fd = connect_one(ai, until)) < 0)
			e = errno;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		return fd;
	fail(err, errlen, "%s: cannot connect: %s", label,
		e == ETIMEDOUT ? "connection timed out" : strerror(e));
	return -2;
}

/* Write all of p[0..n) by the deadline; -1 with errno (ETIMEDOUT). */
static int
send_all(int fd, const char *p, size_t n, long long deadline)
{
	ssize_t w;
	int r;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) >= 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if ((r = wait_fd(fd, POLLOUT, deadline)) == 0)
			errno = ETIMEDOUT;
		if (r <= 0)
			return -1;
	}
	return 0;
}

/* Read and parse the response by the deadline. Returns 1 done, -1
 * failed, -2 the peer went away before sending a byte (retry-worthy). */
static int
recv_response(
	int fd, struct parser *p, long long deadline, int timeout_ms, char *err, size_t errlen)
{
	char tmp[16384];
	size_t got = 0;
	ssize_t n;
	int r;

	for (;;) {
		if ((r = wait_fd(fd, POLLIN, deadline)) == 0)
			return fail(err, errlen, "no response within %d ms", timeout_ms);
		if (r < 0)
			return fail(err, errlen, "poll: %s", strerror(errno));
		if ((n = recv(fd, tmp, sizeof tmp, 0)) < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			/* a reset after some data may still end a
			 * close-delimited body; finish() decides */
			if ((r = errno) != ECONNRESET || got == 0) {
				fail(err, errlen, "receive: %s", strerror(r));
				return r == ECONNRESET ? -2 : -1;
			}
			n = 0;
		}
		if (n == 0) {
			if (got == 0) {
				fail(err, errlen, "connection closed without a response");
				return -2;
			}
			return finish(p, err, errlen);
		}
		got += (size_t)n;
		if ((r = feed(p, tmp, (size_t)n, err, errlen)) != 0)
			return r;
	}
}

/* One request/response on a connected socket: 0, -1 or -2 (retry). */
static int
exchange(int fd, const struct buf *rq, const struct http_request *req, long long deadline,
	int timeout_ms, const char *label, struct http_response *resp, char *err, size_t errlen)
{
	struct parser p;
	char msg[256];
	int r, send_errno = 0;

	parser_init(&p, req->max_body);
	p.head = strcmp(req->method, "HEAD") == 0;
	if (send_all(fd, rq->data, rq->len, deadline) < 0) {
		if (errno == ETIMEDOUT)
			return fail(err, errlen, "%s: sending timed out after %d ms", label,
				timeout_ms);
		if (errno != EPIPE && errno != ECONNRESET)
			return fail(err, errlen, "%s: send: %s", label, strerror(errno));
		send_errno = errno; /* it may have answered early: read on */
	}
	r = recv_response(fd, &p, deadline, timeout_ms, msg, sizeof msg);
	if (r == 1)
		r = deliver(&p, resp, msg, sizeof msg);
	parser_free(&p);
	if (r == 1)
		return 0;
	if (send_errno && r == -2)
		fail(err, errlen, "%s: send: %s", label, strerror(send_errno));
	else
		fail(err, errlen, "%s: %s", label, msg);
	return r;
}

/* ---- https through curl -------------------------------------------- */

/* key = "value" in curl's config syntax, which unescapes \\ \" \n \r \t
 * \v inside quotes and takes every other byte as it is. */
static int
cfg_put(struct buf *b, const char *key, const char *v, size_t n)
{
	int r = buf_printf(b, "%s = \"", key);
	size_t i;

	for (i = 0; i < n && r == 0; i++) {
		switch (v[i]) {
		case '\\':
			r = buf_puts(b, "\\\\");
			break;
		case '"':
			r = buf_puts(b, "\\\"");
			break;
		case '\n':
			r = buf_puts(b, "\\n");
			break;
		case '\r':
			r = buf_puts(b, "\\r");
			break;
		case '\t':
			r = buf_puts(b, "\\t");
			break;
		case '\v':
			r = buf_puts(b, "\\v");
			break;
		default:
			r = buf_put(b, v + i, 1);
			break;
		}
	}
	return r < 0 ? -1 : buf_puts(b, "\"\n");
}

/* The caller's extra headers include name (lower case). */
static int
has_header(const struct http_request *req, const char *name)
{
	const char *const *h;
	size_t n = strlen(name);

	for (h = req->headers; h && *h; h++)
		if (ncaseeq(*h, name, n) && (*h)[n] == ':')
			return 1;
	return 0;
}

static int
has_body(const struct http_request *req)
{
	return req->body || (strcmp(req->method, "GET") && strcmp(req->method, "HEAD"));
}

/* The whole request as a curl config read from stdin, so that the URL,
 * headers and body never show on a command line. Whole seconds only:
 * curl may parse decimals by locale; our own deadline kills it anyway. */
static int
curl_config(struct buf *b, const struct http_request *req, const struct url *u, int connect_ms,
	long long deadline)
{
	const char *const *h;
	struct buf url = { 0 };
	int r = 0, left = left_ms(deadline);

	/* include: the response head on stdout, for the parser; never a
	 * proxy's CONNECT answer in it */
	r |= buf_puts(b,
		"silent\nshow-error\ngloboff\nproto = \"=https\"\n"
		"http1.1\ninclude\nsuppress-connect-headers\n");
	r |= buf_puts(&url, "https://");
	r |= put_hostport(&url, u->host, u->port);
	r |= buf_puts(&url, u->path);
	if (r == 0)
		r |= cfg_put(b, "url", url.data, url.len);
	r |= cfg_put(b, "request", req->method, strlen(req->method));
	if (!has_header(req, "user-agent"))
		r |= buf_puts(b, "user-agent = \"walter\"\n");
	r |= buf_puts(b, "header = \"Expect:\"\n");
	if (req->content_type) {
		buf_free(&url);
		r |= buf_printf(&url, "Content-Type: %s", req->content_type);
		if (r == 0)
			r |= cfg_put(b, "header", url.data, url.len);
	}
	for (h = req->headers; h && *h; h++)
		r |= cfg_put(b, "header", *h, strlen(*h));
	/* data-raw, unlike data-binary, never reads a file for a leading @ */
	if (has_body(req))
		r |= cfg_put(b, "data-raw", req->body ? req->body : "", req->body_len);
	/* max-time 0 would mean "no limit" */
	r |= buf_printf(b, "connect-timeout = %d\nmax-time = %d\n", (connect_ms + 999) / 1000,
		left > 1000 ? (left + 999) / 1000 : 1);
	buf_free(&url);
	return r ? -1 : 0;
}

/* curl from PATH (empty entries skipped: never the current directory
 * by accident). Malloc'd path or NULL. */
static char *
find_curl(void)
{
	const char *p = getenv("PATH"), *e;
	struct buf b = { 0 };
	struct stat st;

	if (!p)
		p = "/usr/bin:/bin";
	for (; *p; p = *e ? e + 1 : e) {
		e = p + strcspn(p, ":");
		if (e == p)
			continue;
		b.len = 0;
		if (buf_printf(&b, "%.*s/curl", (int)(e - p), p) < 0)
			break;
		if (stat(b.data, &st) == 0 && S_ISREG(st.st_mode) && access(b.data, X_OK) == 0)
			return b.data;
	}
	buf_free(&b);
	return NULL;
}

struct proc {
	pid_t pid;
	int in, out, err; /* our ends of curl's stdin, stdout, stderr */
};

/* Move *fd to 3 or above, close-on-exec, so that the child's dup2 onto
 * 0..2 can never clobber another of its fds. */
static int
lift(int *fd)
{
	int nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);

	if (nfd < 0)
		return -1;
	close(*fd);
	*fd = nfd;
	return 0;
}

/* In the child: only async-signal-safe calls until execve. */
static void
child(const int fd[4], const char *path)
{
	char *argv[] = { "curl", "-q", "--config", "-", NULL };
	sigset_t none;
	int i, e;

	for (i = 0; i < 3; i++)
		while (dup2(fd[i], i) < 0)
			if (errno != EINTR)
				goto fail;
	if (sigemptyset(&none) < 0 || sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		goto fail;
	execve(path, argv, environ);
fail:
	e = errno;
	while (write(fd[3], &e, sizeof e) < 0 && errno == EINTR)
		;
	_exit(127);
}

/* The exec-error pipe closes on a successful exec; else it holds errno. */
static int
exec_status(int fd)
{
	int e = 0;
	ssize_t n;

	while ((n = read(fd, &e, sizeof e)) < 0 && errno == EINTR)
		;
	return n == (ssize_t)sizeof e ? e : 0;
}

/* Start curl with a socket on stdin (send() with MSG_NOSIGNAL: no
 * SIGPIPE if it dies early) and pipes on stdout and stderr. */
static int
spawn(const char *path, struct proc *pr, char *err, size_t errlen)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 };
	int ex[2] = { -1, -1 }, *all[] = { in, out, er, ex }, i, e, st;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, in) < 0 || pipe(out) < 0 || pipe(er) < 0 ||
		pipe(ex) < 0)
		goto err;
	for (i = 0; i < 8; i++)
		if (lift(&all[i / 2][i % 2]) < 0)
			goto err;
	if (set_nonblock(in[0]) < 0 || set_nonblock(out[0]) < 0 || set_nonblock(er[0]) < 0 ||
		(pr->pid = fork()) < 0)
		goto err;
	if (pr->pid == 0)
		child((const int[4]){ in[1], out[1], er[1], ex[1] }, path);
	xclose(&in[1]), xclose(&out[1]), xclose(&er[1]), xclose(&ex[1]);
	if ((e = exec_status(ex[0])) != 0) {
		while (waitpid(pr->pid, &st, 0) < 0 && errno == EINTR)
			;
		errno = e;
		goto err;
	}
	xclose(&ex[0]);
	pr->in = in[0], pr->out = out[0], pr->err = er[0];
	return 0;
err:
	e = errno;
	for (i = 0; i < 8; i++)
		xclose(&all[i / 2][i % 2]);
	return fail(err, errlen, "cannot run %s: %s", path, strerror(e));
}

/* Read what is there on *fd into the parser, or into errtext (its
 * start only) when p is NULL; closes it at EOF. -1 when the parser
 * refuses the response or memory ran out, with the reason in err. */
static int
drain(int *fd, struct parser *p, struct buf *errtext, char *err, size_t errlen)
{
	char tmp[16384];
	ssize_t n = read(*fd, tmp, sizeof tmp);

	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		xclose(fd);
		return 0;
	}
	if (p)
		return feed(p, tmp, (size_t)n, err, errlen) < 0 ? -1 : 0;
	if (errtext->len < 1024 && buf_put(errtext, tmp, (size_t)n) < 0)
		return fail(err, errlen, "out of memory");
	return 0;
}

/* Feed the config and parse the output until curl closes both pipes:
 * 0, -1 (reason in err) or -2 at the deadline. */
static int
pump(struct proc *pr, const struct buf *cfg, long long deadline, struct parser *out,
	struct buf *errtext, char *err, size_t errlen)
{
	struct pollfd pf[3];
	size_t off = 0;
	ssize_t w;
	int r;

	while (pr->out >= 0 || pr->err >= 0) {
		pf[0].fd = pr->in, pf[1].fd = pr->out, pf[2].fd = pr->err;
		pf[0].events = POLLOUT, pf[1].events = pf[2].events = POLLIN;
		pf[0].revents = pf[1].revents = pf[2].revents = 0;
		if ((r = poll(pf, 3, left_ms(deadline))) < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -2 : -1;
		if (pf[0].revents) {
			w = send(pr->in, cfg->data + off, cfg->len - off, MSG_NOSIGNAL);
			if (w > 0)
				off += (size_t)w;
			/* done, or curl stopped reading: its exit status tells */
			if (off == cfg->len ||
				(w < 0 && errno != EINTR && errno != EAGAIN &&
					errno != EWOULDBLOCK))
				xclose(&pr->in);
		}
		if ((pf[1].revents && drain(&pr->out, out, NULL, err, errlen) < 0) ||
			(pf[2].revents && drain(&pr->err, NULL, errtext, err, errlen) < 0))
			return -1;
	}
	return 0;
}

/* waitpid on our child only; SIGKILL it at the deadline. Returns the
 * wait status, -1 when it had to be killed, -2 when it was lost. */
static int
reap(pid_t pid, long long deadline)
{
	int st;
	pid_t r;

	for (;;) {
		if ((r = waitpid(pid, &st, WNOHANG)) == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return -2;
		if (left_ms(deadline) == 0)
			break;
		/* its pipes are closed, so it is on its way out */
		poll(NULL, 0, 10);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return -1;
}

/* s contains needle[0..n) */
static int
contains(const char *s, const char *needle, size_t n)
{
	for (; n && *s; s++)
		if (strncmp(s, needle, n) == 0)
			return 1;
	return 0;
}

/* curl's first stderr line, made printable, unless it quotes the path
 * or the query of the URL (a token may live in either). */
static void
curl_reason(struct buf *t, const struct url *u, int code, char *out, size_t outlen)
{
	char none[1] = "", *s = t->data ? t->data : none, *p;
	size_t pn = strcspn(u->path, "?");

	s[strcspn(s, "\n")] = '\0';
	if (strncmp(s, "curl: ", 6) == 0)
		s += 6;
	for (p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (!*s || (pn > 1 && contains(s, u->path, pn)) ||
		(u->path[pn] && u->path[pn + 1] && strstr(s, u->path + pn + 1)))
		snprintf(out, outlen, "curl failed with exit status %d", code);
	else
		snprintf(out, outlen, "%s", s);
}

static int
via_curl(const struct http_request *req, const struct url *u, const char *path, int connect_ms,
	long long deadline, int timeout_ms, struct http_response *resp, char *err, size_t errlen)
{
	struct buf cfg = { 0 }, errtext = { 0 }, label = { 0 };
	struct parser out;
	struct proc pr = { 0, -1, -1, -1 };
	char why[256];
	int r, st;

	parser_init(&out, req->max_body);
	out.raw = 1;
	out.head = strcmp(req->method, "HEAD") == 0;
	if (put_hostport(&label, u->host, u->port) < 0 ||
		curl_config(&cfg, req, u, connect_ms, deadline) < 0) {
		r = fail(err, errlen, "out of memory");
		goto out;
	}
	if (req->body && memchr(req->body, '\0', req->body_len)) {
		r = fail(err, errlen, "%s: curl cannot take a body with NUL bytes", label.data);
		goto out;
	}
	if ((r = spawn(path, &pr, why, sizeof why)) < 0) {
		fail(err, errlen, "%s: %s", label.data, why);
		goto out;
	}
	r = pump(&pr, &cfg, deadline, &out, &errtext, why, sizeof why);
	xclose(&pr.in), xclose(&pr.out), xclose(&pr.err);
	/* refused output: no need to wait for the rest */
	st = reap(pr.pid, r == 0 ? deadline : 0);
	if (r == -1)
		r = fail(err, errlen, "%s: %s", label.data, why);
	else if (r == -2 || st == -1)
		r = fail(err, errlen, "%s: no response within %d ms", label.data, timeout_ms);
	else if (st < 0)
		r = fail(err, errlen, "%s: lost track of curl", label.data);
	else if (WIFSIGNALED(st))
		r = fail(err, errlen, "%s: curl killed by signal %d", label.data, WTERMSIG(st));
	else if (WEXITSTATUS(st) != 0) {
		curl_reason(&errtext, u, WEXITSTATUS(st), why, sizeof why);
		fail(err, errlen, "%s: %s", label.data, why);
		/* 7: could not connect, 52: empty reply */
		r = WEXITSTATUS(st) == 7 || WEXITSTATUS(st) == 52 ? -2 : -1;
	} else if (finish(&out, why, sizeof why) < 0 || deliver(&out, resp, why, sizeof why) < 0)
		r = fail(err, errlen, "%s: curl gave no whole response: %s", label.data, why);
	else
		r = 0;
out:
	buf_free(&cfg), buf_free(&errtext), buf_free(&label);
	parser_free(&out);
	return r;
}

/* ---- requests, proxies, retry -------------------------------------- */

/* Host header form: the port only when it is not the scheme's default. */
static int
put_authority(struct buf *b, const struct url *u)
{
	if (strcmp(u->port, u->https ? "443" : "80") != 0)
		return put_hostport(b, u->host, u->port);
	return buf_printf(b, strchr(u->host, ':') ? "[%s]" : "%s", u->host);
}

/* A proxy gets the absolute URL in the request line (RFC 9112 3.2.2). */
static int
build_request(struct buf *b, const struct http_request *req, const struct url *u, int absolute)
{
	const char *const *h;
	int r = 0;

	r |= buf_printf(b, "%s ", req->method);
	if (absolute) {
		r |= buf_puts(b, u->https ? "https://" : "http://");
		r |= put_authority(b, u);
	}
	r |= buf_printf(b, "%s HTTP/1.1\r\nHost: ", u->path);
	r |= put_authority(b, u);
	if (!has_header(req, "user-agent"))
		r |= buf_puts(b, "\r\nUser-Agent: walter");
	r |= buf_puts(b, "\r\nConnection: close\r\n");
	if (req->content_type)
		r |= buf_printf(b, "Content-Type: %s\r\n", req->content_type);
	for (h = req->headers; h && *h; h++)
		r |= buf_printf(b, "%s\r\n", *h);
	if (has_body(req))
		r |= buf_printf(b, "Content-Length: %zu\r\n", req->body_len);
	r |= buf_puts(b, "\r\n");
	if (req->body_len)
		r |= buf_put(b, req->body, req->body_len);
	return r ? -1 : 0;
}

/* Header injection guard: the reasons never quote values (tokens). */
static int
check_request(const struct http_request *req, char *err, size_t errlen)
{
	const char *const *h;
	const char *p;
	int i;

	if (!req->method || !*req->method || !req->url)
		return fail(err, errlen, "request without method or URL");
	for (p = req->method; *p; p++)
		if (!istchar((unsigned char)*p))
			return fail(err, errlen, "bad HTTP method");
	if (req->content_type && strpbrk(req->content_type, "\r\n"))
		return fail(err, errlen, "Content-Type has a line break");
	for (h = req->headers, i = 1; h && *h; h++, i++) {
		for (p = *h; istchar((unsigned char)*p); p++)
			;
		if (p == *h || *p != ':' || strpbrk(*h, "\r\n"))
			return fail(err, errlen, "extra header %d is malformed", i);
	}
	if (!req->body && req->body_len)
		return fail(err, errlen, "request body is NULL");
	return 0;
}

static int
is_loopback(const char *h)
{
	size_t n = h ? strlen(h) : 0;
	struct in_addr a4;

	if (!h)
		return 0;
	if (ieq(h, n, "localhost") || (n > 10 && ieq(h + n - 10, 10, ".localhost")))
		return 1;
	if (strcmp(h, "::1") == 0)
		return 1;
	return strncmp(h, "127.", 4) == 0 && inet_pton(AF_INET, h, &a4) == 1;
}

/* no_proxy: comma list of host suffixes ("example.com" also matches
 * "a.example.com"; a leading dot is the same); "*" matches all. */
static int
no_proxy(const char *host)
{
	const char *l = getenv("no_proxy"), *e, *t;
	size_t hn = host ? strlen(host) : 0, k;

	if (!host)
		return 0;
	if (!l || !*l)
		l = getenv("NO_PROXY");
	for (; l && *l; l = *e ? e + 1 : e) {
		e = l + strcspn(l, ",");
		k = (size_t)(e - l);
		t = trim(l, &k);
		if (k == 1 && *t == '*')
			return 1;
		if (k && *t == '.')
			t++, k--;
		if (k && (k == hn || (k < hn && host[hn - k - 1] == '.')) &&
			ncaseeq(host + hn - k, t, k))
			return 1;
	}
	return 0;
}

/* "host:port" or "http://host:port" into pu. */
static int
parse_proxy(const char *s, struct url *pu, const char *what, char *err, size_t errlen)
{
	struct buf b = { 0 };
	char msg[128];
	int r;

	if (buf_printf(&b, "%s%s", strstr(s, "://") ? "" : "http://", s) < 0)
		return fail(err, errlen, "out of memory");
	r = url_parse(b.data, pu, msg, sizeof msg);
	buf_free(&b);
	if (r < 0)
		return fail(err, errlen, "bad %s setting: %s", what, msg);
	if (pu->https) {
		url_free(pu);
		return fail(err, errlen, "bad %s setting: want plain host:port", what);
	}
	return 0;
}

/* One attempt over a socket, to the server or through proxy px (named
 * kind in messages). 0, -1, or -2 when worth a retry. */
static int
via_socket(const struct http_request *req, const struct url *u, const struct url *px,
	const char *kind, int connect_ms, long long deadline, int timeout_ms,
	struct http_response *resp, char *err, size_t errlen)
{
	struct buf rq = { 0 }, label = { 0 };
	const struct url *to = px ? px : u;
	int fd, r;

	if (put_hostport(&label, u->host, u->port) < 0 ||
		(px &&
			(buf_printf(&label, " via %s ", kind) < 0 ||
				put_hostport(&label, px->host, px->port) < 0)) ||
		build_request(&rq, req, u, px != NULL) < 0) {
		r = fail(err, errlen, "out of memory");
		goto out;
	}
	if ((r = fd = dial(to->host, to->port, connect_ms, deadline, label.data, err, errlen)) < 0)
		goto out;
	r = exchange(fd, &rq, req, deadline, timeout_ms, label.data, resp, err, errlen);
	close(fd);
out:
	buf_free(&rq), buf_free(&label);
	return r;
}

/* Route one attempt: https by TLS proxy or curl, http straight or by
 * http_proxy. */
static int
attempt(const struct http_request *req, const struct url *u, int connect_ms, long long deadline,
	int timeout_ms, struct http_response *resp, char *err, size_t errlen)
{
	const char *tp, *kind = "proxy";
	struct url px = { 0 };
	char *curl;
	int r;

	if (u->https) {
		tp = req->tls_proxy ? req->tls_proxy : getenv("WALTER_TLS_PROXY");
		if (!tp || !*tp) {
			if (!(curl = find_curl()))
				return fail(err, errlen,
					"https://%s needs a TLS proxy "
					"(tls_proxy or WALTER_TLS_PROXY) or curl on PATH",
					u->host);
			r = via_curl(
				req, u, curl, connect_ms, deadline, timeout_ms, resp, err, errlen);
			free(curl);
			return r;
		}
		if (parse_proxy(tp, &px, "TLS proxy", err, errlen) < 0)
			return -1;
		kind = "TLS proxy";
	} else if (is_loopback(u->host) || no_proxy(u->host) ||
		(!((tp = getenv("http_proxy")) && *tp) && !((tp = getenv("HTTP_PROXY")) && *tp))) {
		return via_socket(
			req, u, NULL, NULL, connect_ms, deadline, timeout_ms, resp, err, errlen);
	} else if (parse_proxy(tp, &px, "http_proxy", err, errlen) < 0) {
		return -1;
	}
	r = via_socket(req, u, &px, kind, connect_ms, deadline, timeout_ms, resp, err, errlen);
	url_free(&px);
	return r;
}

/* resp is always safe to free afterwards. The one deadline covers both
 * attempts, so a retry never stretches the total. */
int
http_send(const struct http_request *req, struct http_response *resp, char *err, size_t errlen)
{
	int connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 5000;
	int timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : 10000;
	long long deadline = now_ms() + timeout_ms;
	struct url u = { 0 };
	int r, tries, again;

	memset(resp, 0, sizeof *resp);
	if (check_request(req, err, errlen) < 0 || url_parse(req->url, &u, err, errlen) < 0)
		return -1;
	if (!u.host || !u.port || !u.path) { /* url_parse fills all three */
		url_free(&u);
		return fail(err, errlen, "bad URL");
	}
	for (tries = 1;; tries++) {
		r = attempt(req, &u, connect_ms, deadline, timeout_ms, resp, err, errlen);
		again = r == -2 || (r == 0 && resp->status >= 500);
		if (!again || tries == 2 || left_ms(deadline) == 0)
			break;
		http_response_free(resp);
		resp->status = 0;
	}
	url_free(&u);
	if (!req->want_headers)
		buf_free(&resp->head);
	return r == 0 ? 0 : -1;
}
