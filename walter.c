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
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath, strtok_r, SA_RESTART */
#endif
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

/* ==== 5. config ==================================================== */

enum kind { N_TASK, N_SEQ, N_PAR };
enum status { S_PENDING, S_RUNNING, S_OK, S_FAILED, S_SKIPPED, S_ABORTED, S_CONDFALSE };
enum wstate { W_NONE, W_PRESENT, W_ABSENT };
enum { CAP_OUT = 1, CAP_ERR = 2, CAP_COMB = 4 };

struct waitfor {
	const char *host, *file, *state;
	long port;
	double delay, timeout;
	enum wstate want;
	int set;
};

struct task_rt;
struct capture;

struct node {
	enum kind kind;
	const char *name;
	const char *file;
	int line, col;
	struct node *parent;
	struct node **kids;
	size_t nkids;
	int logged;              /* groups: log Start/End (D2); tasks always */
	/* TASK */
	const char *command;     /* sh -c COMMAND, or NULL */
	char **argv;             /* command given as a sequence: exec'd as is */
	const char *script;      /* type shell: sh SCRIPT */
	const char *dir, *only_if, *var;
	struct waitfor wait;
	double timeout, retry_delay;
	long retry;
	char **env;              /* NAME=VALUE added to the environment */
	int report_full, suppress_all, message;
	struct node *input;      /* D2: whose stdout is this task's stdin */
	int ncons;               /* tasks still to read this task's stdout */
	unsigned need;           /* CAP_*: output kept for later use */
	/* run time */
	enum status st;
	int code;                /* exit status, 128+N for signal N, -1 none */
	int attempts;
	double t0, t1;
	struct task_rt *rt;
	struct capture *cap[3];  /* stdout, stderr, combined */
	size_t idx, ndone;       /* groups: next child, children finished */
	int failed;
};

struct phase {
	const char *label;       /* "Pipeline", "Build", "Deploy" */
	struct node *main, *cleanup;
	int present;
};

struct notifier {
	const char *type, *file;
	int line, col;
	const char **keys, **vals; /* substituted string settings */
	size_t n;
};

/* What the loader built, plus run-wide bookkeeping. */
static struct {
	int dialect;             /* 1: pipeline (D0/D1), 2: build/deploy (D2) */
	struct phase ph[2];      /* D1: [0] pipeline; D2: [0] build, [1] deploy */
	struct notifier *nt;
	size_t nnt;
	int message_mode;        /* D0: some stage has "message" */
	int service;
	int errors;
	const char **specials;   /* "__OUT__name__" style names referenced */
	size_t nspecials;
	struct node **tasks;     /* every TASK, in document order */
	size_t ntasks;
} cfg;

struct def {                 /* D1 require'd stage: "ns::name" */
	const char *key, *file;
	const struct yaml_node *map;
};

struct kv {
	const struct yaml_node *k, *v;
};

/* Load-time context: the file being read and what is open around it. */
struct ctx {
	const char *file;
	struct def *defs;
	size_t ndefs;
	const char **stack;      /* include chain (real paths), for cycles */
	size_t depth;
	struct yaml_doc **docs;  /* kept until loading ends */
	size_t ndocs;
	int dialect;
};

static void __attribute__((format(printf, 4, 5)))
cfg_msg(int is_err, const char *file, const struct yaml_node *at, const char *fmt, ...)
{
	va_list ap;

	if (at)
		fprintf(stderr, "walter: %s:%d:%d: %s", file, at->line, at->col,
		        is_err ? "" : "warning: ");
	else
		fprintf(stderr, "walter: %s: %s", file, is_err ? "" : "warning: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (is_err || opt.check)
		cfg.errors++;
}

#define cerr(c, at, ...) cfg_msg(1, (c)->file, (at), __VA_ARGS__)
#define cwarn(c, at, ...) cfg_msg(0, (c)->file, (at), __VA_ARGS__)

static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, d[64];

	if (lb >= 64 || la >= 64)
		return 99;
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++) {
		size_t prev = d[0];
		d[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cur = d[j], sub = prev + (a[i - 1] != b[j - 1]);
			d[j] = d[j] + 1 < d[j - 1] + 1 ? d[j] + 1 : d[j - 1] + 1;
			if (sub < d[j])
				d[j] = sub;
			prev = cur;
		}
	}
	return d[lb];
}

/* Warn about key k unknown in a context whose keys are known[]. */
static void
unknown_key(struct ctx *c, const struct yaml_node *k, const char *where,
            const char *const *known)
{
	const char *best = NULL;
	size_t bd = 3, d;

	for (; *known; known++)
		if ((d = edit_distance(k->text, *known)) < bd)
			bd = d, best = *known;
	if (best)
		cwarn(c, k, "unknown key \"%s\" in %s (did you mean \"%s\"?)", k->text, where, best);
	else
		cwarn(c, k, "unknown key \"%s\" in %s", k->text, where);
}

static int
is_null(const struct yaml_node *n)
{
	return n->kind == YAML_SCALAR && yaml_resolve(n) == YAML_TAG_NULL;
}

/* The pairs of a mapping with "<<" merges applied: own keys first, then
 * merged keys the mapping does not have itself. */
