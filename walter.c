/* walter.c - run a YAML build/deploy pipeline.
 *
 * Contents, in data-flow order:
 *   1. utilities      die/warn, checked allocation, the model arena
 *   2. options        Go-style flags into the one options struct
 *   3. log            "HH:MM:SS  INFO [name] text" lines, batched
 *   4. yaml-to-json   -yaml-to-json, the YAML debugging/conformance view
 *   5. config         YAML tree -> phases of TASK/SEQUENCE/PARALLEL nodes
 *   6. executor       fork/exec, one poll loop, self-pipe, captures
 *   7. scheduler      sequence/parallel semantics, skip, abort, cleanup
 *   8. notifications  messenger/notify events
 *   9. reports        summary
 *  10. main
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_mini.h"
#include "yaml_mini.h"

#define WALTER_VERSION "2.1.0"

extern char **environ;

/* ==== 1. utilities ================================================== */

static void
vmsg(const char *fmt, va_list ap)
{
	size_t n = strlen(fmt);
	int e = errno;

	fputs("walter: ", stderr);
	vfprintf(stderr, fmt, ap);
	if (n && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(e));
	fputc('\n', stderr);
}

/* Print "walter: msg" (": strerror" when fmt ends in ':'), exit 2. */
static void __attribute__((noreturn, format(printf, 1, 2)))
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(2);
}

static void __attribute__((format(printf, 1, 2)))
warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		fatal("out of memory");
	return p;
}

static void *
xreallocarray(void *p, size_t n, size_t m)
{
	if (m && n > SIZE_MAX / m)
		fatal("out of memory");
	if (!(p = realloc(p, n && m ? n * m : 1)))
		fatal("out of memory");
	return p;
}

static char *
xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

/* buf_* from http_mini report OOM; walter itself dies on it. */
static void
xput(struct buf *b, const void *p, size_t n)
{
	if (buf_put(b, p, n) < 0)
		fatal("out of memory");
}

