/* http_drv - test-only driver for http_send (tests/sys/http_client.sh).
 *
 * usage: http_drv [-t CONTENT-TYPE] [-H 'Name: value']... [-P TLS-PROXY]
 *                 [-c CONNECT-MS] [-T TIMEOUT-MS] METHOD URL [BODY]
 *
 * Prints "status N" and the body on stdout and exits 0 when a response
 * arrived (any status); prints "error: REASON" on stderr and exits 1
 * otherwise, 2 on bad usage. -P '' means "no TLS proxy, not even from
 * WALTER_TLS_PROXY". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_mini.h"

#define MAXHDR 16

static int
usage(void)
{
	fputs("usage: http_drv [-t type] [-H header]... [-P tls-proxy] "
	      "[-c connect-ms] [-T timeout-ms] METHOD URL [BODY]\n",
		stderr);
	return 2;
}

int
main(int argc, char **argv)
{
	struct http_request req;
	struct http_response resp;
	const char *hdrs[MAXHDR + 1];
	char err[512];
	int c, nh = 0, rc;

	memset(&req, 0, sizeof req);
	while ((c = getopt(argc, argv, "t:H:P:c:T:")) != -1) {
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
	if (argc - optind == 3) {
		req.body = argv[optind + 2];
		req.body_len = strlen(req.body);
	}
	if (http_send(&req, &resp, err, sizeof err) < 0) {
		fprintf(stderr, "error: %s\n", err);
		rc = 1;
	} else {
		printf("status %d\n", resp.status);
		fwrite(resp.body.data, 1, resp.body.len, stdout);
		rc = 0;
	}
	buf_free(&resp.body);
	return rc;
}