static struct kv *
pairs(struct ctx *c, const struct yaml_node *m, size_t *np)
{
	struct kv *kv;
	size_t n = 0, cap = m->n / 2 + 1, i, j, k;

	kv = xreallocarray(NULL, cap, sizeof *kv);
	for (i = 0; i + 1 < m->n; i += 2) {
		const struct yaml_node *key = m->child[i], *v = m->child[i + 1];
		if (key->kind == YAML_SCALAR && key->style == YAML_PLAIN && !strcmp(key->text, "<<"))
			continue;
		kv[n].k = key, kv[n].v = v, n++;
	}
	for (i = 0; i + 1 < m->n; i += 2) {
		const struct yaml_node *key = m->child[i], *v = m->child[i + 1];
		size_t nm = v->kind == YAML_SEQ ? v->n : 1;
		if (!(key->kind == YAML_SCALAR && key->style == YAML_PLAIN && !strcmp(key->text, "<<")))
			continue;
		for (j = 0; j < nm; j++) {
			const struct yaml_node *src = v->kind == YAML_SEQ ? v->child[j] : v;
			if (src->kind != YAML_MAP) {
				cerr(c, src, "a merge key (<<) takes a mapping or a list of mappings");
				continue;
			}
			for (k = 0; k + 1 < src->n; k += 2) {
				size_t x;
				for (x = 0; x < n; x++)
					if (!strcmp(kv[x].k->text, src->child[k]->text))
						break;
				if (x < n)
					continue;
				kv = xreallocarray(kv, n + 1, sizeof *kv);
				kv[n].k = src->child[k], kv[n].v = src->child[k + 1], n++;
			}
		}
	}
	*np = n;
	return kv;
}

/* ---- typed values --------------------------------------------------- */

static const char *
str_val(struct ctx *c, const struct yaml_node *k, const struct yaml_node *v)
{
	if (v->kind != YAML_SCALAR) {
		cerr(c, v, "\"%s\" must be a string, not a %s", k->text,
		     v->kind == YAML_MAP ? "mapping" : "list");
		return NULL;
	}
	return astrndup(v->text, v->len);
}

/* YAML 1.1 booleans as go-yaml read them: y/yes/on/true, n/no/off/false. */
static int
bool_val(struct ctx *c, const struct yaml_node *k, const struct yaml_node *v)
{
	static const char *const yes[] = { "y", "yes", "on", "true", NULL };
	static const char *const no[] = { "n", "no", "off", "false", NULL };
	size_t i;

	if (v->kind == YAML_SCALAR)
		for (i = 0; yes[i]; i++) {
			if (!strcasecmp(v->text, yes[i]))
				return 1;
			if (!strcasecmp(v->text, no[i]))
				return 0;
		}
	cerr(c, v, "\"%s\" must be true or false", k->text);
	return 0;
}

static long
int_val(struct ctx *c, const struct yaml_node *k, const struct yaml_node *v, long lo, long hi)
{
	char *end;
	long n;

	if (v->kind == YAML_SCALAR) {
		errno = 0;
		n = strtol(v->text, &end, 10);
		if (!errno && end != v->text && !*end && n >= lo && n <= hi)
			return n;
	}
	cerr(c, v, "\"%s\" must be a whole number from %ld to %ld", k->text, lo, hi);
	return lo;
}

static double
dur_val(struct ctx *c, const struct yaml_node *k, const struct yaml_node *v)
{
	double d = v->kind == YAML_SCALAR ? parse_duration(v->text) : -1;

	if (d < 0)
		cerr(c, v, "\"%s\" must be a duration like 90, 90s, 1.5m or 1h", k->text);
	return d < 0 ? 0 : d;
}

/* ---- $NAME substitution --------------------------------------------- */

/* $NAME, ${NAME}, $$ -> $; unknown or empty NAME -> "" with a warning. */
static const char *
subst(struct ctx *c, const struct yaml_node *at, const char *s)
{
	struct buf b = { 0 };
	const char *p, *val;
	char *r;

	if (!strchr(s, '$'))
		return s;
	for (p = s; *p; p++) {
		size_t n = 0;
		int brace;
		char name[256];
		if (*p != '$') {
			xput(&b, p, 1);
			continue;
		}
		if (p[1] == '$') {
			xput(&b, "$", 1);
			p++;
			continue;
		}
		brace = p[1] == '{';
		if (!isalpha((unsigned char)p[1 + brace]) && p[1 + brace] != '_') {
			xput(&b, "$", 1);
			continue;
		}
		while (isalnum((unsigned char)p[1 + brace + n]) || p[1 + brace + n] == '_')
			n++;
		if (brace && p[2 + n] != '}') {
			cerr(c, at, "unterminated ${ in \"%s\"", s);
			break;
		}
		snprintf(name, sizeof name, "%.*s", (int)n, p + 1 + brace);
		if ((val = getenv(name)) && *val)
			xputs(&b, val);
		else
			cwarn(c, at, "NO environment variable: $%s", name);
		p += n + 2 * brace;
	}
	r = astrndup(b.data ? b.data : "", b.len);
	buf_free(&b);
	return r;
}

/* __OUT["name"] (and __ERR, __COMBINED, __RESULT) -> $__OUT__name__, the
 * variable walter puts into later children's environment. */
static const char *
specials(struct ctx *c, const struct yaml_node *at, const char *s)
{
	static const char *const kinds[] = { "__OUT", "__ERR", "__COMBINED", "__RESULT" };
	struct buf b = { 0 };
	const char *p = s;
	size_t i, n;
	char *r;

	if (!strstr(s, "__"))
		return s;
	while (*p) {
		for (i = 0; i < 4; i++) {
			size_t kl = strlen(kinds[i]);
			if (strncmp(p, kinds[i], kl) || strncmp(p + kl, "[\"", 2))
				continue;
			for (n = 0; isalnum((unsigned char)p[kl + 2 + n]) || p[kl + 2 + n] == '_' ||
			            p[kl + 2 + n] == ' '; n++)
				;
			if (!n || strncmp(p + kl + 2 + n, "\"]", 2))
				continue;
			break;
		}
		if (i == 4) {
			xput(&b, p++, 1);
			continue;
		}
		{
			size_t kl = strlen(kinds[i]), start = b.len + 1, j;
			char *var;
			xprintf(&b, "$%s__%.*s__", kinds[i], (int)n, p + kl + 2);
			for (j = start; j < b.len; j++)
				if (b.data[j] == ' ')
					b.data[j] = '_';
			var = astrndup(b.data + start, b.len - start);
			cfg.specials = xreallocarray(cfg.specials, cfg.nspecials + 1, sizeof *cfg.specials);
			cfg.specials[cfg.nspecials++] = var;
			p += kl + 2 + n + 2;
		}
	}
	(void)c, (void)at;
	r = astrndup(b.data, b.len);
	buf_free(&b);
	return r;
}