static void
xputs(struct buf *b, const char *s)
{
	xput(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
xprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_grow(b, (size_t)n) < 0)
		fatal("out of memory");
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* The model (nodes, strings) lives in one arena freed at exit. */
struct chunk {
	struct chunk *next;
	size_t used, size;
	max_align_t data[];
};
static struct chunk *arena;

static void *
amalloc(size_t n)
{
	struct chunk *c = arena;
	size_t a = sizeof(max_align_t);
	void *p;

	n = (n + a - 1) / a * a;
	if (!c || c->size - c->used < n) {
		size_t size = n > 32768 ? n : 32768;
		c = xmalloc(sizeof *c + size);
		c->next = arena, c->used = 0, c->size = size;
		arena = c;
	}
	p = (char *)c->data + c->used;
	c->used += n;
	return memset(p, 0, n);
}

static char *
astrndup(const char *s, size_t n)
{
	char *p = amalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static char *
astrdup(const char *s)
{
	return astrndup(s, strlen(s));
}

static void
arena_free(void)
{
	struct chunk *c;

	while ((c = arena)) {
		arena = c->next;
		free(c);
	}
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Read a whole file ("-" is stdin) into b. -1 with errno on failure. */
static int
read_file(const char *path, struct buf *b)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
	ssize_t r;

	if (fd < 0)
		return -1;
	for (;;) {
		if (buf_grow(b, 65536) < 0) {
			errno = ENOMEM;
			goto err;
		}
		r = read(fd, b->data + b->len, 65536);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto err;
		if (r == 0)
			break;
		b->len += (size_t)r;
		if (b->len > YAML_MAX_INPUT) {
			errno = EFBIG;
			goto err;
		}
	}
	b->data[b->len] = '\0';
	if (fd)
		close(fd);
	return 0;
err:
	if (fd) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return -1;
}

/* ==== 2. options ==================================================== */

enum level { L_DEBUG, L_INFO, L_WARN, L_ERROR, L_FATAL };
enum color { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER };

/* The one options struct: everything global in walter lives here. */
static struct {
	const char *config;
	int build, deploy, force, version, check, plan, help;
	enum level threshold;
	const char *mode, *logdir, *junit, *json, *yaml_to_json;
	long jobs;
	double timeout;
	enum color color;
} opt = { "pipeline.yml", 0, 0, 0, 0, 0, 0, 0, L_INFO, "local", NULL,
          NULL, NULL, NULL, 0, 0, COLOR_AUTO };

static const char usage_text[] =
	"usage: walter [flags]\n"
	"  -c, -config FILE   pipeline file (default pipeline.yml; - reads stdin)\n"
	"  -build, -deploy    phases of a build/deploy file to run\n"
	"  -f                 force: run every stage even after a failure\n"
	"  -check             validate the file strictly, run nothing\n"
	"  -plan              print what would run, run nothing\n"
	"  -jobs N            run at most N tasks at once\n"
	"  -timeout DUR       abort the whole run after DUR (90, 90s, 5m, 1h)\n"
	"  -threshold LEVEL   least log level shown: DEBUG INFO WARN ERROR\n"
	"  -color WHEN        auto, always or never (NO_COLOR is honoured)\n"
	"  -logDir DIR        also write the log to a file in DIR\n"
	"  -junit FILE        write a JUnit XML report\n"
	"  -json FILE         write a JSON run report\n"
	"  -mode MODE         local (default) or service\n"
	"  -yaml-to-json FILE print each YAML document of FILE as JSON\n"
	"  -v, -version       print the version\n"
	"  -h                 this help\n"
	"exit status: 0 ok, 1 a task failed, 2 usage or configuration error,\n"
	"124 -timeout expired, 128+N killed by signal N\n";

static void __attribute__((noreturn))
usage(const char *fmt, const char *arg)
{
	fputs("walter: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	fputs(usage_text, stderr);
	exit(2);
}

/* Parse "90", "1.5", "90s", "5m", "1h", "250ms" into seconds; -1 if bad. */
static double
parse_duration(const char *s)
{
	char *end;
	double v;

	if (!s || !*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0 || !isfinite(v))
		return -1;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		return v;
	if (!strcmp(end, "ms"))
		return v / 1000;
	if (!strcmp(end, "m"))
		return v * 60;
	if (!strcmp(end, "h"))
		return v * 3600;
	return -1;
}

static int
parse_level(const char *s, enum level *l)
{
	static const char *const names[] = { "DEBUG", "INFO", "WARN", "ERROR", "FATAL" };
	size_t i;

	for (i = 0; i < 5; i++)
		if (!strcasecmp(s, names[i]) || (s[0] == '0' + (int)i && !s[1])) {
			*l = (enum level)i;
			return 0;
		}
	if (!strcasecmp(s, "WARNING"))
		return *l = L_WARN, 0;
	return -1;
}

enum flagkind { F_BOOL, F_STR };
static const struct flag {
	const char *name;
	enum flagkind kind;
	void *dst;
} flags[] = {
	{ "c", F_STR, &opt.config }, { "config", F_STR, &opt.config },
	{ "build", F_BOOL, &opt.build }, { "deploy", F_BOOL, &opt.deploy },
	{ "f", F_BOOL, &opt.force }, { "v", F_BOOL, &opt.version },
	{ "version", F_BOOL, &opt.version }, { "check", F_BOOL, &opt.check },
	{ "plan", F_BOOL, &opt.plan }, { "h", F_BOOL, &opt.help },
	{ "help", F_BOOL, &opt.help }, { "mode", F_STR, &opt.mode },
	{ "logDir", F_STR, &opt.logdir }, { "log_dir", F_STR, &opt.logdir },
	{ "junit", F_STR, &opt.junit }, { "json", F_STR, &opt.json },
	{ "yaml-to-json", F_STR, &opt.yaml_to_json },
	{ "threshold", F_STR, NULL }, { "color", F_STR, NULL },
	{ "jobs", F_STR, NULL }, { "timeout", F_STR, NULL },
};

/* Values that need checking beyond "is a string". */
static void
set_special(const char *name, const char *v)
{
	char *end;

	if (!strcmp(name, "threshold")) {
		if (parse_level(v, &opt.threshold) < 0)
			usage("invalid -threshold %s (DEBUG, INFO, WARN, ERROR)", v);
	} else if (!strcmp(name, "color")) {
		if (!strcmp(v, "auto"))
			opt.color = COLOR_AUTO;
		else if (!strcmp(v, "always"))
			opt.color = COLOR_ALWAYS;
		else if (!strcmp(v, "never"))
			opt.color = COLOR_NEVER;
		else
			usage("invalid -color %s (auto, always, never)", v);
	} else if (!strcmp(name, "jobs")) {
		errno = 0;
		opt.jobs = strtol(v, &end, 10);
		if (errno || *end || end == v || opt.jobs < 1)
			usage("invalid -jobs %s (a whole number >= 1)", v);
	} else if (!strcmp(name, "timeout")) {
		if ((opt.timeout = parse_duration(v)) <= 0)
			usage("invalid -timeout %s (like 90, 90s, 5m, 1h)", v);
	}
}

static int
parse_bool_flag(const char *v)
{
	if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcmp(v, "t"))
		return 1;
	if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcmp(v, "f"))
		return 0;
	return -1;
}

/* Go's flag rules: -x or --x, "-x v" or "-x=v", booleans only "-b=v",
 * parsing stops at the first non-flag or after "--". */
static void
parse_flags(int argc, char **argv)
{
	int i;
	size_t k;

	for (i = 1; i < argc; i++) {
		char *a = argv[i], *name, *eq;
		const struct flag *f = NULL;

		if (a[0] != '-' || !a[1])
			break;
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		name = a + 1 + (a[1] == '-');
		if ((eq = strchr(name, '=')))
			*eq = '\0';
		for (k = 0; k < sizeof flags / sizeof *flags; k++)
			if (!strcmp(flags[k].name, name))
				f = &flags[k];
		if (!f)
			usage("flag provided but not defined: -%s", name);
		if (f->kind == F_BOOL) {
			int b = eq ? parse_bool_flag(eq + 1) : 1;
			if (b < 0)
				usage("invalid boolean value for flag -%s", name);
			*(int *)f->dst = b;
			continue;
		}
		if (!eq && i + 1 >= argc)
			usage("flag needs an argument: -%s", name);
		if (f->dst)
			*(const char **)f->dst = eq ? eq + 1 : argv[++i];
		else
			set_special(name, eq ? eq + 1 : argv[++i]);
	}
	if (i < argc)
		usage("unexpected argument %s (flags only)", argv[i]);
}

/* ==== 3. log ======================================================== */

/* Run-time state of the log: pending output, the cached clock string. */
static struct {
	struct buf out;       /* bytes waiting for stderr (and the log file) */
	int err_ok;           /* stderr still takes writes */
	int file;             /* -logDir file, or -1 */
	int color;
	time_t sec;           /* second that stamp shows */
	char stamp[16];       /* "HH:MM:SS" */
} lg = { { NULL, 0, 0 }, 1, -1, 0, (time_t)-1, "" };

static void
write_all(int fd, const char *p, size_t n, int *ok)
{
	while (n && *ok) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			*ok = 0; /* closed or full: drop the log, keep running */
			break;
		}
		p += w, n -= (size_t)w;
	}
}

