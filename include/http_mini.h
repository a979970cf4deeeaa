/* http_mini.h - text buffers and encoders, URL parsing and a small
 * HTTP/1.1 client (plain sockets; https through a TLS proxy or a curl
 * subprocess).
 *
 * Nothing here exits or prints: failures return -1 with a reason in the
 * caller's buffer. Reasons name the host, never the full URL (a webhook URL
 * is a secret). */
#ifndef HTTP_MINI_H
#define HTTP_MINI_H

#include <stdarg.h>
#include <stddef.h>

/* ---- text buffers and encoders ---------------------------------------
 * The project's one buffer type and every encoder of text into it: JSON
 * strings, XML text, URL path segments, form fields. */

/* The project's one growable byte buffer; data is always NUL-terminated
 * once anything was put. Zero-initialise before use. */
struct buf {
	char *data;
	size_t len, cap;
};

/* Make room for extra more bytes (+1 for the NUL). -1 on overflow/OOM. */
int buf_grow(struct buf *b, size_t extra);
/* Append n bytes. -1 on OOM (b is unchanged). */
int buf_put(struct buf *b, const void *p, size_t n);
/* Append a NUL-terminated string. -1 on OOM. */
int buf_puts(struct buf *b, const char *s);
/* Append printf-formatted text. -1 on OOM or format error. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* buf_printf with a va_list (ap is consumed). -1 on OOM or format error. */
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Release the memory and reset to empty. */
void buf_free(struct buf *b);

/* Append s[0..n) as a JSON string with quotes (RFC 8259): escapes quote,
 * backslash and control characters; invalid UTF-8 becomes U+FFFD. -1 OOM. */
int json_put_string(struct buf *b, const char *s, size_t n);
/* Append s[0..n) application/x-www-form-urlencoded (space as '+'). -1 OOM. */
int form_put_escaped(struct buf *b, const char *s, size_t n);
/* Append s[0..n) percent-encoded as one URL path segment (RFC 3986: only
 * the unreserved A-Z a-z 0-9 - . _ ~ stay). -1 OOM. */
int url_put_segment(struct buf *b, const char *s, size_t n);
/* Append s[0..n) as XML 1.0 text: & < > " escaped, CR as &#13;, valid
 * UTF-8 only (an invalid byte becomes U+FFFD), characters XML 1.0 forbids
 * (C0 controls but tab, newline and CR; U+FFFE, U+FFFF) left out. -1 OOM. */
int xml_put_text(struct buf *b, const char *s, size_t n);
/* The same for a double-quoted attribute value: tab, newline and CR as
 * character references, so a parser keeps them. -1 OOM. */
int xml_put_attr(struct buf *b, const char *s, size_t n);

/* ---- URLs and HTTP ---------------------------------------------------- */

struct url {
	int https;  /* 1 for https, 0 for http */
	char *host; /* without brackets for IPv6 literals */
	char *port; /* decimal; "80"/"443" when absent */
	char *path; /* path and query, at least "/" */
};

/* Parse an http:// or https:// URL into u (fields malloc'd; url_free).
 * -1 with a reason in err for anything else. */
int url_parse(const char *s, struct url *u, char *err, size_t errlen);
void url_free(struct url *u);

/* The default (and usual) limit on a response body; see max_body. */
#define HTTP_BODY_MAX 1048576

struct http_request {
	const char *method; /* "POST", "GET" */
	const char *url;
	const char *content_type;   /* NULL: no Content-Type header */
	const char *const *headers; /* extra "Name: value" lines, NULL-ended, or NULL;
				       a User-Agent here replaces "walter" */
	const char *body;
	size_t body_len;
	const char *tls_proxy;  /* "host:port" for https; NULL: $WALTER_TLS_PROXY */
	int connect_timeout_ms; /* 0: 5000 */
	int timeout_ms;         /* whole exchange, 0: 10000 */
	size_t max_body;        /* larger response bodies are an error; 0: HTTP_BODY_MAX */
	int want_headers;       /* 1: keep the response's header fields in resp->head */
};

struct http_response {
	int status;      /* HTTP status code */
	struct buf body; /* the whole response body, NUL-terminated */
	struct buf head; /* header fields of the final response (http_header) */
};

/* Send req and read the response. http:// goes over a socket (honouring
 * http_proxy/no_proxy); https:// through the TLS proxy if one is set, else
 * through curl from PATH (URL, headers and body passed on a pipe, never on
 * its command line), else an error naming both ways. One retry after a
 * connection failure or a 5xx. Returns 0 when a response arrived (any
 * status: check resp->status), -1 otherwise with a reason in err. */
int http_send(const struct http_request *req, struct http_response *resp, char *err, size_t errlen);

/* Incremental response parser over buf[0..len) (status line, headers,
 * Content-Length / chunked / until close). eof says the peer closed.
 * Returns 1 when complete (resp filled, head always), 0 when more input is
 * needed, -1 on a malformed response or a body past max_body (0:
 * HTTP_BODY_MAX) with a reason in err. */
int http_parse_response(const char *buf, size_t len, int eof, size_t max_body,
	struct http_response *resp, char *err, size_t errlen);

/* Free resp's body and head and reset them to empty. */
void http_response_free(struct http_response *resp);

/* Value of response header field name (any case); several fields of
 * that name come joined by ", ". NULL when absent. Points into resp. */
const char *http_header(const struct http_response *resp, const char *name);

/* The target of the first rel="next" link in a Link field value (NULL
 * allowed), resolved against base, the URL that was requested: 1 with
 * *next malloc'd (caller frees), 0 when there is none, -1 when the value
 * is malformed or the link leaves base's scheme, host and port (reason in
 * err, naming the host only). */
int http_link_next(const char *link, const char *base, char **next, char *err, size_t errlen);

/* Seconds to wait from a Retry-After value (delay-seconds or an
 * IMF-fixdate, taken relative to now; a past date is 0). -1 if NULL or
 * malformed. */
long long http_retry_after(const char *value, long long now);

/* Notes on the implementation:
 * - http_send resets resp first, so http_response_free(resp) is always
 *   safe; after 0, resp->body.data is never NULL (empty body: "").
 *   resp->head is filled only when req->want_headers is set.
 * - A body past max_body fails the exchange ("response body larger than
 *   N bytes"): it is never cut short. A Content-Length past it fails
 *   before the body is read. Not retried.
 * - http_parse_response writes resp only when it returns 1 (the caller
 *   then owns resp->body and resp->head); after 0 or -1 resp is untouched.
 * - Header values have NUL, CR and other control bytes (but tab) turned
 *   into spaces (RFC 9110 5.5); names are compared ignoring case.
 * - The curl fallback runs "curl -q --config -" with everything else on
 *   its stdin, and inherits the environment: curl itself reads
 *   CURL_CA_BUNDLE (a CA file to trust, used by the tests) and https_proxy.
 *   curl speaks HTTP/1.1 and prints the response head ("include", without
 *   a proxy's CONNECT answer), which the same parser reads; curl has
 *   undone the body's framing, so there the body runs to curl's EOF.
 * - Retried once: a failed connect, a connection closed or reset before
 *   any response byte (curl exit 7 or 52), a 5xx. One deadline
 *   (timeout_ms) covers both attempts; the name lookup (getaddrinfo)
 *   cannot be bounded by it. */

#endif