/* ---- wait_for ------------------------------------------------------- */

static void
wait_set(struct ctx *c, struct waitfor *w, const struct yaml_node *at,
         const char *key, const char *val)
{
	char *end;

	if (!strcmp(key, "host"))
		w->host = val;
	else if (!strcmp(key, "file"))
		w->file = val;
	else if (!strcmp(key, "state"))
		w->state = val;
	else if (!strcmp(key, "port")) {
		errno = 0;
		w->port = strtol(val, &end, 10);
		if (errno || end == val || *end || w->port > 65535)
			cerr(c, at, "wait_for: port must be a number from 1 to 65535");
	} else if (!strcmp(key, "delay")) {
		errno = 0;
		w->delay = strtod(val, &end);
		if (errno || end == val || *end || !isfinite(w->delay))
			cerr(c, at, "wait_for: delay must be a number of seconds");
	} else if (!strcmp(key, "timeout")) {
		if ((w->timeout = parse_duration(val)) < 0)
			cerr(c, at, "wait_for: timeout must be a duration like 30, 30s or 5m");
	} else {
		cerr(c, at, "No wait_for property such as: %s", key);
	}
}

/* The D2 rules and messages, checked at load time. */
static void
wait_check(struct ctx *c, struct waitfor *w, const struct yaml_node *at)
{
	const char *st = w->state ? w->state : "";
	const char *msg = NULL;

	if (w->port && w->file)
		msg = "wait_for: cannot use port and file at the same time";
	else if (w->port && w->delay)
		msg = "wait_for: cannot use port and delay at the same time";
	else if (w->file && w->delay)
		msg = "wait_for: cannot use file and delay at the same time";
	else if (w->delay < 0)
		msg = "wait_for: delay must be positive";
	else if (w->port < 0)
		msg = "wait_for: port must be positive";
	else if (w->port && !w->host)
		msg = "wait_for: cannot use port without host";
	else if (w->host && !w->port)
		msg = "wait_for: cannot use host without port";
	if (msg) {
		cerr(c, at, "%s", msg);
		return;
	}
	if (!strcmp(st, "present") || !strcmp(st, "ready"))
		w->want = W_PRESENT;
	else if (!strcmp(st, "absent") || !strcmp(st, "unready"))
		w->want = W_ABSENT;
	else if (w->delay == 0)
		cerr(c, at, "wait_for: state does not support %s", st);
	w->set = 1;
}

static void
wait_parse(struct ctx *c, struct waitfor *w, const struct yaml_node *v)
{
	static const char *const known[] = { "host", "port", "file", "state", "delay", "timeout", NULL };
	size_t i, n;

	memset(w, 0, sizeof *w);
	if (v->kind == YAML_SCALAR) {
		char *s = (char *)subst(c, v, v->text), *tok, *save = NULL;
		if (s == v->text)
			s = astrdup(s);
		for (tok = strtok_r(s, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			char *eq = strchr(tok, '=');
			if (!eq || !eq[1] || eq == tok || strchr(eq + 1, '=')) {
				cerr(c, v, "Given segment does not have two segments: %s", tok);
				continue;
			}
			*eq = '\0';
			wait_set(c, w, v, tok, eq + 1);
		}
	} else if (v->kind == YAML_MAP) {
		struct kv *kv = pairs(c, v, &n);
		for (i = 0; i < n; i++) {
			const char *val;
			size_t j;
			for (j = 0; known[j] && strcmp(known[j], kv[i].k->text); j++)
				;
			if (!known[j]) {
				unknown_key(c, kv[i].k, "wait_for", known);
				continue;
			}
			if ((val = str_val(c, kv[i].k, kv[i].v)))
				wait_set(c, w, kv[i].v, kv[i].k->text, subst(c, kv[i].v, val));
		}
		free(kv);
	} else {
		cerr(c, v, "wait_for must be a string like \"host=h port=80 state=ready\" or a mapping");
		return;
	}
	if (strstr(v->kind == YAML_SCALAR ? v->text : "", "__OUT[") )
		cerr(c, v, "special variables are not available in wait_for");
	wait_check(c, w, v);
}

/* ---- stages and tasks ------------------------------------------------ */

struct vec {
	struct node **p;
	size_t n, cap;
};

static void
vec_add(struct vec *v, struct node *n)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 8;
		v->p = xreallocarray(v->p, v->cap, sizeof *v->p);
	}
	v->p[v->n++] = n;
}

static struct node *
new_node(struct ctx *c, enum kind k, const char *name, const struct yaml_node *at)
{
	struct node *n = amalloc(sizeof *n);

	n->kind = k, n->name = name, n->file = c->file;
	n->line = at->line, n->col = at->col;
	n->code = -1;
	n->logged = k == N_TASK;
	return n;
}

/* Give a group its children (copied out of v into the arena). */
static void
adopt(struct node *g, struct vec *v)
{
	size_t i;

	g->kids = amalloc((v->n ? v->n : 1) * sizeof *g->kids);
	for (i = 0; i < v->n; i++) {
		g->kids[i] = v->p[i];
		v->p[i]->parent = g;
	}
	g->nkids = v->n;
	free(v->p);
	v->p = NULL, v->n = v->cap = 0;
}

static void add_entries(struct ctx *c, const struct yaml_node *seq, struct vec *out);