static void
log_flush(void)
{
	int fok = lg.file >= 0;

	if (!lg.out.len)
		return;
	write_all(2, lg.out.data, lg.out.len, &lg.err_ok);
	if (lg.file >= 0) {
		write_all(lg.file, lg.out.data, lg.out.len, &fok);
		if (!fok) {
			close(lg.file);
			lg.file = -1;
		}
	}
	lg.out.len = 0;
}

/* Append one log line; text may hold several lines only for messages of
 * walter itself, never for child output (split upstream). */
static void
log_line(enum level lv, const char *name, const char *text, size_t len)
{
	static const char *const word[] = { "DEBUG", " INFO", " WARN", "ERROR", "FATAL" };
	static const char *const col[] = { "37", "34", "33", "31", "31" };
	time_t t;

	if (lv < opt.threshold)
		return;
	if ((t = time(NULL)) != lg.sec) {
		struct tm tm;
		lg.sec = t;
		localtime_r(&t, &tm);
		snprintf(lg.stamp, sizeof lg.stamp, "%02d:%02d:%02d", tm.tm_hour % 100,
		         tm.tm_min % 100, tm.tm_sec % 100);
	}
	xputs(&lg.out, lg.stamp);
	xput(&lg.out, " ", 1);
	if (lg.color)
		xprintf(&lg.out, "\033[%sm%s\033[0m", col[lv], word[lv]);
	else
		xputs(&lg.out, word[lv]);
	xput(&lg.out, " ", 1);
	if (name) {
		xput(&lg.out, "[", 1);
		xputs(&lg.out, name);
		xput(&lg.out, "] ", 2);
	}
	xput(&lg.out, text, len);
	xput(&lg.out, "\n", 1);
	if (lg.out.len >= 65536)
		log_flush();
}

