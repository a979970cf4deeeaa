/* http_drv - test-only driver for http_send (tests/sys/http_client.sh).
 *
 * usage: http_drv [-t CONTENT-TYPE] [-H 'Name: value']... [-P TLS-PROXY]
 *                 [-c CONNECT-MS] [-T TIMEOUT-MS] [-m MAX-BODY]
 *                 [-F FIELD]... [-n] [-o FILE] METHOD URL [BODY]
 *
 * Prints "status N", then "field NAME: VALUE" (or "field NAME absent") for
 * each -F, then for -n the Link rel="next" of the response resolved
 * against URL ("next URL", "next none" or "next refused: REASON"), then
 * the body (into FILE with -o), and exits 0 when a response arrived (any
 * status); prints "error: REASON" on stderr and exits 1 otherwise, 2 on
 * bad usage. -P '' means "no TLS proxy, not even from WALTER_TLS_PROXY". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_mini.h"

#define MAXHDR 16

static int
usage(void)
{
	fputs("usage: http_drv [-t type] [-H header]... [-P tls-proxy] [-c connect-ms] "
	      "[-T timeout-ms] [-m max-body] [-F field]... [-n] [-o file] METHOD URL [BODY]\n",
		stderr);
	return 2;
}

/* The Link rel="next" line of -n. */
static void
print_next(const struct http_response *resp, const char *url)
{
	char err[512], *next;
	int r = http_link_next(http_header(resp, "link"), url, &next, err, sizeof err);

	if (r > 0)
		printf("next %s\n", next);
	else if (r == 0)
		printf("next none\n");
	else
		printf("next refused: %s\n", err);
	free(next);
}

/* The body on stdout or into path; -1 when it could not be written. */
static int
put_body(const struct buf *body, const char *path)
{
	FILE *f = path ? fopen(path, "wb") : stdout;
	int r = 0;

	if (!f)
		return -1;
	if (fwrite(body->data, 1, body->len, f) != body->len)
		r = -1;
	if (path && fclose(f) != 0)
		r = -1;
	return r;
}

int
main(int argc, char **argv)
{
	struct http_request req;
	struct http_response resp;
	const char *hdrs[MAXHDR + 1], *fields[MAXHDR], *v, *out = NULL;
	char err[512];
	int c, nh = 0, nf = 0, next = 0, rc, i;

	memset(&req, 0, sizeof req);
	while ((c = getopt(argc, argv, "t:H:P:c:T:m:F:no:")) != -1) {
		switch (c) {
		case 't':
			req.content_type = optarg;
			break;
		case 'H':
			if (nh == MAXHDR)
				return usage();
			hdrs[nh++] = optarg;
			break;
		case 'P':
			req.tls_proxy = optarg;
			break;
		case 'c':
			req.connect_timeout_ms = atoi(optarg);
			break;
		case 'T':
			req.timeout_ms = atoi(optarg);
			break;
		case 'm':
			req.max_body = (size_t)strtoull(optarg, NULL, 10);
			break;
		case 'F':
			if (nf == MAXHDR)
				return usage();
			fields[nf++] = optarg;
			break;
		case 'n':
			next = 1;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return usage();
		}
	}
	if (argc - optind < 2 || argc - optind > 3)
		return usage();
	hdrs[nh] = NULL;
	req.headers = nh ? hdrs : NULL;
	req.method = argv[optind];
	req.url = argv[optind + 1];
	req.want_headers = nf || next;
	if (argc - optind == 3) {
		req.body = argv[optind + 2];
		req.body_len = strlen(req.body);
	}
	if (http_send(&req, &resp, err, sizeof err) < 0) {
		fprintf(stderr, "error: %s\n", err);
		rc = 1;
	} else {
		printf("status %d\n", resp.status);
		for (i = 0; i < nf; i++) {
			if ((v = http_header(&resp, fields[i])))
				printf("field %s: %s\n", fields[i], v);
			else
				printf("field %s absent\n", fields[i]);
		}
		if (next)
			print_next(&resp, req.url);
		fflush(stdout);
		rc = put_body(&resp.body, out) < 0 ? 1 : 0;
	}
	http_response_free(&resp);
	return rc;
}