static struct node *
group(struct ctx *c, enum kind k, const char *name, const struct yaml_node *seq, int logged)
{
	struct node *g = new_node(c, k, name, seq);
	struct vec v = { 0 };

	g->logged = logged;
	if (seq->kind != YAML_SEQ && !is_null(seq))
		cerr(c, seq, "expected a list of %s", c->dialect == 2 ? "tasks" : "stages");
	else
		add_entries(c, seq, &v);
	adopt(g, &v);
	return g;
}

/* What a stage mapping says, before it becomes nodes. */
struct stagedef {
	struct node *t;
	const struct yaml_node *kids, *type;
	const char *kidsfile;
	enum kind kidkind;
	int has_call;
};

static const char *const stage_keys[] = {
	"name", "stage_name", "type", "stage_type", "command", "file", "directory",
	"only_if", "wait_for", "report_full_output", "suppress_all", "message",
	"parallel", "run_after", "serial", "include", "call", "timeout", "retry",
	"retry_delay", "env", NULL
};

static void
deprecated(struct ctx *c, const struct yaml_node *k, const char *use)
{
	static char said[3];
	int i = !strcmp(k->text, "stage_name") ? 0 : !strcmp(k->text, "stage_type") ? 1 : 2;

	if (!said[i]++)
		cwarn(c, k, "\"%s\" is deprecated, please use \"%s\" instead", k->text, use);
}

static void
set_command(struct ctx *c, struct node *t, const struct yaml_node *v)
{
	size_t i;

	if (v->kind == YAML_SCALAR) {
		t->command = specials(c, v, astrndup(v->text, v->len));
		return;
	}
	if (v->kind != YAML_SEQ || v->n == 0) {
		cerr(c, v, "\"command\" must be a string or a non-empty list of arguments");
		return;
	}
	t->argv = amalloc((v->n + 1) * sizeof *t->argv);
	for (i = 0; i < v->n; i++) {
		if (v->child[i]->kind != YAML_SCALAR)
			cerr(c, v->child[i], "command arguments must be strings");
		else
			t->argv[i] = astrndup(v->child[i]->text, v->child[i]->len);
	}
}

static void
set_env(struct ctx *c, struct node *t, const struct yaml_node *v)
{
	size_t i, n;
	struct kv *kv;

	if (v->kind != YAML_MAP) {
		cerr(c, v, "\"env\" must be a mapping of NAME: value");
		return;
	}
	kv = pairs(c, v, &n);
	t->env = amalloc((n + 1) * sizeof *t->env);
	for (i = 0; i < n; i++) {
		const char *k = kv[i].k->text, *p;
		struct buf b = { 0 };
		for (p = k; isalnum((unsigned char)*p) || *p == '_'; p++)
			;
		if (*p || !*k || isdigit((unsigned char)*k)) {
			cerr(c, kv[i].k, "\"%s\" is not a valid environment variable name", k);
			continue;
		}
		if (kv[i].v->kind != YAML_SCALAR) {
			cerr(c, kv[i].v, "the value of env %s must be a string", k);
			continue;
		}
		xprintf(&b, "%s=%s", k, is_null(kv[i].v) ? "" : kv[i].v->text);
		t->env[i] = astrndup(b.data, b.len);
		buf_free(&b);
	}
	free(kv);
}

/* One key of a stage/task mapping into sd. */
static void
stage_key(struct ctx *c, struct stagedef *sd, const struct yaml_node *k, const struct yaml_node *v)
{
	struct node *t = sd->t;
	const char *key = k->text;
	size_t i;

	for (i = 0; stage_keys[i] && strcmp(stage_keys[i], key); i++)
		;
	if (!stage_keys[i]) {
		unknown_key(c, k, c->dialect == 2 ? "a task" : "a stage", stage_keys);
		return;
	}
	if (is_null(v) && strcmp(key, "command")) {
		cwarn(c, k, "stage option \"%s\" is not specified", key);
		return;
	}
	if (!strcmp(key, "name") || !strcmp(key, "stage_name")) {
		if (key[0] == 's')
			deprecated(c, k, "name");
		if (key[0] == 'n' || !t->name)
			t->name = str_val(c, k, v);
	} else if (!strcmp(key, "type") || !strcmp(key, "stage_type")) {
		if (key[0] == 's')
			deprecated(c, k, "type");
		if (key[0] == 't' || !sd->type)
			sd->type = v;
	} else if (!strcmp(key, "command")) {
		if (is_null(v))
			cwarn(c, k, "stage option \"command\" is not specified");
		else
			set_command(c, t, v);
	} else if (!strcmp(key, "file")) {
		t->script = str_val(c, k, v);
	} else if (!strcmp(key, "directory")) {
		if ((t->dir = str_val(c, k, v)) && strstr(t->dir, "__") && specials(c, v, t->dir) != t->dir)
			cerr(c, v, "special variables are not available in directory");
		else if (t->dir)
			t->dir = subst(c, v, t->dir);
	} else if (!strcmp(key, "only_if")) {
		if ((t->only_if = str_val(c, k, v)))
			t->only_if = specials(c, v, t->only_if);
	} else if (!strcmp(key, "wait_for")) {
		wait_parse(c, &t->wait, v);
	} else if (!strcmp(key, "report_full_output")) {
		t->report_full = bool_val(c, k, v);
	} else if (!strcmp(key, "suppress_all")) {
		t->suppress_all = bool_val(c, k, v);
	} else if (!strcmp(key, "message")) {
		t->message = bool_val(c, k, v);
		cfg.message_mode = 1;
	} else if (!strcmp(key, "parallel") || !strcmp(key, "run_after") || !strcmp(key, "serial")) {
		if (!strcmp(key, "run_after"))
			deprecated(c, k, "parallel");
		if (sd->kids && strcmp(key, "run_after")) {
			if (sd->kidkind == N_PAR && !strcmp(key, "serial"))
				cerr(c, k, "a task cannot have both \"parallel\" and \"serial\"");
		}
		if (!sd->kids || strcmp(key, "run_after")) {
			sd->kids = v, sd->kidsfile = c->file;
			sd->kidkind = key[0] == 's' ? N_SEQ : N_PAR;
		}
	} else if (!strcmp(key, "include")) {
		cerr(c, k, "\"include\" must be the only key of its entry");
	} else if (!strcmp(key, "call")) {
		sd->has_call = 1;
	} else if (!strcmp(key, "timeout")) {
		t->timeout = dur_val(c, k, v);
	} else if (!strcmp(key, "retry")) {
		t->retry = int_val(c, k, v, 0, 1000);
	} else if (!strcmp(key, "retry_delay")) {
		t->retry_delay = dur_val(c, k, v);
	} else if (!strcmp(key, "env")) {
		set_env(c, t, v);
	}
}