static void __attribute__((format(printf, 3, 4)))
logmsg(enum level lv, const char *name, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	log_line(lv, name, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

static void
log_open(void)
{
	const char *nc = getenv("NO_COLOR");
	char path[PATH_MAX];
	struct tm tm;
	time_t t = time(NULL);

	lg.color = opt.color == COLOR_ALWAYS ||
	           (opt.color == COLOR_AUTO && isatty(2) && !(nc && *nc));
	if (!opt.logdir)
		return;
	localtime_r(&t, &tm);
	snprintf(path, sizeof path, "%s/walter-%04d%02d%02d-%02d%02d%02d-%ld.log",
	         opt.logdir, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	         tm.tm_hour, tm.tm_min, tm.tm_sec, (long)getpid());
	lg.file = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (lg.file < 0)
		fatal("-logDir: cannot create %s:", path);
}

/* "1.23s", "2m03s": how long something took, for log lines. */
static const char *
fmt_dur(double s, char *b, size_t n)
{
	if (s < 60)
		snprintf(b, n, "%.2fs", s);
	else
		snprintf(b, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
	return b;
}

/* ==== 4. yaml-to-json =============================================== */

/* A decimal/octal/hex core-schema integer as JSON; big values stay exact
 * as decimal digits when decimal, hex/octal past 64 bits are refused. */
static int
put_int(struct buf *b, const char *s)
{
	const char *p = s;
	int neg = 0;
	unsigned long long v;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (p[0] == '0' && (p[1] == 'o' || p[1] == 'x')) {
		errno = 0;
		v = strtoull(p + 2, NULL, p[1] == 'o' ? 8 : 16);
		if (errno)
			return -1;
		xprintf(b, "%s%llu", neg ? "-" : "", v);
		return 0;
	}
	while (p[0] == '0' && p[1])
		p++;
	xprintf(b, "%s%s", neg && strcmp(p, "0") ? "-" : "", p);
	return 0;
}

static int
put_float(struct buf *b, const char *s)
{
	double v = strtod(s, NULL);
	char t[64];

	if (strstr(s, "inf") || strstr(s, "Inf") || strstr(s, "INF") ||
	    strstr(s, "nan") || strstr(s, "NaN") || strstr(s, "NAN"))
		return -1; /* JSON has no infinity or NaN */
	snprintf(t, sizeof t, "%.17g", v);
	if (!strchr(t, '.') && !strchr(t, 'e') && !strchr(t, 'n'))
		strcat(t, ".0");
	xputs(b, t);
	return 0;
}

static int
json_node(struct buf *b, const struct yaml_node *n, int depth, char *err,
          size_t errlen)
{
	size_t i;

	if (depth > 4 * YAML_MAX_DEPTH) {
		snprintf(err, errlen, "%d:%d: nesting too deep after alias expansion",
		         n->line, n->col);
		return -1;
	}
	switch (yaml_resolve(n)) {
	case YAML_TAG_NULL: xputs(b, "null"); return 0;
	case YAML_TAG_BOOL: xputs(b, (n->text[0] | 32) == 't' ? "true" : "false"); return 0;
	case YAML_TAG_INT:
		if (put_int(b, n->text) == 0)
			return 0;
		snprintf(err, errlen, "%d:%d: integer out of range", n->line, n->col);
		return -1;
	case YAML_TAG_FLOAT:
		if (put_float(b, n->text) == 0)
			return 0;
		snprintf(err, errlen, "%d:%d: %s has no JSON form", n->line, n->col, n->text);
		return -1;
	case YAML_TAG_SEQ:
	case YAML_TAG_MAP:
		break;
	default:
		if (json_put_string(b, n->text, n->len) < 0)
			fatal("out of memory");
		return 0;
	}
	xput(b, n->kind == YAML_MAP ? "{" : "[", 1);
	for (i = 0; i < n->n; i++) {
		const struct yaml_node *k = n->child[i];
		if (i)
			xput(b, n->kind == YAML_MAP && i % 2 ? ":" : ",", 1);
		if (n->kind == YAML_MAP && i % 2 == 0) {
			if (k->kind != YAML_SCALAR) {
				snprintf(err, errlen, "%d:%d: mapping key is not a scalar",
				         k->line, k->col);
				return -1;
			}
			if (json_put_string(b, k->text, k->len) < 0)
				fatal("out of memory");
		} else if (json_node(b, k, depth + 1, err, errlen) < 0) {
			return -1;
		}
	}
	xput(b, n->kind == YAML_MAP ? "}" : "]", 1);
	return 0;
}

/* -yaml-to-json FILE: each document as one line of compact JSON. */
static int
yaml_to_json_main(const char *path)
{
	struct buf in = { 0 }, out = { 0 };
	struct yaml_doc *doc;
	char err[512], e2[480];
	size_t i;
	int rc = 0, ok = 1;

	if (read_file(path, &in) < 0)
		fatal("%s:", path);
	if (!(doc = yaml_parse(in.data ? in.data : "", in.len, path, err, sizeof err))) {
		warn("%s", err);
		buf_free(&in);
		return 2;
	}
	for (i = 0; i < yaml_count(doc) && rc == 0; i++) {
		if (json_node(&out, yaml_root(doc, i), 0, e2, sizeof e2) < 0) {
			warn("%s:%s", path, e2);
			rc = 2;
			break;
		}
		xput(&out, "\n", 1);
	}
	if (rc == 0)
		write_all(1, out.data ? out.data : "", out.len, &ok);
	yaml_free(doc);
	buf_free(&in);
	buf_free(&out);
	return rc ? rc : ok ? 0 : 2;
}

/* ==== 10. main ====================================================== */

int
main(int argc, char **argv)
{
	parse_flags(argc, argv);
	if (opt.help) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (opt.version) {
		printf("walter version %s\n", WALTER_VERSION);
		return 0;
	}
	if (opt.yaml_to_json)
		return yaml_to_json_main(opt.yaml_to_json);
	log_open();
	logmsg(L_ERROR, NULL, "running pipelines is not built yet");
	log_flush();
	arena_free();
	return 2;
}