static const struct def *
find_def(struct ctx *c, const char *key)
{
	size_t i = c->ndefs;

	while (i--) /* a later definition replaces an earlier one */
		if (!strcmp(c->defs[i].key, key))
			return &c->defs[i];
	return NULL;
}

/* Apply the keys of a "call"ed definition, then the caller's own. */
static void
stage_call(struct ctx *c, struct stagedef *sd, const struct yaml_node *callv,
           struct kv *own, size_t nown)
{
	const struct def *d;
	struct kv *dkv;
	size_t i, j, nd;
	const char *saved = c->file;

	if (callv->kind != YAML_SCALAR || !(d = find_def(c, callv->text))) {
		cerr(c, callv, "%s is not registered (see \"require\")",
		     callv->kind == YAML_SCALAR ? callv->text : "call");
		return;
	}
	c->file = d->file;
	dkv = pairs(c, d->map, &nd);
	for (i = 0; i < nd; i++)
		stage_key(c, sd, dkv[i].k, dkv[i].v);
	c->file = saved;
	for (i = 0; i < nown; i++) {
		if (!strcmp(own[i].k->text, "call"))
			continue;
		for (j = 0; j < nd && strcmp(dkv[j].k->text, own[i].k->text); j++)
			;
		if (j < nd)
			cerr(c, own[i].k, "overriding required stage is forbidden (\"%s\" is set by %s)",
			     own[i].k->text, d->key);
		else
			stage_key(c, sd, own[i].k, own[i].v);
	}
	sd->t->name = astrdup(d->key);
	free(dkv);
}

static void
stage_type(struct ctx *c, struct stagedef *sd)
{
	struct node *t = sd->t;
	const char *ty = sd->type && sd->type->kind == YAML_SCALAR ? sd->type->text : "command";

	if (sd->type && sd->type->kind != YAML_SCALAR)
		cerr(c, sd->type, "\"type\" must be command or shell");
	else if (!strcmp(ty, "shell") || !strcmp(ty, "shell_script")) {
		if (!strcmp(ty, "shell_script"))
			cwarn(c, sd->type, "type \"shell_script\" means \"shell\"");
		if (!t->script)
			cerr(c, sd->type, "a shell stage needs \"file\" (the script to run)");
		if (t->command || t->argv)
			cwarn(c, sd->type, "\"command\" is ignored in a shell stage (it runs \"file\")");
		t->command = NULL, t->argv = NULL;
	} else if (strcmp(ty, "command")) {
		cerr(c, sd->type, "No specified stage type: '%s' (use command or shell)", ty);
	} else if (t->script) {
		cwarn(c, sd->type, "\"file\" is only used by shell stages");
		t->script = NULL;
	}
}

/* A stage/task mapping -> node: a TASK, a group, or for a stage with both
 * a command and children SEQUENCE[TASK, group] (children run after it). */
static struct node *
stage(struct ctx *c, const struct yaml_node *m, const char *name)
{
	struct stagedef sd = { 0 };
	struct node *t, *g, *s;
	const struct yaml_node *callv = NULL;
	struct kv *kv;
	size_t i, n;
	struct vec v = { 0 };

	if (m->kind != YAML_MAP) {
		cerr(c, m, "a %s must be a mapping", c->dialect == 2 ? "task" : "stage");
		return NULL;
	}
	sd.t = t = new_node(c, N_TASK, name, m);
	kv = pairs(c, m, &n);
	for (i = 0; i < n; i++)
		if (!strcmp(kv[i].k->text, "call"))
			callv = kv[i].v;
	if (callv)
		stage_call(c, &sd, callv, kv, n);
	else
		for (i = 0; i < n; i++)
			stage_key(c, &sd, kv[i].k, kv[i].v);
	free(kv);
	stage_type(c, &sd);
	if (!t->name) {
		char b[64];
		snprintf(b, sizeof b, "line %d", m->line);
		t->name = astrdup(b);
	}
	if (!sd.kids)
		return t;
	{
		const char *saved = c->file;
		int d2 = c->dialect == 2;
		c->file = sd.kidsfile;
		g = group(c, sd.kidkind, t->name, sd.kids, d2);
		c->file = saved;
		if (d2 && !t->command && !t->argv && !t->script) {
			if (t->only_if || t->wait.set || t->timeout > 0)
				cwarn(c, m, "only_if, wait_for and timeout apply to tasks, not to the group \"%s\"", t->name);
			return g;
		}
	}
	s = new_node(c, N_SEQ, t->name, m);
	s->logged = 0;
	vec_add(&v, t);
	vec_add(&v, g);
	adopt(s, &v);
	return s;
}

static void
include(struct ctx *c, const struct yaml_node *item, const struct yaml_node *pathv, struct vec *out)
{
	struct buf in = { 0 };
	struct yaml_doc *doc;
	const char *path, *saved = c->file;
	char real[PATH_MAX], err[512];
	const struct yaml_node *root;
	size_t i;

	if (item->n != 2)
		cerr(c, item, "\"include\" must be the only key of its entry");
	if (pathv->kind != YAML_SCALAR || !pathv->len) {
		cerr(c, pathv, "\"include\" takes a file path");
		return;
	}
	path = subst(c, pathv, pathv->text);
	if (!realpath(path, real) || read_file(path, &in) < 0) {
		cerr(c, pathv, "include %s: %s", path, strerror(errno));
		buf_free(&in);
		return;
	}
	for (i = 0; i < c->depth; i++)
		if (!strcmp(c->stack[i], real)) {
			cerr(c, pathv, "include cycle: %s includes itself", path);
			buf_free(&in);
			return;
		}
	if (c->depth >= 64) {
		cerr(c, pathv, "includes nested more than 64 deep");
		buf_free(&in);
		return;
	}
	doc = yaml_parse(in.data ? in.data : "", in.len, path, err, sizeof err);
	buf_free(&in);
	if (!doc) {
		fprintf(stderr, "walter: %s\n", err);
		cfg.errors++;
		return;
	}
	c->docs = xreallocarray(c->docs, c->ndocs + 1, sizeof *c->docs);
	c->docs[c->ndocs++] = doc;
	root = yaml_count(doc) ? yaml_root(doc, 0) : NULL;
	c->file = astrdup(path);
	if (root && !is_null(root) && root->kind != YAML_SEQ)
		cerr(c, root, "an included file must be a list of tasks");
	else if (root && root->kind == YAML_SEQ) {
		c->stack = xreallocarray(c->stack, c->depth + 1, sizeof *c->stack);
		c->stack[c->depth++] = astrdup(real);
		add_entries(c, root, out);
		c->depth--;
	}
	c->file = saved;
}

static void
add_entries(struct ctx *c, const struct yaml_node *seq, struct vec *out)
{
	size_t i;

	for (i = 0; seq->kind == YAML_SEQ && i < seq->n; i++) {
		const struct yaml_node *e = seq->child[i], *inc;
		struct node *n;
		if (e->kind == YAML_MAP && (inc = yaml_get(e, "include")))
			include(c, e, inc, out);
		else if ((n = stage(c, e, NULL)))
			vec_add(out, n);
	}
}

/* D1 "require": files of reusable stages, registered as "ns::name". */
static void
require(struct ctx *c, const struct yaml_node *list)
{
	size_t i, j;

	if (list->kind != YAML_SEQ) {
		cerr(c, list, "\"require\" must be a list of file paths");
		return;
	}
	for (i = 0; i < list->n; i++) {
		const struct yaml_node *p = list->child[i], *root, *ns, *st;
		struct buf in = { 0 };
		struct yaml_doc *doc;
		const char *path, *file;
		char err[512];

		if (p->kind != YAML_SCALAR) {
			cerr(c, p, "a \"require\" entry must be a file path");
			continue;
		}
		path = subst(c, p, p->text);
		if (read_file(path, &in) < 0) {
			cerr(c, p, "require %s: %s", path, strerror(errno));
			continue;
		}
		doc = yaml_parse(in.data ? in.data : "", in.len, path, err, sizeof err);
		buf_free(&in);
		if (!doc) {
			fprintf(stderr, "walter: %s\n", err);
			cfg.errors++;
			continue;
		}
		c->docs = xreallocarray(c->docs, c->ndocs + 1, sizeof *c->docs);
		c->docs[c->ndocs++] = doc;
		file = astrdup(path);
		root = yaml_count(doc) ? yaml_root(doc, 0) : NULL;
		ns = root ? yaml_get(root, "namespace") : NULL;
		st = root ? yaml_get(root, "stages") : NULL;
		if (!ns || ns->kind != YAML_SCALAR || !ns->len || !st || st->kind != YAML_SEQ) {
			cfg_msg(1, file, root, "a required file needs \"namespace\" (a name) and \"stages\" (a list)");
			continue;
		}
		for (j = 0; j < st->n; j++) {
			const struct yaml_node *e = st->child[j], *d, *nm;
			struct buf key = { 0 };
			d = e->kind == YAML_MAP && e->n == 2 ? e->child[1] : NULL;
			nm = d && d->kind == YAML_MAP ? yaml_get(d, "name") : NULL;
			if (!nm || nm->kind != YAML_SCALAR) {
				cfg_msg(1, file, e, "each stage definition must be \"def:\" with a \"name\"");
				continue;
			}
			if (yaml_get(d, "call"))
				cfg_msg(1, file, d, "a stage definition cannot itself use \"call\"");
			xprintf(&key, "%s::%s", ns->text, nm->text);
			c->defs = xreallocarray(c->defs, c->ndefs + 1, sizeof *c->defs);
			c->defs[c->ndefs].key = astrndup(key.data, key.len);
			c->defs[c->ndefs].file = file;
			c->defs[c->ndefs++].map = d;
			buf_free(&key);
		}
	}
}

/* ---- notifiers, phases, the whole file ----------------------------- */

static const char *const notifier_types[] = {
	"fake", "slack", "hipchat", "hipchat2", "webhook", "exec", NULL
};

static void
notifier(struct ctx *c, const struct yaml_node *m)
{
	struct notifier *nt;
	struct kv *kv;
	size_t i, n;
	const struct yaml_node *ty;

	if (m->kind != YAML_MAP) {
		cerr(c, m, "a notifier must be a mapping with a \"type\"");
		return;
	}
	if (!(ty = yaml_get(m, "type")) || ty->kind != YAML_SCALAR) {
		cerr(c, m, "a notifier needs a \"type\" (fake, slack, hipchat, hipchat2, webhook, exec)");
		return;
	}
	for (i = 0; notifier_types[i] && strcmp(notifier_types[i], ty->text); i++)
		;
	if (!notifier_types[i]) {
		if (c->dialect == 2)
			cwarn(c, ty, "unknown notify type \"%s\" is ignored", ty->text);
		else
			cerr(c, ty, "no messenger type: %s", ty->text);
		return;
	}
	cfg.nt = xreallocarray(cfg.nt, cfg.nnt + 1, sizeof *cfg.nt);
	nt = &cfg.nt[cfg.nnt++];
	memset(nt, 0, sizeof *nt);
	nt->type = astrdup(ty->text), nt->file = c->file;
	nt->line = m->line, nt->col = m->col;
	kv = pairs(c, m, &n);
	nt->keys = amalloc((n + 1) * sizeof *nt->keys);
	nt->vals = amalloc((n + 1) * sizeof *nt->vals);
	for (i = 0; i < n; i++) {
		const struct yaml_node *v = kv[i].v;
		if (!strcmp(kv[i].k->text, "type"))
			continue;
		nt->keys[nt->n] = astrdup(kv[i].k->text);
		if (v->kind == YAML_SEQ) { /* suppress: [...], on: [...] */
			struct buf b = { 0 };
			size_t j;
			for (j = 0; j < v->n; j++) {
				if (v->child[j]->kind != YAML_SCALAR)
					cerr(c, v->child[j], "\"%s\" must be a list of words", kv[i].k->text);
				else
					xprintf(&b, "%s%s", j ? "," : "", v->child[j]->text);
			}
			nt->vals[nt->n++] = astrndup(b.data ? b.data : "", b.len);
			buf_free(&b);
		} else if (v->kind == YAML_SCALAR) {
			nt->vals[nt->n++] = subst(c, v, astrndup(v->text, v->len));
		} else {
			cerr(c, v, "\"%s\" must be a string", kv[i].k->text);
		}
	}
	free(kv);
}

static void
notifiers(struct ctx *c, const struct yaml_node *v, int list)
{
	size_t i;

	if (!list) {
		notifier(c, v);
		return;
	}
	if (v->kind != YAML_SEQ) {
		cerr(c, v, "\"notify\" must be a list of notifiers");
		return;
	}
	for (i = 0; i < v->n; i++)
		notifier(c, v->child[i]);
}

/* D0 README form: pipeline written as a mapping "stage name: {...}". */
static struct node *
stage_map(struct ctx *c, const struct yaml_node *m)
{
	struct node *g = new_node(c, N_SEQ, "pipeline", m);
	struct vec v = { 0 };
	size_t i;

	cwarn(c, m, "\"pipeline\" is a mapping of stage names; a list of stages is the supported form (running them in file order)");
	for (i = 0; i + 1 < m->n; i += 2) {
		struct node *n = stage(c, m->child[i + 1], astrndup(m->child[i]->text, m->child[i]->len));
		if (n)
			vec_add(&v, n);
	}
	adopt(g, &v);
	g->logged = 0;
	return g;
}

static struct node *
main_list(struct ctx *c, const struct yaml_node *v, const char *what)
{
	if (v && v->kind == YAML_MAP && !strcmp(what, "pipeline"))
		return stage_map(c, v);
	if (v && v->kind != YAML_SEQ && !is_null(v))
		cerr(c, v, "\"%s\" must be a list of %s", what, c->dialect == 2 ? "tasks" : "stages");
	if (v && v->kind == YAML_SEQ)
		return group(c, N_SEQ, what, v, 0);
	return new_node(c, N_SEQ, what, v ? v : &(struct yaml_node){ .line = 1, .col = 1 });
}

static void
phase(struct ctx *c, struct phase *ph, const char *label, const struct yaml_node *v)
{
	static const char *const known[] = { "tasks", "cleanup", NULL };
	const struct yaml_node *tasks = NULL, *clean = NULL;
	struct kv *kv;
	size_t i, n;

	ph->label = label;
	ph->present = v != NULL;
	if (v && v->kind == YAML_SEQ) {
		tasks = v;
	} else if (v && v->kind == YAML_MAP) {
		kv = pairs(c, v, &n);
		for (i = 0; i < n; i++) {
			if (!strcmp(kv[i].k->text, "tasks"))
				tasks = kv[i].v;
			else if (!strcmp(kv[i].k->text, "cleanup"))
				clean = kv[i].v;
			else
				unknown_key(c, kv[i].k, label[0] == 'B' ? "build" : "deploy", known);
		}
		free(kv);
	} else if (v && !is_null(v)) {
		cerr(c, v, "\"%s\" must be a mapping with \"tasks\" and \"cleanup\"", label[0] == 'B' ? "build" : "deploy");
	}
	ph->main = main_list(c, tasks, "tasks");
	ph->cleanup = main_list(c, clean, "cleanup");
}

static void
load_d1(struct ctx *c, const struct yaml_node *root)
{
	static const char *const known[] = { "pipeline", "cleanup", "messenger", "notify",
	                                     "service", "require", NULL };
	const struct yaml_node *pl = NULL, *cl = NULL, *req;
	struct kv *kv;
	size_t i, n;

	if ((req = yaml_get(root, "require")))
		require(c, req);
	kv = pairs(c, root, &n);
	for (i = 0; i < n; i++) {
		const char *k = kv[i].k->text;
		const struct yaml_node *v = kv[i].v;
		if (!strcmp(k, "pipeline"))
			pl = v;
		else if (!strcmp(k, "cleanup"))
			cl = v;
		else if (!strcmp(k, "messenger"))
			notifiers(c, v, 0);
		else if (!strcmp(k, "notify"))
			notifiers(c, v, 1);
		else if (!strcmp(k, "service"))
			cfg.service = v->kind == YAML_MAP;
		else if (strcmp(k, "require"))
			unknown_key(c, kv[i].k, "the top level", known);
	}
	free(kv);
	if (is_null(pl))
		cerr(c, pl, "no pipeline block in the input file (\"pipeline\" is empty)");
	cfg.ph[0].label = "Pipeline";
	cfg.ph[0].present = 1;
	cfg.ph[0].main = main_list(c, pl, "pipeline");
	cfg.ph[0].cleanup = main_list(c, cl, "cleanup");
}

static void
load_d2(struct ctx *c, const struct yaml_node *root)
{
	static const char *const known[] = { "build", "deploy", "notify", "messenger", NULL };
	const struct yaml_node *b = NULL, *d = NULL;
	struct kv *kv;
	size_t i, n;

	if (root->kind == YAML_SEQ) {
		phase(c, &cfg.ph[0], "Build", root);
		phase(c, &cfg.ph[1], "Deploy", NULL);
		return;
	}
	kv = pairs(c, root, &n);
	for (i = 0; i < n; i++) {
		const char *k = kv[i].k->text;
		if (!strcmp(k, "build"))
			b = kv[i].v;
		else if (!strcmp(k, "deploy"))
			d = kv[i].v;
		else if (!strcmp(k, "notify"))
			notifiers(c, kv[i].v, 1);
		else if (!strcmp(k, "messenger"))
			notifiers(c, kv[i].v, 0);
		else
			unknown_key(c, kv[i].k, "the top level", known);
	}
	free(kv);
	phase(c, &cfg.ph[0], "Build", b);
	phase(c, &cfg.ph[1], "Deploy", d);
}

/* Output leaves of n: the tasks whose stdout is n's output (D2). */
static void
leaves(struct node *n, void (*fn)(struct node *, struct node *), struct node *arg)
{
	size_t i;

	if (n->kind == N_TASK)
		fn(n, arg);
	else if (n->kind == N_PAR)
		for (i = 0; i < n->nkids; i++)
			leaves(n->kids[i], fn, arg);
	else if (n->nkids)
		leaves(n->kids[n->nkids - 1], fn, arg);
}

static void
count_consumer(struct node *leaf, struct node *consumer)
{
	(void)consumer;
	leaf->ncons++;
	leaf->need |= CAP_OUT;
}

/* D2 stdin: each entry reads the previous entry's output; the first entry
 * of a group reads what the group reads. */
static void
link_inputs(struct node *n, struct node *in)
{
	size_t i;

	if (n->kind == N_TASK) {
		n->input = in;
		if (in)
			leaves(in, count_consumer, n);
		return;
	}
	for (i = 0; i < n->nkids; i++)
		link_inputs(n->kids[i], n->kind == N_SEQ && i ? n->kids[i - 1] : in);
}

static void
collect_tasks(struct node *n)
{
	size_t i, j;

	if (n->kind != N_TASK) {
		for (i = 0; i < n->nkids; i++)
			collect_tasks(n->kids[i]);
		return;
	}
	cfg.tasks = xreallocarray(cfg.tasks, cfg.ntasks + 1, sizeof *cfg.tasks);
	cfg.tasks[cfg.ntasks++] = n;
	if (!cfg.nspecials)
		return;
	{
		char *var = astrdup(n->name), *p;
		for (p = var; *p; p++)
			if (*p == ' ')
				*p = '_';
		n->var = var;
	}
	for (j = 0; j < cfg.nspecials; j++) {
		const char *s = cfg.specials[j];
		size_t l = strlen(n->var);
		const char *rest = !strncmp(s, "__OUT__", 7) ? s + 7 : !strncmp(s, "__ERR__", 7) ? s + 7 :
		                   !strncmp(s, "__COMBINED__", 12) ? s + 12 : NULL;
		if (!rest || strncmp(rest, n->var, l) || strcmp(rest + l, "__"))
			continue;
		n->need |= s[2] == 'O' ? CAP_OUT : s[2] == 'E' ? CAP_ERR : CAP_COMB;
	}
}

/* Read, parse and model the pipeline file; exit 2 on any error. */
static void
load(const char *path)
{
	struct ctx c = { 0 };
	struct buf in = { 0 };
	struct yaml_doc *doc;
	const struct yaml_node *root;
	char err[512];
	size_t i;
	int has_pl, has_bd;

	c.file = strcmp(path, "-") ? path : "<stdin>";
	if (read_file(path, &in) < 0)
		fatal("%s:", c.file);
	if (!(doc = yaml_parse(in.data ? in.data : "", in.len, c.file, err, sizeof err)))
		fatal("%s", err);
	buf_free(&in);
	c.docs = xreallocarray(NULL, 1, sizeof *c.docs);
	c.docs[c.ndocs++] = doc;
	if (yaml_count(doc) > 1)
		cerr(&c, yaml_root(doc, 1), "a pipeline file holds one YAML document");
	root = yaml_count(doc) ? yaml_root(doc, 0) : NULL;
	has_pl = root && yaml_get(root, "pipeline");
	has_bd = root && (yaml_get(root, "build") || yaml_get(root, "deploy"));
	if (root && root->kind == YAML_SEQ)
		has_bd = 1;
	if (!root || (!has_pl && !has_bd) || (root->kind != YAML_MAP && root->kind != YAML_SEQ))
		cfg_msg(1, c.file, root, "no pipeline, build or deploy section");
	else if (has_pl && has_bd)
		cerr(&c, root, "ambiguous configuration (both pipeline and build/deploy)");
	else {
		cfg.dialect = c.dialect = has_bd ? 2 : 1;
		if (has_bd)
			load_d2(&c, root);
		else
			load_d1(&c, root);
	}
	for (i = 0; i < c.ndocs; i++)
		yaml_free(c.docs[i]);
	free(c.docs), free(c.defs), free(c.stack);
	if (cfg.errors)
		exit(2);
	for (i = 0; i < 2; i++) {
		if (!cfg.ph[i].label)
			continue;
		if (cfg.dialect == 2) {
			link_inputs(cfg.ph[i].main, NULL);
			link_inputs(cfg.ph[i].cleanup, NULL);
		}
		collect_tasks(cfg.ph[i].main);
		collect_tasks(cfg.ph[i].cleanup);
	}
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
