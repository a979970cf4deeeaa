/* walter.c - run a YAML build/deploy pipeline.
 *
 * Contents, in data-flow order:
 *   1. utilities      die/warn, checked allocation, the arena, whole files
 *   2. model          every shared type and all state; the formats legend
 *   3. options        Go-style flags into opt
 *   4. log            "HH:MM:SS  INFO [name] text" lines, batched; secrets
 *   5. config         YAML tree -> phases of TASK/SEQUENCE/PARALLEL nodes
 *   6. executor       spawn, captures, output lines, stdin
 *   7. scheduler      the failure rules; sequence/parallel, the poll loop
 *   8. notifications  the worker process and what it is sent
 *   9. outputs        summary, -plan, -json, -junit, -yaml-to-json
 *  10. main           flags -> load -> run -> report -> exit status
 *
 * The globals (declared in 2. model, but arena in 1. utilities) and the
 * section that writes each (the others only read it):
 *   opt    3. options        the command line
 *   lg     4. log            pending output, the clock and prefix caches
 *   sec    4. log            the secret values to mask
 *   cfg    5. config         the model: phases, notifiers, tasks
 *   R      6. executor and 7. scheduler: one run (active tasks, queue,
 *                            signals, process groups)
 *   N      8. notifications  walter's end of the worker's pipes
 *   W      8. notifications  the worker's own state (in the worker)
 *   arena  1. utilities      the memory the model lives in
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath, strtok_r, SA_RESTART */
#endif
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#ifdef __linux__
#include <sys/prctl.h>
#ifndef WALTER_POLL /* -DWALTER_POLL: poll() even where epoll exists */
#define WALTER_EPOLL 1
#include <sys/epoll.h>
#endif
#endif
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
static void __attribute__((noreturn, format(printf, 1, 2))) fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(2);
}

static void __attribute__((format(printf, 1, 2))) warn(const char *fmt, ...)
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

static void __attribute__((format(printf, 2, 3))) xprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	if (r < 0)
		fatal("out of memory");
}

/* The text encoders of http_mini, dying on OOM. */
static void
jstr(struct buf *b, const char *s, size_t n)
{
	if (json_put_string(b, s, n) < 0)
		fatal("out of memory");
}

static void
xml_text(struct buf *b, const char *s)
{
	if (xml_put_text(b, s, strlen(s)) < 0)
		fatal("out of memory");
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

/* A map from process ids (> 0) to pointers: open addressing, linear
 * probing, deletion by backward shift (no tombstones), so a lookup costs
 * the same after a million insertions and deletions as after ten. */
struct pidmap {
	pid_t *key; /* 0: a free slot */
	void **val; /* the pointer stored under key */
	size_t cap; /* slots, a power of two (0 before the first put) */
	size_t n;   /* keys stored */
};

static size_t
pm_slot(const struct pidmap *m, pid_t k)
{
	return (size_t)((uint32_t)k * 2654435761u) & (m->cap - 1);
}

/* The pointer stored under k, or NULL. */
static void *
pm_get(const struct pidmap *m, pid_t k)
{
	size_t i;

	if (!m->n)
		return NULL;
	for (i = pm_slot(m, k); m->key[i]; i = (i + 1) & (m->cap - 1))
		if (m->key[i] == k)
			return m->val[i];
	return NULL;
}

static void
pm_put(struct pidmap *m, pid_t k, void *v)
{
	size_t i;

	if (2 * (m->n + 1) > m->cap) { /* at most half full */
		struct pidmap old = *m;
		m->cap = m->cap ? 2 * m->cap : 64;
		m->key = xreallocarray(NULL, m->cap, sizeof *m->key);
		m->val = xreallocarray(NULL, m->cap, sizeof *m->val);
		memset(m->key, 0, m->cap * sizeof *m->key);
		m->n = 0;
		for (i = 0; i < old.cap; i++)
			if (old.key[i])
				pm_put(m, old.key[i], old.val[i]);
		free(old.key), free(old.val);
	}
	for (i = pm_slot(m, k); m->key[i] && m->key[i] != k; i = (i + 1) & (m->cap - 1))
		;
	m->n += !m->key[i];
	m->key[i] = k, m->val[i] = v;
}

static void
pm_del(struct pidmap *m, pid_t k)
{
	size_t i, j, h, mask = m->cap - 1;

	if (!m->n)
		return;
	for (i = pm_slot(m, k); m->key[i] != k; i = (i + 1) & mask)
		if (!m->key[i])
			return;
	/* pull back each later key of the run that may not stay behind the hole */
	for (j = (i + 1) & mask; m->key[j]; j = (j + 1) & mask) {
		h = pm_slot(m, m->key[j]);
		if (((j - h) & mask) >= ((j - i) & mask)) {
			m->key[i] = m->key[j], m->val[i] = m->val[j];
			i = j;
		}
	}
	m->key[i] = 0;
	m->n--;
}

static void
pm_free(struct pidmap *m)
{
	free(m->key), free(m->val);
	memset(m, 0, sizeof *m);
}

/* 1 when n bytes were read, 0 at EOF before any, -1 otherwise. */
static int
read_full(int fd, void *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, (char *)p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return got || r < 0 ? -1 : 0;
		got += (size_t)r;
	}
	return 1;
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

/* ==== 2. model ====================================================== */

/* Every type that more than one section uses, and all state, each global
 * with the section that writes it (the others only read it). Helper
 * types private to one family of functions (a flag table row, a stage
 * being read, a tree walk) stay next to those functions.
 *
 * Formats: the README says walter 0.x, 1.x and 2.x; the code, the tests
 * and REFERENCE.md say D0, D1 and D2:
 *   D0 = 0.x  "pipeline" of stages with stage_name/stage_type/run_after,
 *             one "messenger"
 *   D1 = 1.x  "pipeline" and "cleanup" lists, "require", "notify"
 *   D2 = 2.x  "build" and "deploy" phases, each with tasks and cleanup
 *             (or a bare list of tasks)
 * The loader reads D0 and D1 as one format, FMT_PIPELINE; D2 is
 * FMT_BUILD_DEPLOY. */
enum format { FMT_NONE, FMT_PIPELINE, FMT_BUILD_DEPLOY };

/* ---- options (written by 3. options) -------------------------------- */

enum level { L_DEBUG, L_INFO, L_WARN, L_ERROR, L_FATAL };
enum color { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER };

/* The command line. */
static struct {
	const char *config;       /* -c: the pipeline file, "-" for stdin */
	int build;                /* -build: run the build phase (D2) */
	int deploy;               /* -deploy: run the deploy phase (D2) */
	int force;                /* -f: never skip after a failure */
	int version;              /* -version: print it, run nothing */
	int check;                /* -check: validate strictly, run nothing */
	int plan;                 /* -plan: print the tree, run nothing */
	int help;                 /* -h: usage on stdout */
	enum level threshold;     /* -threshold: least level logged */
	const char *mode;         /* -mode: "local" or "service" */
	const char *logdir;       /* -logDir: also log to a file there, or NULL */
	const char *junit;        /* -junit: report file, or NULL */
	const char *json;         /* -json: report file, or NULL */
	const char *yaml_to_json; /* -yaml-to-json: the file to print, or NULL */
	long jobs;                /* -jobs: most tasks at once, 0 no limit */
	double timeout;           /* -timeout: seconds for the whole run, 0 none */
	double cleanup_timeout;   /* -cleanup-timeout: the cleanup's budget after an abort */
	enum color color;         /* -color */
} opt = { .config = "pipeline.yml",
	.threshold = L_INFO,
	.mode = "local",
	.color = COLOR_AUTO,
	.cleanup_timeout = 300 };

/* ---- the log (written by 4. log) ------------------------------------ */

/* Pending output, the cached clock string and the line prefix
 * ("HH:MM:SS  INFO [name] "), which child output reuses until the
 * second or the task changes. */
static struct {
	struct buf out;       /* bytes waiting for stderr (and the log file) */
	int err_ok;           /* stderr still takes writes */
	int file;             /* -logDir file, or -1 */
	int color;            /* levels are coloured */
	time_t sec;           /* second that stamp shows */
	char stamp[16];       /* "HH:MM:SS" */
	struct buf pre;       /* prefix of the last line */
	int pre_task;         /* pre is INFO for task pre_name at second pre_sec */
	const char *pre_name; /* the task pre was built for */
	time_t pre_sec;       /* the second pre was built in */
} lg = { .err_ok = 1, .file = -1, .sec = (time_t)-1, .pre_sec = (time_t)-1 };

/* Secrets: shown as *** in the log, reports and notifications. */
static struct {
	char **v;       /* the values to hide (4 bytes or more) */
	size_t n;       /* how many */
	struct buf out; /* the last masked text */
} sec;

/* ---- the pipeline (written by 5. config; run fields by 7. scheduler) - */

enum kind { N_TASK, N_SEQ, N_PAR };
/* A node's state; S_NSTATUS sizes an array of counts per status. */
enum status { S_PENDING, S_RUNNING, S_OK, S_FAILED, S_SKIPPED, S_ABORTED, S_CONDFALSE, S_NSTATUS };
enum wstate { W_NONE, W_PRESENT, W_ABSENT };
/* The kinds of special variables (struct special); the first three index
 * node.cap and name the output a task keeps for later (node.need). */
enum spkind { SP_OUT, SP_ERR, SP_COMBINED, SP_RESULT };
enum { CAP_OUT = 1 << SP_OUT, CAP_ERR = 1 << SP_ERR, CAP_COMB = 1 << SP_COMBINED };

/* wait_for: what a task waits for before its command starts. */
struct waitfor {
	const char *host;  /* port check: this host, */
	long port;         /* this port (0: no port check) */
	const char *file;  /* file check: this path, or NULL */
	const char *state; /* the state word as written */
	enum wstate want;  /* present/ready or absent/unready */
	double delay;      /* or simply wait this many seconds */
	double timeout;    /* give up after this many seconds, 0 never */
	int set;           /* wait_for was given (and checked) */
};

struct task_rt;
struct capture;

/* One node of a phase's tree: a TASK, or a SEQUENCE/PARALLEL group. */
struct node {
	enum kind kind;         /* N_TASK, N_SEQ or N_PAR */
	const char *name;       /* as written, or "line N" */
	const char *file;       /* the file it was written in */
	int line, col;          /* where in that file */
	struct node *parent;    /* the group it is in; NULL for a phase's list */
	struct node **kids;     /* groups: the entries, in order */
	size_t nkids;           /* how many */
	int logged;             /* log its Start/End (tasks; groups in D2) */
	const char *command;    /* TASK: sh -c COMMAND, or NULL */
	char **argv;            /* command given as a list: exec'd as is */
	const char *script;     /* type shell: sh SCRIPT */
	const char *dir;        /* directory: where it runs, or NULL */
	const char *only_if;    /* run only if this sh -c succeeds, or NULL */
	const char *var;        /* the name in special variables, or NULL */
	struct waitfor wait;    /* wait_for */
	double timeout;         /* seconds per attempt, 0 none */
	double retry_delay;     /* seconds between attempts */
	long retry;             /* attempts after the first one */
	char **env;             /* NAME=VALUE added to the environment */
	int report_full;        /* report_full_output: notify the output */
	int keep;               /* keep_running: what it leaves survives walter */
	size_t num;             /* tasks: its place in cfg.tasks, from 1 */
	int suppress_all;       /* send no notification about it */
	int message;            /* D0 "message": notify (with message_mode) */
	struct node *input;     /* D2: whose stdout is this task's stdin */
	int ncons;              /* tasks still to read this task's stdout */
	unsigned need;          /* CAP_*: output kept for later use */
	enum status st;         /* run time: where it is, how it ended */
	int code;               /* exit status, 128+N for signal N, -1 none */
	int attempts;           /* times its command started */
	double t0, t1;          /* monotonic start and end */
	struct task_rt *rt;     /* while it runs; NULL otherwise */
	struct capture *cap[3]; /* kept stdout, stderr, combined (need) */
	char **tail;            /* failed: the last lines of its output */
	size_t ntail;           /* how many */
	size_t idx;             /* groups: the next entry to start */
	size_t ndone;           /* groups: entries that reached their status */
	int more;               /* parallel: in R.more, entries left to start */
	int failed;             /* sequences: an entry failed */
};

/* A special variable (D1): __OUT["name"], __ERR["name"], __COMBINED["name"]
 * or __RESULT["name"] in a command or only_if, read once at load time and
 * run as $__OUT__name__ (and so on), set for the children that start
 * after the task named ended. */
struct special {
	enum spkind kind; /* which of the task's results it holds */
	const char *task; /* the task's name, spaces as '_' (node.var) */
	const char *env;  /* the variable's name, "__OUT__name__" */
};

/* A phase: its task list and the cleanup that always follows it. */
struct phase {
	const char *label;    /* "Pipeline", "Build", "Deploy" */
	struct node *main;    /* the tasks (a SEQUENCE) */
	struct node *cleanup; /* the cleanup (a SEQUENCE, maybe empty) */
	int present;          /* the file has this phase */
};

enum ntype { NT_FAKE, NT_SLACK, NT_HIPCHAT, NT_HIPCHAT2, NT_WEBHOOK, NT_EXEC };
/* The "on" words, as bits. */
enum { ON_SUCCESS = 1, ON_FAILURE = 2, ON_SKIPPED = 4, ON_ABORTED = 8, ON_ALL = 15 };
/* The "suppress" words, as bits. */
enum { SUP_RESULT = 1, SUP_STDOUT = 2, SUP_STDERR = 4 };

/* A notifier (messenger, or an entry of notify), checked at load time. */
struct notifier {
	const char *type;      /* the type as written */
	const char *file;      /* where it was written */
	int line, col;         /* where in that file */
	const char **keys;     /* string settings, names */
	const char **vals;     /* and values, $VARs substituted */
	size_t n;              /* how many */
	enum ntype kind;       /* the type */
	int off;               /* a needed setting is empty: send nothing */
	unsigned on;           /* ON_*: the results it is told about */
	unsigned suppress;     /* SUP_*: the messages it is not sent */
	int summary;           /* one message at the end instead of per task */
	double timeout;        /* whole exchange, seconds */
	const char *url;       /* the request URL, built for hipchat* */
	const char *where;     /* "host:port" of url, for log lines */
	const char *ctype;     /* Content-Type of the body */
	const char *auth;      /* "Authorization: Bearer ..." or NULL */
	const char *channel;   /* slack, with its '#' */
	const char *tls_proxy; /* "host:port" of a TLS terminator, or NULL */
	const char *command;   /* exec: the sh -c command */
};

/* The model the loader built. */
static struct {
	enum format format;       /* FMT_PIPELINE (D0/D1) or FMT_BUILD_DEPLOY (D2) */
	struct phase ph[2];       /* FMT_PIPELINE: [0]; D2: [0] build, [1] deploy */
	struct notifier *nt;      /* the notifiers, in file order */
	size_t nnt;               /* how many */
	int message_mode;         /* D0: some stage has "message": only those notify */
	int errors;               /* configuration errors reported */
	struct special *specials; /* the special variables commands name */
	size_t nspecials;         /* how many */
	struct node **tasks;      /* every TASK, in document order */
	size_t ntasks;            /* how many */
} cfg;

/* ---- loading (5. config, one per file being read) ------------------- */

/* A D1 require'd stage definition. */
struct def {
	const char *key;             /* "ns::name" */
	const char *file;            /* the file that defines it */
	const struct yaml_node *map; /* its mapping */
};

/* A key and its value in a mapping. */
struct kv {
	const struct yaml_node *k, *v;
};

/* An included file, read once however often it is included. */
struct incl {
	const char *path;             /* as written (after $VAR substitution) */
	const char *real;             /* its real path, for include cycles */
	const struct yaml_node *root; /* its document, NULL when empty */
	int bad;                      /* unreadable or not YAML (reported) */
};

/* Entries (tasks, groups, includes) a load may expand to: includes are
 * bounded like aliases, by what one file at YAML_MAX_NODES could hold
 * (a task takes at least three nodes), so a file that includes another
 * twice at every level fails at once instead of growing for minutes. */
enum { MAX_ENTRIES = YAML_MAX_NODES / 4 };

/* Load-time context: the file being read and what is open around it. */
struct ctx {
	const char *file;       /* the file being read */
	struct def *defs;       /* required stage definitions */
	size_t ndefs;           /* how many */
	const char **stack;     /* include chain (real paths), for cycles */
	size_t depth;           /* how many */
	struct yaml_doc **docs; /* kept until loading ends */
	size_t ndocs;           /* how many */
	struct incl *incl;      /* the files included so far */
	size_t nincl;           /* how many */
	size_t entries;         /* list entries expanded so far (MAX_ENTRIES) */
	enum format format;     /* of the main file */
	int nest;               /* groups open around the current one */
	int secret;             /* substituted values are secrets (notifiers) */
};

/* ---- a run (written by 6. executor and 7. scheduler) ---------------- */

enum { CAP_MEM_MAX = 1 << 20, LINE_MAX_LOG = 65536, TAIL_LINES = 10 };
/* A running task is queued for a -jobs slot, in wait_for, running its
 * only_if, running its command, or waiting to retry. */
enum tphase { T_QUEUED, T_WAIT, T_COND, T_RUN, T_RETRY };

/* Output kept for later (stdin of the next task, special variables):
 * memory up to 1 MiB, then an unlinked temp file, so walter's memory does
 * not grow with what a task prints. */
struct capture {
	struct buf mem; /* the bytes while they fit in memory */
	int fd;         /* the spill file, or -1 */
	off_t size;     /* bytes kept */
};

/* The process of a running task (its only_if or its command). */
struct proc {
	pid_t pid;          /* 0 once reaped */
	int fd[2];          /* stdout, stderr read ends, -1 when closed */
	struct buf part[2]; /* unfinished line per stream */
	int in;             /* write end feeding stdin, -1 if none */
	struct node **src;  /* stdin: output leaves of the input, in order */
	size_t nsrc;        /* how many */
	size_t isrc;        /* the one being fed */
	off_t off;          /* how far into it */
	int status;         /* waitpid status once reaped */
};

/* A wait_for port check under way: the host's addresses, resolved in a
 * child process (getaddrinfo may wait 10 s for a DNS server that does
 * not answer: never in the loop), then a non-blocking connect to each in
 * turn, watched by the loop like any descriptor. */
struct probe {
	pid_t pid;       /* the resolver child, 0 none */
	int fd;          /* its pipe, or the socket connecting; -1 none */
	struct buf got;  /* resolved addresses (struct addr records) */
	size_t next;     /* offset in got of the address to try next */
	double end;      /* this step gives up then (resolve, connect) */
	double resolved; /* when got was filled (kept 1 s), 0 never */
};

/* A task while it runs (node.rt). */
struct task_rt {
	enum tphase ph;         /* where it is */
	size_t ai;              /* its index in R.act */
	size_t hi;              /* its index in R.heap plus 1, 0 when not there */
	double due;             /* when task_timers must look at it, 0 never */
	int cond;               /* the process is only_if, not the command */
	struct proc p;          /* the process */
	double wake;            /* wait_for poll, delay end or retry time */
	double wait_end;        /* wait_for timeout, 0 none */
	double deadline;        /* task timeout, 0 none */
	double term_at;         /* SIGTERM sent at, 0 not yet */
	int abort;              /* being aborted (signal, -timeout, D2 failure) */
	int timed_out;          /* its timeout expired */
	int kill_sent;          /* SIGKILL sent after the grace */
	int deferred;           /* queued after EMFILE/EAGAIN, not for -jobs */
	char *tail[TAIL_LINES]; /* last lines of output, for the summary */
	size_t ntail;           /* how many */
	struct probe pr;        /* wait_for: the port check under way */
	char why[256];          /* failure reason when not an exit status */
};

/* What a descriptor the loop watches is for. */
enum wkind {
	WK_NONE,  /* not watched */
	WK_SELF,  /* the self-pipe: a signal came */
	WK_OUT,   /* a task's stdout */
	WK_ERR,   /* a task's stderr */
	WK_IN,    /* a task's stdin, fed from captured output */
	WK_NLOG,  /* the notification worker's log lines */
	WK_NEV,   /* the notification worker's event pipe, while q is not empty */
	WK_PROBE, /* wait_for: a resolver's pipe or a connecting socket */
	WK_GUARD, /* the guardian's pipe, while gq is not empty */
};

/* The loop's view of one descriptor (R.watch, indexed by fd). A ready
 * event carries fd and gen; gen changes whenever the fd is watched or
 * unwatched, so an event that was read before its fd was closed (or
 * closed and reused) within the same wake-up is recognised and dropped. */
struct watch {
	enum wkind kind; /* what it is for */
	struct node *n;  /* the task, for WK_OUT, WK_ERR, WK_IN, WK_PROBE */
	unsigned gen;    /* changes at each watch and unwatch */
	short events;    /* POLLIN or POLLOUT; 0 not watched */
};

/* A process group whose leader (a task's process) was reaped while
 * members were left: signalled at the end until it is empty. */
struct lgroup {
	pid_t g;        /* the group id (the task process's pid) */
	struct node *n; /* the task */
};

/* One run. The loop's work per wake-up is proportional to what is ready,
 * not to what is running: descriptors are watched with epoll where it
 * exists (R.watch gives what each is for), exited processes are found by
 * pid in R.pids, timers are the heap R.heap ordered by task_rt.due, and
 * a group counts its finished entries (node.ndone). */
static struct {
	int selfpipe[2];            /* signal handler -> poll loop */
	int epfd;                   /* the epoll instance, -1 where there is none */
	struct watch *watch;        /* per fd: what the loop watches it for */
	size_t nwatch;              /* entries in watch */
	struct pidmap pids;         /* pid -> the task whose process it is */
	struct node **heap;         /* tasks with a timer, earliest due first */
	size_t nheap;               /* how many */
	struct node **more;         /* parallel groups with entries left to start */
	size_t nmore;               /* how many */
	int burst;                  /* entries parallel groups may start this turn */
	volatile sig_atomic_t sig;  /* the last INT/TERM/HUP */
	volatile sig_atomic_t nsig; /* how many of them */
	struct node **act;          /* tasks started and not finished */
	size_t nact;                /* how many */
	struct node **queue;        /* waiting for a -jobs slot, FIFO */
	size_t nqueue;              /* entries in queue */
	size_t qhead;               /* the first one still waiting */
	long running;               /* processes alive */
	int cancel;                 /* the list is aborted: start nothing */
	int timed_out;              /* -timeout expired */
	int in_cleanup;             /* a cleanup list is running */
	double cleanup_end;         /* after an abort: the cleanup's end, 0 none yet */
	int cleanup_over;           /* the cleanup ran past cleanup_end: stopped */
	double grace;               /* seconds from SIGTERM to SIGKILL */
	double deadline;            /* -timeout as monotonic time, 0 none */
	struct lgroup *linger;      /* groups that outlived their task's process */
	size_t nlinger;             /* how many */
	char runid[48];             /* "PID.TIME": this run, in WALTER_TASK_ID */
	int subreaper;              /* orphans of tasks come to walter */
	pid_t guard;                /* the guardian, 0 none */
	int gfd;                    /* its pipe, write end, -1 none */
	struct buf gq;              /* records it has not taken yet */
	const char *sh;             /* the shell for commands */
	struct node *first_failed;  /* its last lines end the summary */
	char **spec_val;            /* per cfg.specials: NAME=VALUE, or NULL */
	time_t started;             /* wall clock at the start, for reports */
	double t0;                  /* monotonic clock at the start */
} R = { .selfpipe = { -1, -1 }, .epfd = -1, .gfd = -1, .grace = 5.0, .sh = "/bin/sh" };

/* ---- notifications (written by 8. notifications) -------------------- */

/* walter -> worker: this header, then label (the task name, may be
 * empty), then the body. worker -> walter: a log line. */
struct wire_ev {
	uint32_t nt, nlabel, nbody;
};
struct wire_log {
	uint32_t level, nname, ntext;
};

/* One event for the worker, as it goes down the pipe (wire_ev, label,
 * body), in walter's queue until the worker has taken all of it. */
struct nmsg {
	struct nmsg *next; /* the next one in the queue */
	size_t len;        /* bytes in data */
	int summary;       /* a summary: never dropped */
	char data[];       /* what goes down the pipe */
};

/* walter's end of the worker. */
static struct {
	pid_t pid;         /* the worker until reaped, else 0 */
	int ev;            /* event pipe, write end */
	int log;           /* log pipe, read end */
	struct nmsg *head; /* events the worker has not taken yet, oldest first */
	struct nmsg *tail; /* the newest */
	size_t qbytes;     /* bytes in the queue (at most NQ_MAX, summaries aside) */
	size_t qoff;       /* how much of head it took */
	struct buf in;     /* log bytes not yet parsed */
	int ending;        /* the run is over: the worker may exit */
	size_t dropped;    /* task messages dropped because the queue was full */
	char host[256];    /* this machine, for events */
} N = { .ev = -1, .log = -1 };

/* The worker's own state (in the worker process only). */
static struct {
	int log;    /* log pipe write end, -1 once broken */
	char *down; /* per notifier: timed out, drop the rest */
	int sp[2];  /* self-pipe: SIGCHLD wakes exec_wait */
} W = { .log = -1, .sp = { -1, -1 } };

/* ==== 3. options ==================================================== */

static const char usage_text[] =
	"usage: walter [flags]\n"
	"  -c, -config FILE   pipeline file (default pipeline.yml; - reads stdin)\n"
	"  -build, -deploy    phases of a build/deploy file to run\n"
	"  -f                 force: run every stage even after a failure\n"
	"  -check             validate the file strictly, run nothing\n"
	"  -plan              print what would run, run nothing\n"
	"  -jobs N            run at most N tasks at once\n"
	"  -timeout DUR       abort the whole run after DUR (90, 90s, 5m, 1h)\n"
	"  -cleanup-timeout DUR  after an abort, stop the cleanup after DUR (5m)\n"
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

static void __attribute__((noreturn)) usage(const char *fmt, const char *arg)
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
	{ "c", F_STR, &opt.config },
	{ "config", F_STR, &opt.config },
	{ "build", F_BOOL, &opt.build },
	{ "deploy", F_BOOL, &opt.deploy },
	{ "f", F_BOOL, &opt.force },
	{ "v", F_BOOL, &opt.version },
	{ "version", F_BOOL, &opt.version },
	{ "check", F_BOOL, &opt.check },
	{ "plan", F_BOOL, &opt.plan },
	{ "h", F_BOOL, &opt.help },
	{ "help", F_BOOL, &opt.help },
	{ "mode", F_STR, &opt.mode },
	{ "logDir", F_STR, &opt.logdir },
	{ "log_dir", F_STR, &opt.logdir },
	{ "junit", F_STR, &opt.junit },
	{ "json", F_STR, &opt.json },
	{ "yaml-to-json", F_STR, &opt.yaml_to_json },
	{ "threshold", F_STR, NULL },
	{ "color", F_STR, NULL },
	{ "jobs", F_STR, NULL },
	{ "timeout", F_STR, NULL },
	{ "cleanup-timeout", F_STR, NULL },
};

/* Values that need checking beyond "is a string". */
static void
flag_value(const char *name, const char *v)
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
	} else if (!strcmp(name, "cleanup-timeout")) {
		if ((opt.cleanup_timeout = parse_duration(v)) <= 0)
			usage("invalid -cleanup-timeout %s (like 30s, 5m)", v);
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
			flag_value(name, eq ? eq + 1 : argv[++i]);
	}
	if (i < argc)
		usage("unexpected argument %s (flags only)", argv[i]);
}

/* ==== 4. log ======================================================== */

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

/* Refresh the cached clock string: localtime once a second, not per line. */
static void
log_clock(void)
{
	time_t t = time(NULL);
	struct tm tm;

	if (t == lg.sec)
		return;
	lg.sec = t;
	localtime_r(&t, &tm);
	snprintf(lg.stamp, sizeof lg.stamp, "%02d:%02d:%02d", tm.tm_hour % 100, tm.tm_min % 100,
		tm.tm_sec % 100);
}

static void
prefix_build(enum level lv, const char *name)
{
	static const char *const word[] = { "DEBUG", " INFO", " WARN", "ERROR", "FATAL" };
	static const char *const col[] = { "37", "34", "33", "31", "31" };

	lg.pre.len = 0;
	xputs(&lg.pre, lg.stamp);
	xput(&lg.pre, " ", 1);
	if (lg.color)
		xprintf(&lg.pre, "\033[%sm%s\033[0m", col[lv], word[lv]);
	else
		xputs(&lg.pre, word[lv]);
	xput(&lg.pre, " ", 1);
	if (name) {
		xput(&lg.pre, "[", 1);
		xputs(&lg.pre, name);
		xput(&lg.pre, "] ", 2);
	}
	lg.pre_task = 0;
}

/* Append the prefix and one line of text: two copies, no allocation once
 * the buffer has grown; written out in 64 KiB batches. */
static void
log_text(const char *text, size_t len)
{
	size_t n = lg.pre.len + len + 1;
	char *d;

	if (buf_grow(&lg.out, n) < 0)
		fatal("out of memory");
	d = lg.out.data + lg.out.len;
	memcpy(d, lg.pre.data, lg.pre.len);
	memcpy(d + lg.pre.len, text, len);
	d[n - 1] = '\n';
	lg.out.len += n;
	lg.out.data[lg.out.len] = '\0';
	if (lg.out.len >= 65536)
		log_flush();
}

/* ---- secrets: shown as *** in the log, reports and notifications ---- */

/* Remember a value to hide; short values would mask half the log. */
static void
secret_add(const char *v)
{
	size_t i;

	if (!v || strlen(v) < 4)
		return;
	for (i = 0; i < sec.n; i++)
		if (!strcmp(sec.v[i], v))
			return;
	sec.v = xreallocarray(sec.v, sec.n + 1, sizeof *sec.v);
	sec.v[sec.n++] = xstrdup(v);
}

/* Environment variables whose names say they hold a secret. */
static int
secret_name(const char *name, size_t len)
{
	static const char *const words[] = { "TOKEN", "SECRET", "PASSWORD", "PASSWD", "API_KEY",
		"PRIVATE_KEY", "WEBHOOK", NULL };
	size_t i, j, k;

	for (i = 0; words[i]; i++)
		for (j = 0; j + strlen(words[i]) <= len; j++) {
			for (k = 0;
				words[i][k] && toupper((unsigned char)name[j + k]) == words[i][k];
				k++)
				;
			if (!words[i][k])
				return 1;
		}
	return 0;
}

static void
secrets_from_env(void)
{
	char **e;

	for (e = environ; *e; e++) {
		const char *eq = strchr(*e, '=');
		if (eq && secret_name(*e, (size_t)(eq - *e)))
			secret_add(eq + 1);
	}
}

static const char *
find(const char *s, size_t n, const char *w, size_t m)
{
	const char *p = s, *end = s + n;

	while (m && (size_t)(end - p) >= m &&
		(p = memchr(p, w[0], (size_t)(end - p - (ptrdiff_t)m + 1)))) {
		if (!memcmp(p, w, m))
			return p;
		p++;
	}
	return NULL;
}

/* s[0..*n) with every secret replaced by "***": s itself when nothing is
 * to hide, else text in a buffer valid until the next call. */
static const char *
mask(const char *s, size_t *n)
{
	size_t i, j, len = *n;

	for (i = 0; i < sec.n && !find(s, len, sec.v[i], strlen(sec.v[i])); i++)
		;
	if (i == sec.n)
		return s;
	sec.out.len = 0;
	for (j = 0; j < len;) {
		for (i = 0; i < sec.n; i++) {
			size_t m = strlen(sec.v[i]);
			if (m <= len - j && !memcmp(s + j, sec.v[i], m))
				break;
		}
		if (i < sec.n) {
			xputs(&sec.out, "***");
			j += strlen(sec.v[i]);
		} else {
			xput(&sec.out, s + j++, 1);
		}
	}
	*n = sec.out.len;
	return sec.out.data;
}

/* Append one log line, secrets masked; text may hold several lines only
 * for messages of walter itself, never for child output (split upstream). */
static void
log_line(enum level lv, const char *name, const char *text, size_t len)
{
	if (lv < opt.threshold)
		return;
	if (sec.n)
		text = mask(text, &len);
	log_clock();
	prefix_build(lv, name); /* name may be anyone's buffer: not cached */
	log_text(text, len);
}

/* One line of a task's output, stamped with the clock as log_clock last
 * read it; out_line has masked secrets. name is the task's model string,
 * which lives for the whole run, so the pointer identifies the prefix. */
static void
log_task_line(const char *name, const char *text, size_t len)
{
	if (L_INFO < opt.threshold)
		return;
	if (!lg.pre_task || lg.pre_name != name || lg.pre_sec != lg.sec) {
		prefix_build(L_INFO, name);
		lg.pre_task = 1, lg.pre_name = name, lg.pre_sec = lg.sec;
	}
	log_text(text, len);
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

	lg.color =
		opt.color == COLOR_ALWAYS || (opt.color == COLOR_AUTO && isatty(2) && !(nc && *nc));
	if (!opt.logdir)
		return;
	localtime_r(&t, &tm);
	snprintf(path, sizeof path, "%s/walter-%04d%02d%02d-%02d%02d%02d-%ld.log", opt.logdir,
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		(long)getpid());
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
		snprintf(b, n, "%ldm%02lds", (long)s / 60, (long)s % 60);
	return b;
}

/* ==== 5. config ==================================================== */

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

#define cerr(c, at, ...)  cfg_msg(1, (c)->file, (at), __VA_ARGS__)
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
unknown_key(struct ctx *c, const struct yaml_node *k, const char *where, const char *const *known)
{
	const char *best = NULL;
	size_t bd = 3, d;

	for (; *known; known++)
		if ((d = edit_distance(k->text, *known)) < bd)
			bd = d, best = *known;
	if (best)
		cwarn(c, k, "unknown key \"%s\" in %s (did you mean \"%s\"?)", k->text, where,
			best);
	else
		cwarn(c, k, "unknown key \"%s\" in %s", k->text, where);
}

/* A tag on a pipeline value is an error unless it is a core-schema tag
 * (!!str, !!int, ...) or "!": "command: !vault x" or GitLab's "!reference
 * [...]" mean something walter does not do, so it must not run the text.
 * Reports the first such tag in file's tree and returns 1. */
static int
tag_check(const char *file, const struct yaml_node *n, int depth)
{
	static const char yamlorg[] = "tag:yaml.org,2002:";
	static const char why[] = "walter does not resolve tags: write the value itself";
	const char *t = n->tagname;
	size_t i;

	if (n->tag > YAML_TAG_SEQ) {
		if (!strncmp(t, yamlorg, sizeof yamlorg - 1))
			cfg_msg(1, file, n, "tag !!%s is not supported (%s)",
				t + sizeof yamlorg - 1, why);
		else
			cfg_msg(1, file, n, "tag %s%s%s is not supported (%s)",
				*t == '!' ? "" : "!<", t, *t == '!' ? "" : ">", why);
		return 1;
	}
	for (i = 0; i < n->n && depth < 4 * YAML_MAX_DEPTH; i++)
		if (tag_check(file, n->child[i], depth + 1))
			return 1;
	return 0;
}

static int
is_null(const struct yaml_node *n)
{
	return n && n->kind == YAML_SCALAR && yaml_resolve(n) == YAML_TAG_NULL;
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
		if (key->kind == YAML_SCALAR && key->style == YAML_PLAIN &&
			!strcmp(key->text, "<<"))
			continue;
		kv[n].k = key, kv[n].v = v, n++;
	}
	for (i = 0; i + 1 < m->n; i += 2) {
		const struct yaml_node *key = m->child[i], *v = m->child[i + 1];
		size_t nm = v->kind == YAML_SEQ ? v->n : 1;
		if (!(key->kind == YAML_SCALAR && key->style == YAML_PLAIN &&
			    !strcmp(key->text, "<<")))
			continue;
		for (j = 0; j < nm; j++) {
			const struct yaml_node *src = v->kind == YAML_SEQ ? v->child[j] : v;
			if (src->kind != YAML_MAP) {
				cerr(c, src,
					"a merge key (<<) takes a mapping or a list of mappings");
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
		if ((val = getenv(name)) && *val) {
			xputs(&b, val);
			if (c->secret)
				secret_add(val);
		} else
			cwarn(c, at, "NO environment variable: $%s", name);
		p += n + 2 * (size_t)brace;
	}
	r = astrndup(b.data ? b.data : "", b.len);
	buf_free(&b);
	return r;
}

static const char *const special_kinds[] = { [SP_OUT] = "__OUT",
	[SP_ERR] = "__ERR",
	[SP_COMBINED] = "__COMBINED",
	[SP_RESULT] = "__RESULT" };

/* Record the special variable of kind k for the task named name[0..n);
 * returns the variable's name. */
static const char *
special_add(enum spkind k, const char *name, size_t n)
{
	struct special *sp;
	struct buf b = { 0 };
	char *task = astrndup(name, n), *q;

	for (q = task; *q; q++)
		if (*q == ' ')
			*q = '_';
	xprintf(&b, "%s__%s__", special_kinds[k], task);
	cfg.specials = xreallocarray(cfg.specials, cfg.nspecials + 1, sizeof *cfg.specials);
	sp = &cfg.specials[cfg.nspecials++];
	sp->kind = k, sp->task = task, sp->env = astrndup(b.data, b.len);
	buf_free(&b);
	return sp->env;
}

/* The length of the task name in KIND["name"] at p, 0 if p is not one;
 * *k is the kind. */
static size_t
special_at(const char *p, enum spkind *k)
{
	size_t i, kl, n;

	for (i = SP_OUT; i <= SP_RESULT; i++) {
		kl = strlen(special_kinds[i]);
		if (strncmp(p, special_kinds[i], kl) || strncmp(p + kl, "[\"", 2))
			continue;
		for (n = 0; isalnum((unsigned char)p[kl + 2 + n]) || p[kl + 2 + n] == '_' ||
			p[kl + 2 + n] == ' ';
			n++)
			;
		if (n && !strncmp(p + kl + 2 + n, "\"]", 2)) {
			*k = (enum spkind)i;
			return n;
		}
	}
	return 0;
}

/* __OUT["name"] (and __ERR, __COMBINED, __RESULT) -> $__OUT__name__, each
 * recorded in cfg.specials; s itself when it names none. */
static const char *
subst_specials(struct ctx *c, const struct yaml_node *at, const char *s)
{
	struct buf b = { 0 };
	const char *p = s, *r = s;
	enum spkind k = SP_OUT;
	size_t n;

	(void)c, (void)at;
	if (!strstr(s, "__"))
		return s;
	while (*p) {
		if (!(n = special_at(p, &k))) {
			xput(&b, p++, 1);
			continue;
		}
		p += strlen(special_kinds[k]) + 2; /* KIND[" */
		xput(&b, "$", 1);
		xputs(&b, special_add(k, p, n));
		p += n + 2; /* name"] */
		r = NULL;
	}
	if (!r)
		r = astrndup(b.data, b.len);
	buf_free(&b);
	return r;
}

/* ---- wait_for ------------------------------------------------------- */

static void
wait_set(struct ctx *c, struct waitfor *w, const struct yaml_node *at, const char *key,
	const char *val)
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
	static const char *const known[] = { "host", "port", "file", "state", "delay", "timeout",
		NULL };
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
		cerr(c, v,
			"wait_for must be a string like \"host=h port=80 state=ready\" or a mapping");
		return;
	}
	if (strstr(v->kind == YAML_SCALAR ? v->text : "", "__OUT["))
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
	if (++c->nest > 1000) /* includes can stack YAML's own depth limit */
		cerr(c, seq, "tasks nested more than 1000 deep");
	else if (seq->kind != YAML_SEQ && !is_null(seq))
		cerr(c, seq, "expected a list of %s",
			c->format == FMT_BUILD_DEPLOY ? "tasks" : "stages");
	else
		add_entries(c, seq, &v);
	c->nest--;
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

static const char *const stage_keys[] = { "name", "stage_name", "type", "stage_type", "command",
	"file", "directory", "only_if", "wait_for", "report_full_output", "suppress_all", "message",
	"parallel", "run_after", "serial", "include", "call", "timeout", "retry", "retry_delay",
	"env", "keep_running", NULL };

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
		t->command = subst_specials(c, v, astrndup(v->text, v->len));
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
		if (secret_name(k, strlen(k)))
			secret_add(kv[i].v->text);
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
		unknown_key(c, k, c->format == FMT_BUILD_DEPLOY ? "a task" : "a stage", stage_keys);
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
		if ((t->dir = str_val(c, k, v)) && strstr(t->dir, "__") &&
			subst_specials(c, v, t->dir) != t->dir)
			cerr(c, v, "special variables are not available in directory");
		else if (t->dir)
			t->dir = subst(c, v, t->dir);
	} else if (!strcmp(key, "only_if")) {
		if ((t->only_if = str_val(c, k, v)))
			t->only_if = subst_specials(c, v, t->only_if);
	} else if (!strcmp(key, "wait_for")) {
		wait_parse(c, &t->wait, v);
	} else if (!strcmp(key, "report_full_output")) {
		t->report_full = bool_val(c, k, v);
	} else if (!strcmp(key, "suppress_all")) {
		t->suppress_all = bool_val(c, k, v);
	} else if (!strcmp(key, "message")) {
		t->message = bool_val(c, k, v);
		cfg.message_mode = 1;
	} else if (!strcmp(key, "parallel") || !strcmp(key, "run_after") ||
		!strcmp(key, "serial")) {
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
	} else if (!strcmp(key, "keep_running")) {
		t->keep = bool_val(c, k, v);
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
stage_call(struct ctx *c, struct stagedef *sd, const struct yaml_node *callv, struct kv *own,
	size_t nown)
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
			cerr(c, own[i].k,
				"overriding required stage is forbidden (\"%s\" is set by %s)",
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
			cwarn(c, sd->type,
				"\"command\" is ignored in a shell stage (it runs \"file\")");
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
		cerr(c, m, "a %s must be a mapping",
			c->format == FMT_BUILD_DEPLOY ? "task" : "stage");
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
		int d2 = c->format == FMT_BUILD_DEPLOY;
		c->file = sd.kidsfile;
		g = group(c, sd.kidkind, t->name, sd.kids, d2);
		c->file = saved;
		if (d2 && !t->command && !t->argv && !t->script) {
			if (t->only_if || t->wait.set || t->timeout > 0 || t->keep)
				cwarn(c, m,
					"only_if, wait_for, timeout and keep_running apply to tasks, not to the group \"%s\"",
					t->name);
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

/* Parse the text of an included or required file; the document stays
 * open until loading ends. Returns its root (NULL for an empty file);
 * *bad is set on a YAML error, which is reported here. */
static const struct yaml_node *
open_doc(struct ctx *c, const char *path, struct buf *in, int *bad)
{
	char err[512];
	struct yaml_doc *doc = yaml_parse(in->data ? in->data : "", in->len, path, err, sizeof err);

	buf_free(in);
	if (!(*bad = !doc)) {
		c->docs = xreallocarray(c->docs, c->ndocs + 1, sizeof *c->docs);
		c->docs[c->ndocs++] = doc;
		if (yaml_count(doc) && tag_check(path, yaml_root(doc, 0), 0))
			*bad = 1;
		return yaml_count(doc) && !*bad ? yaml_root(doc, 0) : NULL;
	}
	fprintf(stderr, "walter: %s\n", err);
	cfg.errors++;
	return NULL;
}

/* The file included as path before, or NULL. */
static const struct incl *
incl_find(const struct ctx *c, const char *path)
{
	size_t i;

	for (i = 0; i < c->nincl; i++)
		if (!strcmp(c->incl[i].path, path))
			return &c->incl[i];
	return NULL;
}

static void
include(struct ctx *c, const struct yaml_node *item, const struct yaml_node *pathv, struct vec *out)
{
	struct buf in = { 0 };
	const char *path, *saved = c->file;
	char real[PATH_MAX];
	const struct yaml_node *root;
	const struct incl *inc;
	struct incl *add;
	size_t i;
	int bad;

	if (item->n != 2)
		cerr(c, item, "\"include\" must be the only key of its entry");
	if (pathv->kind != YAML_SCALAR || !pathv->len) {
		cerr(c, pathv, "\"include\" takes a file path");
		return;
	}
	path = subst(c, pathv, pathv->text);
	if (!(inc = incl_find(c, path))) {
		if (!realpath(path, real) || read_file(path, &in) < 0) {
			cerr(c, pathv, "include %s: %s", path, strerror(errno));
			buf_free(&in);
			return;
		}
		root = open_doc(c, path, &in, &bad);
		c->incl = xreallocarray(c->incl, c->nincl + 1, sizeof *c->incl);
		add = &c->incl[c->nincl++];
		add->path = astrdup(path), add->real = astrdup(real);
		add->root = root, add->bad = bad;
		inc = add;
	}
	for (i = 0; i < c->depth; i++)
		if (!strcmp(c->stack[i], inc->real)) {
			cerr(c, pathv, "include cycle: %s includes itself", path);
			return;
		}
	if (c->depth >= 64) {
		cerr(c, pathv, "includes nested more than 64 deep");
		return;
	}
	if (inc->bad)
		return; /* reported when it was read */
	root = inc->root;
	c->file = inc->path;
	if (root && !is_null(root) && root->kind != YAML_SEQ)
		cerr(c, root, "an included file must be a list of tasks");
	else if (root && root->kind == YAML_SEQ) {
		c->stack = xreallocarray(c->stack, c->depth + 1, sizeof *c->stack);
		c->stack[c->depth++] = inc->real;
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
		if (c->entries > MAX_ENTRIES)
			return; /* said once, below */
		if (++c->entries > MAX_ENTRIES) {
			cerr(c, e,
				"more than %d tasks and includes after expanding includes (is a file included many times over?)",
				MAX_ENTRIES);
			return;
		}
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
		const char *path, *file;
		int bad;

		if (p->kind != YAML_SCALAR) {
			cerr(c, p, "a \"require\" entry must be a file path");
			continue;
		}
		path = subst(c, p, p->text);
		if (read_file(path, &in) < 0) {
			cerr(c, p, "require %s: %s", path, strerror(errno));
			continue;
		}
		root = open_doc(c, path, &in, &bad);
		if (bad)
			continue;
		file = astrdup(path);
		ns = root ? yaml_get(root, "namespace") : NULL;
		st = root ? yaml_get(root, "stages") : NULL;
		if (!ns || ns->kind != YAML_SCALAR || !ns->len || !st || st->kind != YAML_SEQ) {
			cfg_msg(1, file, root,
				"a required file needs \"namespace\" (a name) and \"stages\" (a list)");
			continue;
		}
		for (j = 0; j < st->n; j++) {
			const struct yaml_node *e = st->child[j], *d, *nm;
			struct buf key = { 0 };
			d = e->kind == YAML_MAP && e->n == 2 ? e->child[1] : NULL;
			nm = d && d->kind == YAML_MAP ? yaml_get(d, "name") : NULL;
			if (!nm || nm->kind != YAML_SCALAR) {
				cfg_msg(1, file, e,
					"each stage definition must be \"def:\" with a \"name\"");
				continue;
			}
			if (yaml_get(d, "call"))
				cfg_msg(1, file, d,
					"a stage definition cannot itself use \"call\"");
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

static const char *const notifier_types[] = { "fake", "slack", "hipchat", "hipchat2", "webhook",
	"exec", NULL };

/* The keys each type reads. fake takes anything: it is what people write
 * while a real notifier is switched off, with its settings still there. */
#define NT_COMMON "type", "on", "summary", "timeout", "suppress"
static const char *const nt_known[][13] = {
	[NT_FAKE] = { NULL },
	[NT_SLACK] = { NT_COMMON, "tls_proxy", "url", "channel", "username", "icon", "icon_url",
		NULL },
	[NT_HIPCHAT] = { NT_COMMON, "tls_proxy", "room_id", "token", "from", "base_url", "color",
		NULL },
	[NT_HIPCHAT2] = { NT_COMMON, "tls_proxy", "room_id", "token", "from", "base_url", "color",
		NULL },
	[NT_WEBHOOK] = { NT_COMMON, "tls_proxy", "url", NULL },
	[NT_EXEC] = { NT_COMMON, "command", NULL },
};
/* Settings without which a type cannot send anything. */
static const char *const nt_needs[][3] = {
	[NT_FAKE] = { NULL },
	[NT_SLACK] = { "url", NULL },
	[NT_HIPCHAT] = { "room_id", "token", NULL },
	[NT_HIPCHAT2] = { "room_id", "token", NULL },
	[NT_WEBHOOK] = { "url", NULL },
	[NT_EXEC] = { "command", NULL },
};
static const char *const on_words[] = { "success", "failure", "skipped", "aborted", NULL };
static const char *const suppress_words[] = { "result", "stdout", "stderr", NULL };

static const char *
nt_get(const struct notifier *nt, const char *key)
{
	size_t i;

	for (i = 0; i < nt->n; i++)
		if (!strcmp(nt->keys[i], key))
			return nt->vals[i];
	return NULL;
}

/* A list of words (or one string "a, b") into a mask of bits of words[]. */
static unsigned
word_mask(struct ctx *c, const struct yaml_node *k, const struct yaml_node *v,
	const char *const *words, const char *hint)
{
	unsigned mask = 0;
	size_t i, j, nv = v->kind == YAML_SEQ ? v->n : 1;

	for (i = 0; i < nv; i++) {
		const struct yaml_node *w = v->kind == YAML_SEQ ? v->child[i] : v;
		char *s, *tok, *save = NULL;
		if (w->kind != YAML_SCALAR) {
			cerr(c, w, "\"%s\" must be a list of words (%s)", k->text, hint);
			continue;
		}
		s = astrdup(w->text);
		for (tok = strtok_r(s, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
			for (j = 0; words[j] && strcmp(words[j], tok); j++)
				;
			if (words[j])
				mask |= 1u << j;
			else
				cerr(c, w, "unknown word \"%s\" in \"%s\" (use %s)", tok, k->text,
					hint);
		}
	}
	return mask;
}

/* One typed key of a notifier; plain string keys are kept in keys/vals. */
static void
nt_key(struct ctx *c, struct notifier *nt, const struct yaml_node *k, const struct yaml_node *v)
{
	const char *key = k->text;
	size_t i;

	if (nt->kind != NT_FAKE) {
		for (i = 0; nt_known[nt->kind][i] && strcmp(nt_known[nt->kind][i], key); i++)
			;
		if (!nt_known[nt->kind][i]) {
			char where[64];
			snprintf(where, sizeof where, "a %s notifier", nt->type);
			unknown_key(c, k, where, nt_known[nt->kind]);
			return;
		}
	}
	if (!strcmp(key, "on")) {
		nt->on = is_null(v)
			? 0
			: word_mask(c, k, v, on_words, "success, failure, skipped, aborted");
		if (!nt->on && (v->kind == YAML_SEQ || is_null(v)))
			cwarn(c, v, "\"on\" is empty: this notifier never sends anything");
	} else if (!strcmp(key, "suppress")) {
		if (!is_null(v))
			nt->suppress = word_mask(c, k, v, suppress_words, "result, stdout, stderr");
	} else if (!strcmp(key, "summary")) {
		nt->summary = bool_val(c, k, v);
	} else if (!strcmp(key, "timeout")) {
		double d = dur_val(c, k, v);
		if (d <= 0 || d > 600) {
			if (v->kind == YAML_SCALAR && parse_duration(v->text) >= 0)
				cerr(c, v,
					"\"timeout\" of a notifier must be more than 0 and at most 10m");
			d = 10;
		}
		nt->timeout = d;
	} else if (v->kind == YAML_SEQ) {
		/* suppress: [...] was the only list; keep others joined */
		struct buf b = { 0 };
		for (i = 0; i < v->n; i++) {
			if (v->child[i]->kind != YAML_SCALAR)
				cerr(c, v->child[i], "\"%s\" must be a list of words", key);
			else
				xprintf(&b, "%s%s", i ? "," : "", v->child[i]->text);
		}
		nt->keys[nt->n] = astrdup(key);
		nt->vals[nt->n++] = astrndup(b.data ? b.data : "", b.len);
		buf_free(&b);
	} else if (v->kind == YAML_SCALAR && nt->kind == NT_EXEC && !strcmp(key, "command")) {
		/* left to the shell, which reads $VAR from the environment:
		 * a substituted secret would show in /proc/PID/cmdline */
		nt->keys[nt->n] = astrdup(key);
		nt->vals[nt->n++] = is_null(v) ? "" : astrndup(v->text, v->len);
	} else if (v->kind == YAML_SCALAR) {
		nt->keys[nt->n] = astrdup(key);
		c->secret = 1; /* a $TOKEN in a notifier is a secret */
		nt->vals[nt->n++] = is_null(v) ? "" : subst(c, v, astrndup(v->text, v->len));
		c->secret = 0;
		if (!strcmp(key, "token"))
			secret_add(nt->vals[nt->n - 1]);
	} else {
		cerr(c, v, "\"%s\" must be a string", key);
	}
}

/* base_url and a relative path joined with exactly one '/': the original
 * resolved them RFC 3986 style and lost base's last segment when it had
 * no trailing slash (REFERENCE Q24). */
static void
put_joined(struct buf *b, const char *base)
{
	size_t n = strlen(base);

	while (n && base[n - 1] == '/')
		n--;
	xput(b, base, n);
	xput(b, "/", 1);
}

/* The request a notifier makes, checked now so that a typo is a located
 * error before anything runs, not an ERROR line after the first task. */
static void
nt_request(struct ctx *c, struct notifier *nt, const struct yaml_node *m)
{
	const char *base = nt_get(nt, "base_url"), *tok = nt_get(nt, "token");
	const char *room = nt_get(nt, "room_id");
	struct buf b = { 0 };
	struct url u;
	char err[256];

	switch (nt->kind) {
	case NT_SLACK:
	case NT_WEBHOOK:
		nt->url = nt_get(nt, "url");
		nt->ctype = nt->kind == NT_SLACK && c->format == FMT_PIPELINE
			? "application/x-www-form-urlencoded"
			: "application/json";
		break;
	case NT_HIPCHAT:
		put_joined(&b, base && *base ? base : "https://api.hipchat.com/v1/");
		xputs(&b, "rooms/message?auth_token=");
		if (form_put_escaped(&b, tok, strlen(tok)) < 0)
			fatal("out of memory");
		nt->ctype = "application/x-www-form-urlencoded";
		break;
	case NT_HIPCHAT2:
		put_joined(&b, base && *base ? base : "https://api.hipchat.com/v2/");
		xputs(&b, "room/");
		if (url_put_segment(&b, room, strlen(room)) < 0)
			fatal("out of memory");
		xputs(&b, "/notification");
		nt->ctype = "application/json";
		break;
	default:
		return;
	}
	if (b.len)
		nt->url = astrndup(b.data, b.len);
	buf_free(&b);
	/* the reason names no part of the URL: a webhook URL is a secret */
	if (url_parse(nt->url, &u, err, sizeof err) < 0) {
		cerr(c, m, "the %s of this %s notifier is not usable: %s",
			nt->kind == NT_HIPCHAT || nt->kind == NT_HIPCHAT2 ? "base_url" : "url",
			nt->type, err);
		return;
	}
	xprintf(&b, strchr(u.host, ':') ? "[%s]:%s" : "%s:%s", u.host, u.port);
	nt->where = astrndup(b.data, b.len);
	buf_free(&b);
	url_free(&u);
	if (nt->kind == NT_HIPCHAT2) {
		xprintf(&b, "Authorization: Bearer %s", tok);
		nt->auth = astrndup(b.data, b.len);
		buf_free(&b);
		if (strpbrk(tok, "\r\n"))
			cerr(c, m, "the token of this hipchat2 notifier contains a line break");
	}
}

/* Per-type checks once every key is read. */
static void
nt_check(struct ctx *c, struct notifier *nt, const struct yaml_node *m, const struct kv *kv,
	size_t n)
{
	const char *const *need = nt_needs[nt->kind];
	const char *ch = nt_get(nt, "channel"), *tp = nt_get(nt, "tls_proxy");
	size_t i, j;

	for (i = 0; need[i]; i++) {
		const char *v = nt_get(nt, need[i]);
		if (!v) {
			cerr(c, m, "a%s %s notifier needs \"%s\"", nt->kind == NT_EXEC ? "n" : "",
				nt->type, need[i]);
			nt->off = 1;
		} else if (!*v) {
			for (j = 0; j < n && strcmp(kv[j].k->text, need[i]); j++)
				;
			cwarn(c, j < n ? kv[j].v : m,
				"\"%s\" of this %s notifier is empty (an unset variable?): it sends nothing",
				need[i], nt->type);
			nt->off = 1;
		}
	}
	if (ch && *ch && ch[0] != '#' && ch[0] != '@') { /* @user: a direct message */
		struct buf b = { 0 };
		xprintf(&b, "#%s", ch);
		nt->channel = astrndup(b.data, b.len);
		buf_free(&b);
	} else if (ch && *ch) {
		nt->channel = ch;
	}
	if (tp && *tp) {
		const char *colon = strrchr(tp, ':');
		if (!colon || colon == tp || !colon[1] ||
			strspn(colon + 1, "0123456789") != strlen(colon + 1))
			cerr(c, m, "\"tls_proxy\" must be host:port");
		nt->tls_proxy = tp;
	}
	nt->command = nt_get(nt, "command");
	if (!nt->off)
		nt_request(c, nt, m);
}

static void
nt_load(struct ctx *c, const struct yaml_node *m)
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
		cerr(c, m,
			"a notifier needs a \"type\" (fake, slack, hipchat, hipchat2, webhook, exec)");
		return;
	}
	for (i = 0; notifier_types[i] && strcmp(notifier_types[i], ty->text); i++)
		;
	if (!notifier_types[i]) {
		if (c->format == FMT_BUILD_DEPLOY)
			cwarn(c, ty, "unknown notify type \"%s\" is ignored", ty->text);
		else
			cerr(c, ty, "no messenger type: %s", ty->text);
		return;
	}
	cfg.nt = xreallocarray(cfg.nt, cfg.nnt + 1, sizeof *cfg.nt);
	nt = &cfg.nt[cfg.nnt++];
	memset(nt, 0, sizeof *nt);
	nt->type = astrdup(ty->text), nt->file = c->file;
	nt->kind = (enum ntype)i;
	nt->line = m->line, nt->col = m->col;
	nt->on = ON_ALL, nt->timeout = 10;
	kv = pairs(c, m, &n);
	nt->keys = amalloc((n + 1) * sizeof *nt->keys);
	nt->vals = amalloc((n + 1) * sizeof *nt->vals);
	for (i = 0; i < n; i++)
		if (strcmp(kv[i].k->text, "type"))
			nt_key(c, nt, kv[i].k, kv[i].v);
	nt_check(c, nt, m, kv, n);
	free(kv);
}

static void
nt_load_list(struct ctx *c, const struct yaml_node *v, int list)
{
	size_t i;

	if (!list) {
		nt_load(c, v);
		return;
	}
	if (v->kind != YAML_SEQ) {
		cerr(c, v, "\"notify\" must be a list of notifiers");
		return;
	}
	for (i = 0; i < v->n; i++)
		nt_load(c, v->child[i]);
}

/* D0 README form: pipeline written as a mapping "stage name: {...}". */
static struct node *
stage_map(struct ctx *c, const struct yaml_node *m)
{
	struct node *g = new_node(c, N_SEQ, "pipeline", m);
	struct vec v = { 0 };
	size_t i;

	cwarn(c, m,
		"\"pipeline\" is a mapping of stage names; a list of stages is the supported form (running them in file order)");
	for (i = 0; i + 1 < m->n; i += 2) {
		struct node *n =
			stage(c, m->child[i + 1], astrndup(m->child[i]->text, m->child[i]->len));
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
		cerr(c, v, "\"%s\" must be a list of %s", what,
			c->format == FMT_BUILD_DEPLOY ? "tasks" : "stages");
	if (v && v->kind == YAML_SEQ)
		return group(c, N_SEQ, what, v, 0);
	return new_node(c, N_SEQ, what, v ? v : &(struct yaml_node){ .line = 1, .col = 1 });
}

static void
phase_load(struct ctx *c, struct phase *ph, const char *label, const struct yaml_node *v)
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
				unknown_key(
					c, kv[i].k, label[0] == 'B' ? "build" : "deploy", known);
		}
		free(kv);
	} else if (v && !is_null(v)) {
		cerr(c, v, "\"%s\" must be a mapping with \"tasks\" and \"cleanup\"",
			label[0] == 'B' ? "build" : "deploy");
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
			nt_load_list(c, v, 0);
		else if (!strcmp(k, "notify"))
			nt_load_list(c, v, 1);
		else if (strcmp(k, "require") && strcmp(k, "service"))
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
		phase_load(c, &cfg.ph[0], "Build", root);
		phase_load(c, &cfg.ph[1], "Deploy", NULL);
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
			nt_load_list(c, kv[i].v, 1);
		else if (!strcmp(k, "messenger"))
			nt_load_list(c, kv[i].v, 0);
		else
			unknown_key(c, kv[i].k, "the top level", known);
	}
	free(kv);
	phase_load(c, &cfg.ph[0], "Build", b);
	phase_load(c, &cfg.ph[1], "Deploy", d);
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

/* Does any notifier post task output (report_full_output)? Only then
 * is it worth keeping. */
static int
nt_sends_output(void)
{
	size_t i;

	for (i = 0; i < cfg.nnt; i++)
		if (cfg.nt[i].kind != NT_FAKE && !cfg.nt[i].off && !cfg.nt[i].summary &&
			(cfg.nt[i].suppress & (SUP_STDOUT | SUP_STDERR)) !=
				(SUP_STDOUT | SUP_STDERR))
			return 1;
	return 0;
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
	n->num = cfg.ntasks;
	if (n->report_full && nt_sends_output())
		n->need |= CAP_OUT | CAP_ERR; /* kept until notify_task read them */
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
		const struct special *sp = &cfg.specials[j];
		if (sp->kind != SP_RESULT && !strcmp(sp->task, n->var))
			n->need |= 1u << sp->kind; /* CAP_OUT, CAP_ERR, CAP_COMB */
	}
}

/* Model the pipeline text of file into cfg. Returns the number of errors
 * (each already printed, located); never exits (the fuzzer calls it). */
static int
load_text(const char *file, const char *text, size_t len)
{
	struct ctx c = { 0 };
	struct yaml_doc *doc;
	const struct yaml_node *root;
	char err[512];
	size_t i;
	int has_pl, has_bd;

	c.file = file;
	if (!(doc = yaml_parse(text, len, c.file, err, sizeof err))) {
		fprintf(stderr, "walter: %s\n", err);
		return ++cfg.errors;
	}
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
	else if (!tag_check(c.file, root, 0)) {
		cfg.format = c.format = has_bd ? FMT_BUILD_DEPLOY : FMT_PIPELINE;
		if (has_bd)
			load_d2(&c, root);
		else
			load_d1(&c, root);
	}
	for (i = 0; i < c.ndocs; i++)
		yaml_free(c.docs[i]);
	free(c.docs), free(c.defs), free(c.stack), free(c.incl);
	if (cfg.errors)
		return cfg.errors;
	for (i = 0; i < 2; i++) {
		if (!cfg.ph[i].label)
			continue;
		if (cfg.format == FMT_BUILD_DEPLOY) {
			link_inputs(cfg.ph[i].main, NULL);
			link_inputs(cfg.ph[i].cleanup, NULL);
		}
		collect_tasks(cfg.ph[i].main);
		collect_tasks(cfg.ph[i].cleanup);
	}
	return 0;
}

/* Read, parse and model the pipeline file; exit 2 on any error. */
static void
load(const char *path)
{
	struct buf in = { 0 };
	const char *file = strcmp(path, "-") ? path : "<stdin>";
	int errors;

	if (read_file(path, &in) < 0)
		fatal("%s:", file);
	errors = load_text(file, in.data ? in.data : "", in.len);
	buf_free(&in);
	if (errors)
		exit(2);
}

/* ==== 6. executor ================================================== */

/* Tasks start with posix_spawn where it is known to be vfork-fast and to
 * report exec and chdir failures: glibc >= 2.29, or when the build says
 * so (-DWALTER_SPAWN: the Makefile's musl build). Elsewhere, or with
 * -DWALTER_FORK, fork/exec. */
#if !defined(WALTER_SPAWN) && defined(__GLIBC__) &&                                                \
	(__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
#define WALTER_SPAWN 1
#endif
#ifdef WALTER_FORK
#undef WALTER_SPAWN
#endif

static void
on_signal(int sig)
{
	int e = errno;
	unsigned char c = (unsigned char)sig;

	if (sig != SIGCHLD) {
		R.sig = sig;
		R.nsig++;
	}
	(void)!write(R.selfpipe[1], &c, 1);
	errno = e;
}

static void
cloexec(int fd)
{
	int f = fcntl(fd, F_GETFD);

	if (f >= 0)
		fcntl(fd, F_SETFD, f | FD_CLOEXEC);
}

static void
nonblock(int fd)
{
	int f = fcntl(fd, F_GETFL);

	if (f >= 0)
		fcntl(fd, F_SETFL, f | O_NONBLOCK);
}

static int
xpipe(int p[2])
{
	if (pipe(p) < 0)
		return -1;
	fcntl(p[0], F_SETFD, FD_CLOEXEC); /* new: no other fd flags to keep */
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
	return 0;
}

/* ---- the descriptors the loop watches ------------------------------- */

/* With epoll a wake-up costs what is ready; poll(), the fallback where
 * there is no epoll (or when it fails: out of watches), costs every
 * watched descriptor. Either way R.watch says what an fd is for. */
static void ev_ready(int fd, unsigned gen);

/* Watch fd for events (POLLIN or POLLOUT) as kind, for task n; events 0
 * stops watching it (call that before closing it). */
static void
ev_set(int fd, enum wkind kind, struct node *n, short events)
{
	struct watch *w;

	if (fd < 0)
		return;
	if ((size_t)fd >= R.nwatch) {
		size_t cap = R.nwatch ? R.nwatch : 64;
		while (cap <= (size_t)fd)
			cap *= 2;
		R.watch = xreallocarray(R.watch, cap, sizeof *R.watch);
		memset(R.watch + R.nwatch, 0, (cap - R.nwatch) * sizeof *R.watch);
		R.nwatch = cap;
	}
	w = &R.watch[fd];
	if (!w->events != !events)
		w->gen++;
#ifdef WALTER_EPOLL
	if (R.epfd >= 0 && (w->events || events) && w->events != events) {
		struct epoll_event e;
		int op = !events ? EPOLL_CTL_DEL : w->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
		memset(&e, 0, sizeof e);
		e.events = events == POLLOUT ? EPOLLOUT : EPOLLIN;
		e.data.u64 = (uint64_t)w->gen << 32 | (uint32_t)fd;
		if (epoll_ctl(R.epfd, op, fd, &e) < 0 && op != EPOLL_CTL_DEL) {
			close(R.epfd); /* out of watches: poll() from now on */
			R.epfd = -1;
		}
	}
#endif
	w->kind = events ? kind : WK_NONE;
	w->n = events ? n : NULL;
	w->events = events;
}

/* Stop watching *fd, close it, mark it closed. */
static void
fd_drop(int *fd)
{
	if (*fd < 0)
		return;
	ev_set(*fd, WK_NONE, NULL, 0);
	close(*fd);
	*fd = -1;
}

/* Wait at most ms (-1: no limit) and hand each ready fd to ev_ready. */
static void
ev_wait(int ms)
{
	struct pollfd *pf;
	unsigned *gen;
	size_t i, n = 0;

#ifdef WALTER_EPOLL
	if (R.epfd >= 0) {
		struct epoll_event ev[256];
		int k = epoll_wait(R.epfd, ev, 256, ms), j;
		for (j = 0; j < k; j++)
			ev_ready((int)(uint32_t)ev[j].data.u64, (unsigned)(ev[j].data.u64 >> 32));
		return;
	}
#endif
	for (i = 0; i < R.nwatch; i++)
		n += R.watch[i].events != 0;
	pf = xreallocarray(NULL, n, sizeof *pf);
	gen = xreallocarray(NULL, n, sizeof *gen);
	for (n = 0, i = 0; i < R.nwatch; i++)
		if (R.watch[i].events) {
			pf[n].fd = (int)i, pf[n].events = R.watch[i].events, pf[n].revents = 0;
			gen[n++] = R.watch[i].gen;
		}
	if (poll(pf, n, ms) > 0)
		for (i = 0; i < n; i++)
			if (pf[i].revents)
				ev_ready(pf[i].fd, gen[i]);
	free(pf), free(gen);
}

/* ---- timers: a heap of tasks ordered by task_rt.due ------------------ */

static void
heap_put(size_t i, struct node *n)
{
	R.heap[i] = n;
	n->rt->hi = i + 1;
}

/* Move the entry at i up or down to where its due time belongs. */
static void
heap_fix(size_t i)
{
	struct node *n = R.heap[i];
	double d = n->rt->due;
	size_t c;

	while (i > 0 && R.heap[(i - 1) / 2]->rt->due > d) {
		heap_put(i, R.heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	while ((c = 2 * i + 1) < R.nheap) {
		if (c + 1 < R.nheap && R.heap[c + 1]->rt->due < R.heap[c]->rt->due)
			c++;
		if (R.heap[c]->rt->due >= d)
			break;
		heap_put(i, R.heap[c]);
		i = c;
	}
	heap_put(i, n);
}

static void
tm_del(struct node *n)
{
	size_t i = n->rt->hi;
	struct node *last;

	if (!i)
		return;
	n->rt->hi = 0;
	last = R.heap[--R.nheap];
	if (i - 1 < R.nheap) {
		heap_put(i - 1, last);
		heap_fix(i - 1);
	}
}

/* When must task_timers look at this task next? 0: never (it waits for
 * its process, a -jobs slot or a descriptor). */
static double
task_due(const struct task_rt *rt)
{
	double d = 0;

	if (rt->p.pid > 0) {
		if (rt->deadline && !rt->term_at)
			d = rt->deadline;
		if (rt->term_at && !rt->kill_sent)
			d = rt->term_at + R.grace;
		return d;
	}
	if (rt->abort || rt->ph == T_RETRY)
		return rt->wake;
	if (rt->ph != T_WAIT)
		return 0;
	d = rt->pr.end ? rt->pr.end : rt->wake;
	if (rt->wait_end && rt->wait_end < d)
		d = rt->wait_end;
	return d;
}

/* Put task n where its state says in the heap (out of it: no timer). */
static void
tm_set(struct node *n)
{
	struct task_rt *rt = n->rt;

	if (!rt)
		return;
	if (!(rt->due = task_due(rt))) {
		tm_del(n);
		return;
	}
	if (!rt->hi) {
		if (!(R.nheap & (R.nheap - 1))) /* 0, 1, 2, 4...: double */
			R.heap = xreallocarray(R.heap, R.nheap ? 2 * R.nheap : 1, sizeof *R.heap);
		R.heap[R.nheap++] = n;
		rt->hi = R.nheap;
	}
	heap_fix(rt->hi - 1);
}

/* First PATH entry holding an executable name; NULL if none. */
static char *
path_lookup(const char *name)
{
	const char *path = getenv("PATH"), *p, *e;
	struct buf b = { 0 };

	if (strchr(name, '/'))
		return xstrdup(name);
	for (p = path ? path : "/usr/bin:/bin";; p = e + 1) {
		e = strchr(p, ':');
		b.len = 0;
		xprintf(&b, "%.*s/%s", (int)(e ? e - p : (long)strlen(p)), p, name);
		if (b.len && access(b.data, X_OK) == 0)
			return b.data;
		if (!e)
			break;
	}
	buf_free(&b);
	return NULL;
}

/* Mark every inherited descriptor above 2 close-on-exec: children see
 * only 0-2. /proc/self/fd lists them where it exists; elsewhere try the
 * low numbers one by one. */
static void
close_inherited(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long fd, max;

	if (d) {
		while ((e = readdir(d)))
			if ((fd = atol(e->d_name)) > 2 && fd != dirfd(d))
				cloexec((int)fd);
		closedir(d);
		return;
	}
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 4096)
		max = 4096;
	for (fd = 3; fd < max; fd++)
		cloexec((int)fd);
}

/* In a forked child that does not exec (the notification worker, the
 * guardian, a resolver): close every descriptor but 0-2, a and b, so it
 * holds no task's pipe open. */
static void
close_except(int a, int b)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int *fds = NULL;
	size_t k = 0, i;
	long fd, max;

	if (!d) {
		max = sysconf(_SC_OPEN_MAX);
		for (fd = 3; fd < (max < 0 || max > 65536 ? 65536 : max); fd++)
			if (fd != a && fd != b)
				close((int)fd);
		return;
	}
	while ((e = readdir(d)))
		if ((fd = atol(e->d_name)) > 2 && fd != a && fd != b && fd != dirfd(d)) {
			if (!(k & (k - 1))) /* 0, 1, 2, 4...: double */
				fds = xreallocarray(fds, k ? 2 * k : 1, sizeof *fds);
			fds[k++] = (int)fd;
		}
	closedir(d);
	for (i = 0; i < k; i++)
		close(fds[i]);
	free(fds);
}

/* In a forked child before exec (async-signal-safe): no blocked signals,
 * and SIGPIPE back to its default, which walter ignores for itself. */
static void
child_signals(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
}

/* The name of each task's mark: WALTER_TASK_ID=RUN.N, RUN this run's
 * R.runid, N the task's number (0: the notification worker). Inherited
 * by whatever the task starts, in any session, under any parent: how
 * walter and its guardian find what a task left running. */
#define MARK "WALTER_TASK_ID"

static int
is_mark(const char *var)
{
	return !strncmp(var, MARK "=", sizeof MARK);
}

/* ---- what tasks leave running: /proc, marks, the guardian ----------- */

/* A process as /proc shows it. */
struct pinfo {
	pid_t pid, ppid, pgrp;
	char state; /* 'Z' zombie, 'T' stopped... */
};

/* pid's parent, group and state; -1 when it is gone (or no /proc). */
static int
proc_stat(pid_t pid, struct pinfo *pi)
{
	char path[64], b[1024], *p;
	int fd, ppid, pgrp;
	ssize_t r;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	r = read(fd, b, sizeof b - 1);
	close(fd);
	if (r <= 0)
		return -1;
	b[r] = '\0';
	if (!(p = strrchr(b, ')')) || sscanf(p + 1, " %c %d %d", &pi->state, &ppid, &pgrp) != 3)
		return -1;
	pi->pid = pid, pi->ppid = (pid_t)ppid, pi->pgrp = (pid_t)pgrp;
	return 0;
}

/* The task number of pid's mark when the mark is this run's (0: the
 * notification worker); -1 for none (a cleared or unreadable
 * environment, another run's mark). */
static long
proc_mark(pid_t pid)
{
	char path[64], *p, *end;
	struct buf b = { 0 };
	size_t rl = strlen(R.runid);
	long num = -1;

	snprintf(path, sizeof path, "/proc/%ld/environ", (long)pid);
	if (read_file(path, &b) == 0)
		for (p = b.data; p && p < b.data + b.len; p += strlen(p) + 1)
			if (is_mark(p) && !strncmp(p + sizeof MARK, R.runid, rl) &&
				p[sizeof MARK + rl] == '.') {
				num = strtol(p + sizeof MARK + rl + 1, &end, 10);
				if (*end || num < 0 || (size_t)num > cfg.ntasks)
					num = -1;
			}
	buf_free(&b);
	return num;
}

/* Every process in /proc, zombies left out; -1 without /proc. */
static int
proc_all(struct pinfo **out, size_t *n)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	struct pinfo pi;
	char *end;
	long pid;

	*out = NULL, *n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || proc_stat((pid_t)pid, &pi) < 0 || pi.state == 'Z')
			continue;
		if (!(*n & (*n - 1)))
			*out = xreallocarray(*out, *n ? 2 * *n : 1, sizeof **out);
		(*out)[(*n)++] = pi;
	}
	closedir(d);
	return 0;
}

/* The guardian: a process forked when the run starts, before any task,
 * holding the read end of a pipe from walter. walter tells it each
 * process group it starts ('G') and each one that is empty again
 * ('F'), and says 'Q' when it ends cleanly. If the pipe closes without
 * 'Q', walter died (SIGKILL, a crash): the guardian kills every group
 * it knows and every process with this run's mark (WALTER_TASK_ID),
 * except what keep_running tasks left, then exits. It is in a group of
 * its own and ignores the terminal's signals, holds no other fd (and
 * /dev/null on 0-2), and walter reaps it at the end. */
struct grec {
	int32_t op, pid;
};

static void __attribute__((noreturn)) guardian(int fd)
{
	struct pidmap groups = { 0 };
	struct pinfo *all;
	struct grec g;
	size_t i, n, found = 1;
	int quit = 0, nul, k;
	long num;

	setpgid(0, 0);
	signal(SIGINT, SIG_IGN), signal(SIGTERM, SIG_IGN), signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN), signal(SIGTSTP, SIG_IGN), signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN), signal(SIGCHLD, SIG_DFL);
	child_signals();
	close_except(fd, -1);
	if ((nul = open("/dev/null", O_RDWR)) >= 0) {
		dup2(nul, 0), dup2(nul, 1), dup2(nul, 2);
		if (nul > 2)
			close(nul);
	}
	while (read_full(fd, &g, sizeof g) == 1) {
		if (g.op == 'G')
			pm_put(&groups, g.pid, &groups);
		else if (g.op == 'F')
			pm_del(&groups, g.pid);
		else if (g.op == 'Q')
			quit = 1;
	}
	if (quit)
		_exit(0);
	for (i = 0; i < groups.cap; i++)
		if (groups.key[i])
			kill(-groups.key[i], SIGKILL);
	for (k = 0; k < 100 && found && proc_all(&all, &n) == 0; k++) { /* 2 s at most */
		for (found = 0, i = 0; i < n; i++)
			if ((num = proc_mark(all[i].pid)) == 0 ||
				(num > 0 && !cfg.tasks[num - 1]->keep)) {
				kill(all[i].pid, SIGKILL);
				found++;
			}
		free(all);
		if (found)
			nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
	}
	_exit(0);
}

/* Start the guardian; without one a SIGKILL of walter leaves tasks. */
static void
guard_start(void)
{
	int p[2];
	pid_t pid;

	fflush(NULL); /* nothing buffered is written twice */
	if (xpipe(p) < 0 || (pid = fork()) < 0) {
		warn("cannot start the guardian (a SIGKILL of walter would leave tasks running):");
		return;
	}
	if (pid == 0)
		guardian(p[0]);
	close(p[0]);
	nonblock(p[1]);
	R.guard = pid, R.gfd = p[1];
}

/* Tell the guardian: written by guard_pump once per turn of the loop. */
static void
guard_send(int op, pid_t pid)
{
	struct grec g;

	if (R.gfd < 0)
		return;
	g.op = op, g.pid = pid;
	xput(&R.gq, &g, sizeof g);
}

static void
guard_pump(void)
{
	ssize_t w = 0;
	size_t off = 0;

	while (R.gfd >= 0 && off < R.gq.len) {
		if ((w = write(R.gfd, R.gq.data + off, R.gq.len - off)) < 0 && errno == EINTR)
			continue;
		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (off) {
		memmove(R.gq.data, R.gq.data + off, R.gq.len - off);
		R.gq.len -= off;
	}
	if (w < 0 && errno != EAGAIN) { /* the guardian is gone */
		fd_drop(&R.gfd);
		R.gq.len = 0;
		logmsg(L_WARN, NULL,
			"the guardian ended early: a SIGKILL of walter would leave tasks running");
	}
	ev_set(R.gfd, WK_GUARD, NULL, R.gq.len ? POLLOUT : 0);
}

/* The run ended cleanly: the guardian's 'Q', then it exits. */
static void
guard_end(void)
{
	struct grec g = { 'Q', 0 };
	struct pollfd pf;
	int st, ok = 1;

	if (R.gfd >= 0) {
		R.gq.len = 0; /* what it has not taken no longer matters */
		ev_set(R.gfd, WK_GUARD, NULL, 0);
		pf.fd = R.gfd, pf.events = POLLOUT;
		if (poll(&pf, 1, 1000) == 1)
			write_all(R.gfd, (const char *)&g, sizeof g, &ok);
		fd_drop(&R.gfd);
	}
	if (R.guard > 0) {
		while (waitpid(R.guard, &st, 0) < 0 && errno == EINTR)
			;
		R.guard = 0;
	}
}

static void
exec_setup(void)
{
	struct sigaction sa;
	char *sh;

	close_inherited();
	if (xpipe(R.selfpipe) < 0)
		fatal("pipe:");
	nonblock(R.selfpipe[0]);
	nonblock(R.selfpipe[1]);
#ifdef WALTER_EPOLL
	R.epfd = epoll_create1(EPOLL_CLOEXEC); /* -1: poll() instead */
#endif
	ev_set(R.selfpipe[0], WK_SELF, NULL, POLLIN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
#ifdef PR_SET_CHILD_SUBREAPER
	/* Orphans of tasks (daemons, double forks) become walter's children:
	 * reap() collects their zombies, kill_leftovers() finds them. PID 1
	 * is a reaper anyway. */
	R.subreaper = prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
#endif
	R.subreaper |= getpid() == 1;
	if ((sh = path_lookup("sh")))
		R.sh = sh;
	if (cfg.nspecials)
		R.spec_val = xreallocarray(NULL, cfg.nspecials, sizeof *R.spec_val),
		memset(R.spec_val, 0, cfg.nspecials * sizeof *R.spec_val);
	snprintf(R.runid, sizeof R.runid, "%ld.%lld", (long)getpid(), (long long)time(NULL));
	guard_start();
}

/* ---- captures ------------------------------------------------------- */

static struct capture *
cap_new(void)
{
	struct capture *c = xmalloc(sizeof *c);

	memset(c, 0, sizeof *c);
	c->fd = -1;
	return c;
}

static int
cap_spill(struct capture *c)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	int ok = 1;

	snprintf(path, sizeof path, "%s/walter-XXXXXX", dir && *dir ? dir : "/tmp");
	if ((c->fd = mkstemp(path)) < 0)
		return -1;
	unlink(path);
	cloexec(c->fd);
	write_all(c->fd, c->mem.data ? c->mem.data : "", c->mem.len, &ok);
	buf_free(&c->mem);
	return ok ? 0 : -1;
}

/* Append n bytes; -1 with errno when the spill file cannot be written. */
static int
cap_write(struct capture *c, const char *p, size_t n)
{
	int ok = 1;

	if (c->fd < 0 && c->mem.len + n > CAP_MEM_MAX && cap_spill(c) < 0)
		return -1;
	if (c->fd < 0)
		xput(&c->mem, p, n);
	else
		write_all(c->fd, p, n, &ok);
	c->size += (off_t)n;
	return ok ? 0 : -1;
}

static ssize_t
cap_read(struct capture *c, off_t off, char *dst, size_t n)
{
	ssize_t r;

	if (off >= c->size)
		return 0;
	if ((off_t)n > c->size - off)
		n = (size_t)(c->size - off);
	if (c->fd < 0) {
		memcpy(dst, c->mem.data + off, n);
		return (ssize_t)n;
	}
	while ((r = pread(c->fd, dst, n, off)) < 0 && errno == EINTR)
		;
	return r;
}

static void
cap_free(struct capture **cp)
{
	struct capture *c = *cp;

	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->mem);
	free(c);
	*cp = NULL;
}

/* ---- spawning ------------------------------------------------------- */

/* Environment of a child: walter's, the task's env, special variables,
 * the task's mark (the array is the caller's to free). */
static char **
child_env(struct node *n)
{
	static char mark[96];
	size_t ne = 0, nt = 0, ns = 0, i, j, k = 0;
	char **env;

	while (environ[ne])
		ne++;
	while (n->env && n->env[nt])
		nt++;
	for (i = 0; i < cfg.nspecials; i++)
		ns += R.spec_val[i] != NULL;
	env = xreallocarray(NULL, ne + nt + ns + 2, sizeof *env);
	for (i = 0; i < ne; i++) {
		size_t l = strcspn(environ[i], "=");
		for (j = 0; j < nt; j++)
			if (!strncmp(n->env[j], environ[i], l + 1))
				break;
		if (j == nt && !is_mark(environ[i]))
			env[k++] = environ[i];
	}
	for (j = 0; j < nt; j++)
		if (!is_mark(n->env[j]))
			env[k++] = n->env[j];
	for (i = 0; i < cfg.nspecials; i++)
		if (R.spec_val[i])
			env[k++] = R.spec_val[i];
	snprintf(mark, sizeof mark, MARK "=%s.%zu", R.runid, n->num);
	env[k++] = mark;
	env[k] = NULL;
	return env;
}

/* The task's process exists: record it, watch its output. */
static void
spawned(struct node *n, pid_t pid, int out, int err, struct proc *p)
{
	p->pid = pid, p->fd[0] = out, p->fd[1] = err;
	nonblock(out);
	nonblock(err);
	ev_set(out, WK_OUT, n, POLLIN);
	ev_set(err, WK_ERR, n, POLLIN);
	ev_set(p->in, WK_IN, n, POLLOUT);
	pm_put(&R.pids, pid, n);
	if (!n->keep)
		guard_send('G', pid);
	R.running++;
}

/* What starting a task's process came to. */
enum spawn_result {
	SPAWN_OK,       /* it runs */
	SPAWN_NOEXEC,   /* it could not exec or change directory (fork path:
			 * the child exists, exits 127 and is reaped as usual) */
	SPAWN_FAILED,   /* nothing started */
	SPAWN_SHORTAGE, /* nothing started for lack of fds or processes,
			 * which may come back when a running task ends */
};

/* Out of fds or processes: may come back when a running task ends. */
static int
shortage(int e)
{
	return e == EMFILE || e == ENFILE || e == EAGAIN || e == ENOMEM;
}

#ifdef WALTER_SPAWN
/* posix_spawn is one clone(CLONE_VM|CLONE_VFORK)+exec in musl and glibc:
 * no copy of walter's page tables, which is what makes fork slow on some
 * virtual machines. It reports exec and chdir failures as its result. */
int posix_spawn_file_actions_addchdir_np(
	posix_spawn_file_actions_t *restrict, const char *restrict);

/* posix_spawn failed: was it the task's directory? The child's chdir and
 * exec failures look alike; 0 when the directory is usable, else errno. */
static int
dir_error(const char *dir)
{
	struct stat sb;

	if (!dir || !*dir)
		return 0;
	if (stat(dir, &sb) < 0)
		return errno;
	if (!S_ISDIR(sb.st_mode))
		return ENOTDIR;
	return access(dir, X_OK) < 0 ? errno : 0;
}

/* Attributes and file actions of a task: own process group, empty signal
 * mask, default SIGPIPE, pipes on 0-2, the task's directory. 0 or errno. */
static int
spawn_prep(posix_spawnattr_t *at, posix_spawn_file_actions_t *fa, const char *dir, int in, int out,
	int err)
{
	sigset_t none, def;
	int e;

	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE); /* walter ignores it; children must not */
	if ((e = posix_spawnattr_setflags(
		     at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)))
		return e;
	if ((e = posix_spawnattr_setpgroup(at, 0)) || (e = posix_spawnattr_setsigmask(at, &none)) ||
		(e = posix_spawnattr_setsigdefault(at, &def)))
		return e;
	if ((e = posix_spawn_file_actions_adddup2(fa, in, 0)) ||
		(e = posix_spawn_file_actions_adddup2(fa, out, 1)) ||
		(e = posix_spawn_file_actions_adddup2(fa, err, 2)))
		return e;
	return dir && *dir ? posix_spawn_file_actions_addchdir_np(fa, dir) : 0;
}

/* Start argv in its own process group with posix_spawn (never
 * SPAWN_NOEXEC: it reports exec and chdir failures itself). Reasons go
 * into why. */
static enum spawn_result
spawn_posix(struct node *n, char *const argv[], const char *path, int in, struct proc *p, char *why,
	size_t whylen)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, e, de;
	char **env;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	pid_t pid;

	if (xpipe(out) < 0 || xpipe(err) < 0) {
		e = errno;
		snprintf(why, whylen, "cannot create pipes: %s", strerror(e));
		if (out[0] >= 0)
			close(out[0]), close(out[1]);
		return shortage(e) ? SPAWN_SHORTAGE : SPAWN_FAILED;
	}
	env = child_env(n);
	if ((e = posix_spawnattr_init(&at)) == 0) {
		if ((e = posix_spawn_file_actions_init(&fa)) == 0) {
			if ((e = spawn_prep(&at, &fa, n->dir, in, out[1], err[1])) == 0)
				e = posix_spawn(&pid, path, &fa, &at, argv, env);
			posix_spawn_file_actions_destroy(&fa);
		}
		posix_spawnattr_destroy(&at);
	}
	free(env);
	close(out[1]), close(err[1]);
	if (e == 0) {
		spawned(n, pid, out[0], err[0], p);
		return SPAWN_OK;
	}
	close(out[0]), close(err[0]);
	if (shortage(e)) { /* clone, or the exec error pipe, failed */
		snprintf(why, whylen, "cannot fork: %s", strerror(e));
		return SPAWN_SHORTAGE;
	}
	n->code = 127; /* what the fork path's child exits with */
	if ((de = dir_error(n->dir)))
		snprintf(why, whylen, "cannot change directory to %s: %s", n->dir, strerror(de));
	else
		snprintf(why, whylen, "cannot run %s: %s", path, strerror(e));
	return SPAWN_FAILED;
}
#else
struct spawn_err {
	int what; /* 0 chdir, 1 exec, 2 dup2 */
	int err;
};

/* fork/exec argv in its own process group; between fork and exec only
 * async-signal-safe calls. Exec errors come back on a close-on-exec pipe.
 * Reasons go into why. */
static enum spawn_result
spawn_fork(struct node *n, char *const argv[], const char *path, int in, struct proc *p, char *why,
	size_t whylen)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, ep[2] = { -1, -1 };
	char **env = child_env(n);
	struct spawn_err se;
	ssize_t r;
	pid_t pid, parent = getpid();
	int e;

	if (xpipe(out) < 0 || xpipe(err) < 0 || xpipe(ep) < 0) {
		e = errno;
		snprintf(why, whylen, "cannot create pipes: %s", strerror(e));
		goto fail;
	}
	if ((pid = fork()) < 0) {
		e = errno;
		snprintf(why, whylen, "cannot fork: %s", strerror(e));
		goto fail;
	}
	if (pid == 0) {
		child_signals();
		setpgid(0, 0);
#ifdef PR_SET_PDEATHSIG
		if (!n->keep) /* it dies with walter (the guardian kills the rest) */
			prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != parent)
			_exit(127);
#endif
		se.what = 2;
		if (dup2(in, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
			goto child_fail;
		se.what = 0;
		if (n->dir && *n->dir && chdir(n->dir) < 0)
			goto child_fail;
		se.what = 1;
		execve(path, argv, env);
	child_fail:
		se.err = errno;
		(void)!write(ep[1], &se, sizeof se);
		_exit(127);
	}
	setpgid(pid, pid); /* also in the parent: no race with a quick kill */
	close(out[1]), close(err[1]), close(ep[1]);
	free(env);
	while ((r = read(ep[0], &se, sizeof se)) < 0 && errno == EINTR)
		;
	close(ep[0]);
	spawned(n, pid, out[0], err[0], p);
	if (r == (ssize_t)sizeof se) {
		if (se.what == 0)
			snprintf(why, whylen, "cannot change directory to %s: %s", n->dir,
				strerror(se.err));
		else
			snprintf(why, whylen, "cannot run %s: %s", path, strerror(se.err));
		return SPAWN_NOEXEC;
	}
	return SPAWN_OK;
fail:
	free(env);
	if (out[0] >= 0)
		close(out[0]), close(out[1]);
	if (err[0] >= 0)
		close(err[0]), close(err[1]);
	if (ep[0] >= 0)
		close(ep[0]), close(ep[1]);
	return shortage(e) ? SPAWN_SHORTAGE : SPAWN_FAILED;
}
#endif

/* ---- output --------------------------------------------------------- */

/* Keep the line among the last TAIL_LINES; the oldest line's buffer is
 * reused, so a chatty task costs no allocation per line. */
static void
tail_add(struct task_rt *rt, const char *s, size_t n)
{
	enum { TAIL_LEN = 200 };
	char *t;

	if (n > TAIL_LEN)
		n = TAIL_LEN;
	if (rt->ntail == TAIL_LINES) {
		t = rt->tail[0];
		memmove(rt->tail, rt->tail + 1, (TAIL_LINES - 1) * sizeof *rt->tail);
		rt->ntail--;
	} else {
		t = xmalloc(TAIL_LEN + 1);
	}
	memcpy(t, s, n);
	t[n] = '\0';
	rt->tail[rt->ntail++] = t;
}

static void
task_fail_io(struct node *n, const char *what)
{
	if (!n->rt->why[0])
		snprintf(n->rt->why, sizeof n->rt->why, "cannot keep output (%s): %s", what,
			strerror(errno));
}

/* One whole line of child output: log it (stamped with the clock drain
 * read), keep it where needed. */
static void
out_line(struct node *n, const char *s, size_t len)
{
	if (sec.n)
		s = mask(s, &len);
	log_task_line(n->name, s, len);
	tail_add(n->rt, s, len);
	if ((n->need & CAP_COMB) && !n->rt->cond) {
		if (!n->cap[2])
			n->cap[2] = cap_new();
		if (cap_write(n->cap[2], s, len) < 0 || cap_write(n->cap[2], "\n", 1) < 0)
			task_fail_io(n, "combined");
	}
}

static void
out_data(struct node *n, int s, const char *p, size_t len)
{
	struct buf *part = &n->rt->p.part[s];
	unsigned bit = s ? CAP_ERR : CAP_OUT;
	const char *nl;

	if ((n->need & bit) && !n->rt->cond) {
		if (!n->cap[s])
			n->cap[s] = cap_new();
		if (cap_write(n->cap[s], p, len) < 0)
			task_fail_io(n, s ? "stderr" : "stdout");
	}
	while (len) {
		size_t take;
		if (!(nl = memchr(p, '\n', len))) {
			take = len;
			if (part->len + take > LINE_MAX_LOG)
				take = LINE_MAX_LOG - part->len;
			xput(part, p, take);
			p += take, len -= take;
			if (part->len >= LINE_MAX_LOG) { /* very long line: split */
				out_line(n, part->data, part->len);
				part->len = 0;
			}
			continue;
		}
		take = (size_t)(nl - p);
		if (part->len) {
			xput(part, p, take);
			out_line(n, part->data, part->len);
			part->len = 0;
		} else {
			out_line(n, p, take);
		}
		p = nl + 1, len -= take + 1;
	}
}

/* Read what a pipe has now. Returns 0 at EOF or error (fd closed). */
static int
drain(struct node *n, int s)
{
	static char chunk[65536];
	struct proc *p = &n->rt->p;
	ssize_t r;

	log_clock(); /* one clock read per batch of lines, not one per line */
	for (;;) {
		r = read(p->fd[s], chunk, sizeof chunk);
		if (r > 0) {
			out_data(n, s, chunk, (size_t)r);
			if ((size_t)r < sizeof chunk)
				return 1;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return 1;
		break;
	}
	if (p->part[s].len)
		out_line(n, p->part[s].data, p->part[s].len);
	buf_free(&p->part[s]);
	fd_drop(&p->fd[s]);
	return 0;
}

/* Feed the next chunk of the input's captured output into stdin. */
static void
feed(struct node *n)
{
	struct proc *p = &n->rt->p;
	char chunk[65536];
	ssize_t r, w;

	while (p->isrc < p->nsrc) {
		struct capture *c = p->src[p->isrc]->cap[0];
		if (!c || (r = cap_read(c, p->off, chunk, sizeof chunk)) <= 0) {
			p->isrc++, p->off = 0;
			continue;
		}
		w = write(p->in, chunk, (size_t)r);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w < 0) /* EPIPE: the task does not read its stdin */
			break;
		p->off += w;
		if (w < r)
			return;
	}
	fd_drop(&p->in);
}

/* ==== 7. scheduler ================================================= */

/* When a task fails:
 *   1. retry    task_result: a command that exited non-zero or timed out
 *               runs again while its "retry" allows, retry_delay apart
 *               (a task that could not start at all is not retried);
 *   2. skip     seq_advance: the later entries of its sequence are
 *               skipped, unless -f (parallel siblings run on);
 *   3. abort    task_result: in a 2.x file the failure aborts the phase:
 *               running tasks get SIGTERM (SIGKILL after R.grace), waiting
 *               ones end, nothing new starts; not with -f;
 *   4. cleanup  run_phases: a phase's cleanup always runs (but not after
 *               a second signal), and a failed build skips deploy.
 * The exit status is then 1 (main). A signal or -timeout aborts the run
 * as 3 does, in every format (on_walter_signal, timers).
 *
 * The flow: node_start starts a node; a task goes only_if (task_cond),
 * wait_for (task_wait), command (task_run). Every event of the poll loop
 * (loop_once) - a reaped process (reap, task_exited), a timer
 * (task_timers) - ends in task_result, then parent_step moves the groups
 * above the task (seq_advance, par_advance). */

static int node_start(struct node *n);
static void notify_task(struct node *n);
static void nlog_read(void);
static void nq_pump(void);
static void probe_stop(struct probe *pr);
static void term_group(struct node *n);
static int notify_reaped(pid_t pid, int st);

static void
act_add(struct node *n)
{
	if (!(R.nact & (R.nact - 1))) /* 0, 1, 2, 4...: double */
		R.act = xreallocarray(R.act, R.nact ? 2 * R.nact : 1, sizeof *R.act);
	n->rt->ai = R.nact;
	R.act[R.nact++] = n;
}

static void
act_del(struct node *n)
{
	size_t i = n->rt->ai;

	if (i < R.nact && R.act[i] == n) {
		R.act[i] = R.act[--R.nact];
		R.act[i]->rt->ai = i;
	}
}

static void
release_one(struct node *leaf, struct node *consumer)
{
	(void)consumer;
	if (leaf->ncons > 0 && --leaf->ncons == 0)
		cap_free(&leaf->cap[0]);
}

/* Copy a capture into a NAME=VALUE string (bounded: the kernel limits one
 * environment string to 128 KiB). */
static char *
special_value(const char *var, struct capture *c, const char *task)
{
	enum { MAXV = 100 << 10 };
	struct buf b = { 0 };
	size_t n = c ? (size_t)(c->size > MAXV ? MAXV : c->size) : 0;

	xprintf(&b, "%s=", var);
	if (buf_grow(&b, n) < 0)
		fatal("out of memory");
	if (n && cap_read(c, 0, b.data + b.len, n) == (ssize_t)n)
		b.len += n;
	b.data[b.len] = '\0';
	if (c && c->size > MAXV)
		logmsg(L_WARN, task, "output kept for %s is cut to 100 KiB", var);
	return b.data;
}

/* D1: after a stage ran, later children see __OUT__name__ and friends. */
static void
set_specials(struct node *n)
{
	size_t j;

	if (!n->var)
		return;
	for (j = 0; j < cfg.nspecials; j++) {
		const struct special *sp = &cfg.specials[j];
		if (strcmp(sp->task, n->var))
			continue;
		free(R.spec_val[j]);
		if (sp->kind == SP_RESULT) {
			struct buf b = { 0 };
			xprintf(&b, "%s=%s", sp->env, n->st == S_FAILED ? "false" : "true");
			R.spec_val[j] = b.data;
		} else {
			R.spec_val[j] = special_value(sp->env, n->cap[sp->kind], n->name);
		}
	}
}

static void
log_status(struct node *n)
{
	char d[32], *why = n->rt && n->rt->why[0] ? n->rt->why : NULL;

	fmt_dur(n->t1 - n->t0, d, sizeof d);
	switch (n->st) {
	case S_OK:
		logmsg(L_INFO, n->name, "End task (%s)", d);
		break;
	case S_FAILED:
		if (why)
			logmsg(L_ERROR, n->name, "Task failed: %s (%s)", why, d);
		else if (n->code > 128)
			logmsg(L_ERROR, n->name, "Task failed: killed by signal %d (%s)",
				n->code - 128, d);
		else
			logmsg(L_ERROR, n->name, "Task failed: exit status %d (%s)", n->code, d);
		break;
	case S_ABORTED:
		logmsg(L_WARN, n->name, "aborted (%s)", d);
		break;
	case S_SKIPPED:
		logmsg(L_WARN, n->name, "Task skipped because %s",
			R.nsig || R.timed_out ? "the run was aborted" : "previous task failed");
		break;
	case S_CONDFALSE:
		logmsg(L_WARN, n->name, "Skipped because only_if failed: exit status %d", n->code);
		break;
	default:
		break;
	}
}

static void abort_active(void);

/* Task n is over: close its pipes, free its line buffers and the output
 * it kept (stdout stays while a later task still reads it; the last
 * lines of a failure stay for the summary), and release its input. */
static void
task_release(struct node *n)
{
	struct task_rt *rt = n->rt;
	size_t i;

	if (rt) {
		struct proc *p = &rt->p;
		fd_drop(&p->fd[0]);
		fd_drop(&p->fd[1]);
		fd_drop(&p->in);
		buf_free(&p->part[0]);
		buf_free(&p->part[1]);
		free(p->src);
		probe_stop(&rt->pr);
		buf_free(&rt->pr.got);
		tm_del(n);
		act_del(n);
		if (n->st == S_FAILED && rt->ntail) {
			n->tail = xreallocarray(NULL, rt->ntail, sizeof *n->tail);
			memcpy(n->tail, rt->tail, rt->ntail * sizeof *n->tail);
			n->ntail = rt->ntail;
			rt->ntail = 0;
		}
		for (i = 0; i < rt->ntail; i++)
			free(rt->tail[i]);
		free(rt);
		n->rt = NULL;
	}
	if (n->input)
		leaves(n->input, release_one, n);
	cap_free(&n->cap[1]);
	cap_free(&n->cap[2]);
	if (!n->ncons)
		cap_free(&n->cap[0]);
}

/* Did the attempt's command itself fail (exit status, signal, timeout)
 * rather than not start at all? Only then can a retry help. */
static int
command_failed(const struct task_rt *rt)
{
	return rt && !rt->cond && (!rt->why[0] || rt->timed_out);
}

/* An attempt of task n came to st: the rules 1 and 3 above. Unless it is
 * retried, st is final: logged, given to the special variables and the
 * notifiers, the first failure kept for the summary, the task released.
 * This only records; whoever got the event (reap, timers) moves the
 * groups above with parent_step afterwards. */
static void
task_result(struct node *n, enum status st)
{
	struct task_rt *rt = n->rt;

	if (st == S_FAILED && command_failed(rt) && n->attempts <= n->retry && !R.cancel) {
		logmsg(L_WARN, n->name, "attempt %d failed (%s), retrying in %gs", n->attempts,
			rt->timed_out ? "timed out" : "exit status", n->retry_delay);
		rt->why[0] = '\0';
		rt->ph = T_RETRY;
		rt->wake = now() + n->retry_delay;
		tm_set(n);
		return;
	}
	n->st = st;
	n->t1 = now();
	if (n->parent)
		n->parent->ndone++;
	log_status(n);
	set_specials(n);
	notify_task(n); /* before task_release: it may post the output */
	if (st == S_FAILED && !R.first_failed)
		R.first_failed = n;
	task_release(n);
	if (st == S_FAILED && cfg.format == FMT_BUILD_DEPLOY && !opt.force && !R.cancel) {
		R.cancel = 1;
		abort_active();
	}
}

static void
skip_tree(struct node *n)
{
	size_t i;

	if (n->st != S_PENDING)
		return;
	n->st = S_SKIPPED;
	n->t0 = n->t1 = now();
	if (n->kind == N_TASK) {
		task_result(n, S_SKIPPED);
		return;
	}
	if (n->parent)
		n->parent->ndone++;
	if (n->logged)
		log_status(n);
	for (i = 0; i < n->nkids; i++)
		skip_tree(n->kids[i]);
}

static void
group_finish(struct node *g)
{
	size_t i;

	g->st = S_OK;
	for (i = 0; i < g->nkids; i++)
		if (g->kids[i]->st == S_FAILED)
			g->st = S_FAILED;
	g->t1 = now();
	if (g->parent)
		g->parent->ndone++;
	if (g->logged) {
		char d[32];
		if (g->st == S_OK)
			logmsg(L_INFO, g->name, "End task (%s)",
				fmt_dur(g->t1 - g->t0, d, sizeof d));
		else
			logmsg(L_ERROR, g->name, "Task failed (%s)",
				fmt_dur(g->t1 - g->t0, d, sizeof d));
	}
}

/* Run the entries of a sequence one after another; returns 1 when the
 * sequence is finished. After a failure the rest is skipped (not with -f). */
static int
seq_advance(struct node *s)
{
	while (s->idx < s->nkids) {
		struct node *k = s->kids[s->idx];
		if (k->st == S_PENDING) {
			if ((s->failed && !opt.force) || R.cancel) {
				skip_tree(k);
				s->idx++;
				continue;
			}
			if (!node_start(k))
				return 0;
		} else if (k->st == S_RUNNING) {
			return 0;
		}
		if (k->st == S_FAILED)
			s->failed = 1;
		s->idx++;
	}
	group_finish(s);
	return 1;
}

/* Start the entries of a parallel group, PAR_BURST at a time: between
 * bursts the loop reaps what ended and closes its pipes. A spawn costs
 * the kernel every descriptor walter has open (the child's copy of the
 * table, closed again at exec), so starting 5,000 entries in one go
 * would cost 5,000 x 10,000 closes; in bursts the open descriptors are
 * those of the tasks that really run. The first call starts a burst,
 * R.more the next ones; later calls, one per finished entry, count.
 * Returns 1 when every entry ended. */
enum { PAR_BURST = 16 };

static int
par_advance(struct node *g)
{
	while (g->idx < g->nkids) {
		struct node *k = g->kids[g->idx];
		if (k->st == S_PENDING && !R.cancel && !R.burst) {
			if (!g->more) {
				R.more = xreallocarray(R.more, R.nmore + 1, sizeof *R.more);
				R.more[R.nmore++] = g;
				g->more = 1;
			}
			return 0;
		}
		g->idx++;
		if (k->st != S_PENDING)
			continue;
		if (R.cancel) {
			skip_tree(k);
		} else {
			R.burst--;
			node_start(k);
		}
	}
	if (g->ndone < g->nkids)
		return 0;
	group_finish(g);
	return 1;
}

/* A node finished on its own (process exit, timer): move its ancestors. */
static void
parent_step(struct node *n)
{
	struct node *p;

	for (p = n->parent; p; p = p->parent)
		if (!(p->kind == N_SEQ ? seq_advance(p) : par_advance(p)))
			break;
}

/* ---- a task's steps: only_if, wait_for, command, retries ------------ */

static void task_wait(struct node *n);

static int
stdin_for(struct node *n, int *fd)
{
	struct proc *p = &n->rt->p;
	int pp[2];
	size_t i;
	off_t total = 0;

	*fd = -1;
	for (i = 0; i < p->nsrc; i++)
		if (p->src[i]->cap[0])
			total += p->src[i]->cap[0]->size;
	if (total == 0 || n->rt->cond)
		return open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (xpipe(pp) < 0)
		return -1;
	nonblock(pp[1]);
	p->in = pp[1], p->isrc = 0, p->off = 0;
	*fd = pp[0];
	return pp[0];
}

/* Start a process for the task's only_if (cond) or its command. */
static int
task_spawn(struct node *n, int cond)
{
	struct task_rt *rt = n->rt;
	char *args[4], **argv = args, *path;
	enum spawn_result r;
	int in, pipe_in;

	rt->cond = cond;
	if (cond || n->command) {
		args[0] = "sh", args[1] = "-c", args[2] = (char *)(cond ? n->only_if : n->command);
		args[3] = NULL, path = xstrdup(R.sh);
	} else if (n->script) {
		args[0] = "sh", args[1] = (char *)n->script, args[2] = NULL, path = xstrdup(R.sh);
	} else {
		argv = n->argv;
		if (!(path = path_lookup(argv[0]))) {
			snprintf(rt->why, sizeof rt->why, "command not found: %s", argv[0]);
			return -1;
		}
	}
	if ((in = stdin_for(n, &pipe_in)) < 0) {
		r = errno == EMFILE || errno == ENFILE ? SPAWN_SHORTAGE : SPAWN_FAILED;
		snprintf(rt->why, sizeof rt->why, "cannot set up stdin: %s", strerror(errno));
	} else {
#ifdef WALTER_SPAWN
		r = spawn_posix(n, argv, path, in, &rt->p, rt->why, sizeof rt->why);
#else
		r = spawn_fork(n, argv, path, in, &rt->p, rt->why, sizeof rt->why);
#endif
		close(in);
	}
	free(path);
	if ((r == SPAWN_FAILED || r == SPAWN_SHORTAGE) && rt->p.in >= 0)
		close(rt->p.in), rt->p.in = -1;
	if (r == SPAWN_SHORTAGE && R.running > 0) {
		/* out of fds or processes: try again when a running task ends */
		rt->why[0] = '\0';
		rt->deferred = 1;
		rt->ph = T_QUEUED;
		R.queue = xreallocarray(R.queue, R.nqueue + 1, sizeof *R.queue);
		R.queue[R.nqueue++] = n;
		return 1;
	}
	return r == SPAWN_OK ? 0 : -1;
}

static void
task_run(struct node *n)
{
	struct task_rt *rt = n->rt;
	struct stat sb;

	rt->ph = T_RUN;
	rt->timed_out = 0, rt->term_at = 0, rt->kill_sent = 0;
	if (n->attempts++ == 0)
		logmsg(L_INFO, n->name, "Start task");
	if (!n->command && !n->argv && !n->script) {
		task_result(n, S_OK);
		return;
	}
	if (n->script && stat(n->script, &sb) < 0) {
		snprintf(rt->why, sizeof rt->why, "file: %s does not exist", n->script);
		task_result(n, S_FAILED);
		return;
	}
	rt->deadline = n->timeout > 0 ? now() + n->timeout : 0;
	if (task_spawn(n, 0) < 0 && !rt->p.pid)
		task_result(n, S_FAILED);
	else
		tm_set(n);
}

static void
task_cond(struct node *n)
{
	if (!n->only_if) {
		task_wait(n);
		return;
	}
	n->rt->ph = T_COND;
	if (task_spawn(n, 1) < 0 && !n->rt->p.pid)
		task_result(n, S_FAILED);
	else
		tm_set(n);
}

static void
task_wait(struct node *n)
{
	struct waitfor *w = &n->wait;
	struct task_rt *rt = n->rt;

	if (!w->set || (!w->delay && !w->file && !w->port)) {
		task_run(n);
		return;
	}
	rt->ph = T_WAIT;
	if (w->delay > 0) {
		logmsg(L_INFO, n->name, "wait_for: %g seconds delay", w->delay);
		rt->wake = now() + w->delay;
	} else {
		if (w->file)
			logmsg(L_INFO, n->name, "wait_for: file %s %s", w->file, w->state);
		else
			logmsg(L_INFO, n->name, "wait_for: %s:%ld %s", w->host, w->port, w->state);
		rt->wake = now();
	}
	rt->wait_end = w->timeout > 0 ? now() + w->timeout : 0;
	tm_set(n);
}

static void
collect_src(struct node *leaf, struct node *consumer)
{
	struct proc *p = &consumer->rt->p;

	p->src = xreallocarray(p->src, p->nsrc + 1, sizeof *p->src);
	p->src[p->nsrc++] = leaf;
}

static int
task_start(struct node *n)
{
	struct task_rt *rt;

	if (R.cancel) {
		skip_tree(n);
		return 1;
	}
	n->rt = rt = xmalloc(sizeof *rt);
	memset(rt, 0, sizeof *rt);
	rt->p.fd[0] = rt->p.fd[1] = rt->p.in = rt->pr.fd = -1;
	n->st = S_RUNNING;
	n->t0 = now();
	if (n->input)
		leaves(n->input, collect_src, n);
	act_add(n);
	if (opt.jobs && R.running >= opt.jobs) {
		rt->ph = T_QUEUED;
		R.queue = xreallocarray(R.queue, R.nqueue + 1, sizeof *R.queue);
		R.queue[R.nqueue++] = n;
		return 0;
	}
	task_cond(n);
	return n->st != S_RUNNING;
}

static int
node_start(struct node *n)
{
	if (n->kind == N_TASK)
		return task_start(n);
	n->st = S_RUNNING;
	n->t0 = now();
	n->idx = 0;
	if (n->logged)
		logmsg(L_INFO, n->name, "Start task");
	return n->kind == N_SEQ ? seq_advance(n) : par_advance(n);
}

/* A task's process was reaped: what did this attempt come to? */
static void
task_exited(struct node *n)
{
	struct task_rt *rt = n->rt;
	int st = rt->p.status;

	n->code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
	if (rt->abort) {
		task_result(n, S_ABORTED);
	} else if (rt->why[0] && !rt->timed_out) {
		task_result(n, S_FAILED); /* could not start, or output could not be kept */
	} else if (rt->cond) {
		if (n->code == 0)
			task_wait(n);
		else
			task_result(n, S_CONDFALSE);
	} else if (n->code == 0 && !rt->timed_out) {
		task_result(n, S_OK);
	} else {
		if (rt->timed_out)
			snprintf(rt->why, sizeof rt->why, "timed out after %gs", n->timeout);
		task_result(n, S_FAILED);
	}
}

/* Start queued tasks while -jobs allows; each waiting task is tried once
 * per call (a deferred one may queue itself again). */
static void
dispatch_queue(void)
{
	size_t end = R.nqueue;

	while (R.qhead < end && (!opt.jobs || R.running < opt.jobs)) {
		struct node *n = R.queue[R.qhead++];
		struct task_rt *rt = n->rt;
		if (n->st != S_RUNNING || !rt || rt->ph != T_QUEUED || rt->abort)
			continue;
		if (rt->deferred) {
			rt->deferred = 0;
			rt->ph = rt->cond ? T_COND : T_RUN;
			if (task_spawn(n, rt->cond) < 0 && !rt->p.pid)
				task_result(n, S_FAILED);
		} else {
			task_cond(n);
		}
		if (n->st != S_RUNNING)
			parent_step(n);
		else
			tm_set(n);
	}
	if (R.qhead > 0 && R.qhead * 2 >= R.nqueue) {
		memmove(R.queue, R.queue + R.qhead, (R.nqueue - R.qhead) * sizeof *R.queue);
		R.nqueue -= R.qhead;
		R.qhead = 0;
	}
}

/* Members of group g left: is it empty? (EPERM: someone is there.) */
static int
group_empty(pid_t g)
{
	return kill(-g, 0) < 0 && errno == ESRCH;
}

/* The process that led group g (task n's) was reaped: forget g once the
 * group is empty, so that its id, which the kernel may then reuse, is
 * never signalled; a group with members left lingers until they are
 * gone (orphan_reaped). */
static void
group_ended(pid_t g, struct node *n)
{
	if (n->keep)
		return; /* not the guardian's, not killed at the end */
	if (group_empty(g)) {
		guard_send('F', g);
		return;
	}
	R.linger = xreallocarray(R.linger, R.nlinger + 1, sizeof *R.linger);
	R.linger[R.nlinger].g = g, R.linger[R.nlinger++].n = n;
}

/* An orphan (a process a task left, adopted as subreaper) was reaped:
 * it may have been the last of a lingering group. */
static void
orphan_reaped(void)
{
	size_t i;

	for (i = 0; i < R.nlinger;)
		if (group_empty(R.linger[i].g)) {
			guard_send('F', R.linger[i].g);
			R.linger[i] = R.linger[--R.nlinger];
		} else {
			i++;
		}
}

/* A child stopped. Tasks run in background process groups, so one that
 * reads the terminal (or writes to it under "stty tostop") is stopped by
 * SIGTTIN (SIGTTOU) and would wait forever: it fails, saying why, and
 * is stopped like an aborted task (SIGTERM with SIGCONT, then SIGKILL).
 * Other stops (SIGSTOP, someone's choice) are left alone. */
static void
stopped(pid_t pid, int sig)
{
	struct node *n = pm_get(&R.pids, pid);

	if (!n || pid != n->rt->p.pid || (sig != SIGTTIN && sig != SIGTTOU))
		return;
	if (!n->rt->why[0])
		snprintf(n->rt->why, sizeof n->rt->why,
			"it tried to %s the terminal (stopped by %s)",
			sig == SIGTTIN ? "read from" : "write to",
			sig == SIGTTIN ? "SIGTTIN" : "SIGTTOU");
	term_group(n);
}

static void
reap(void)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG | WUNTRACED)) > 0) {
		struct node *n;
		struct proc *p;
		int s;
		if (WIFSTOPPED(st)) {
			stopped(pid, WSTOPSIG(st));
			continue;
		}
		if (notify_reaped(pid, st))
			continue; /* the notification worker: its status is not ours */
		if (!(n = pm_get(&R.pids, pid))) {
			orphan_reaped();
			continue; /* an orphan we adopted as subreaper or PID 1 */
		}
		pm_del(&R.pids, pid);
		if (pid != n->rt->p.pid) {
			n->rt->pr.pid = 0; /* a wait_for resolver: its pipe says it all */
			continue;
		}
		p = &n->rt->p;
		p->pid = 0, p->status = st;
		R.running--;
		/* what is in the pipes now is the process's; a daemon that
		 * holds them gets EPIPE from here on */
		for (s = 0; s < 2; s++) {
			if (p->fd[s] >= 0 && drain(n, s) && p->part[s].len)
				out_line(n, p->part[s].data, p->part[s].len);
			buf_free(&p->part[s]);
			fd_drop(&p->fd[s]);
		}
		fd_drop(&p->in);
		group_ended(pid, n);
		task_exited(n);
		if (n->st != S_RUNNING)
			parent_step(n);
		else
			tm_set(n);
	}
	dispatch_queue();
}

/* SIGTERM to the task's process group, once; SIGKILL follows after
 * R.grace (task_timers). A stopped group is continued, or it would never
 * see the TERM. */
static void
term_group(struct node *n)
{
	struct task_rt *rt = n->rt;

	if (rt->p.pid > 0 && !rt->term_at) {
		kill(-rt->p.pid, SIGTERM);
		kill(-rt->p.pid, SIGCONT);
		rt->term_at = now();
		tm_set(n);
	}
}

static void
abort_active(void)
{
	size_t i;

	for (i = 0; i < R.nact; i++) {
		struct node *n = R.act[i];
		n->rt->abort = 1;
		if (n->rt->p.pid > 0) {
			term_group(n);
		} else {
			n->rt->wake = now(); /* waiting or queued: end it in timers() */
			tm_set(n);
		}
	}
}

/* ---- wait_for: a delay, a file, or a port checked without blocking -- */

/* One resolved address, as a resolver writes it into its pipe. */
struct addr {
	int family, socktype, protocol;
	socklen_t len;
	struct sockaddr_storage sa;
};

enum { ADDR_MAX = 16 };  /* addresses of a host tried, at most */
#define RESOLVE_TIME 5.0 /* seconds a resolver may take per attempt */
#define CONNECT_TIME 0.2 /* seconds a connect may take per address */

static void
addrs_of(const struct addrinfo *ai, struct buf *out)
{
	struct addr a;
	int k = 0;

	for (; ai && k < ADDR_MAX; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof a.sa)
			continue;
		memset(&a, 0, sizeof a);
		a.family = ai->ai_family, a.socktype = ai->ai_socktype;
		a.protocol = ai->ai_protocol, a.len = ai->ai_addrlen;
		memcpy(&a.sa, ai->ai_addr, ai->ai_addrlen);
		xput(out, &a, sizeof a);
		k++;
	}
}

/* The resolver child: look the host up, write its addresses, exit. It
 * holds nothing of walter's (no task pipe stays open because of it) and
 * dies with walter. */
static void __attribute__((noreturn))
resolver(pid_t parent, const char *host, const char *port, int fd)
{
	struct addrinfo hints, *res;
	struct buf b = { 0 };
	int ok = 1;

#ifdef PR_SET_PDEATHSIG
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(1);
#endif
	(void)parent;
	child_signals();
	signal(SIGINT, SIG_DFL), signal(SIGTERM, SIG_DFL), signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	close_except(fd, -1);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) == 0) {
		addrs_of(res, &b);
		write_all(fd, b.data ? b.data : "", b.len, &ok);
	}
	_exit(0);
}

/* Stop what the port check has under way (the resolver is killed and
 * reaped: SIGKILL is quick). */
static void
probe_stop(struct probe *pr)
{
	int st;

	if (pr->pid > 0) { /* never left to outlive walter, nor a zombie */
		kill(pr->pid, SIGKILL);
		while (waitpid(pr->pid, &st, 0) < 0 && errno == EINTR)
			;
		pm_del(&R.pids, pr->pid);
		pr->pid = 0;
	}
	fd_drop(&pr->fd);
	pr->end = 0;
}

/* The condition was checked: met runs the command; otherwise look again
 * in 20 ms (the wait_for timeout is a timer of its own). */
static void
wait_result(struct node *n, int there)
{
	struct task_rt *rt = n->rt;

	if (there != (n->wait.want == W_ABSENT)) {
		task_run(n);
		return;
	}
	rt->wake = now() + 0.02;
	tm_set(n);
}

/* Connect to the next resolved address; none left: the port is closed. */
static void
probe_next(struct node *n)
{
	struct probe *pr = &n->rt->pr;
	struct addr a;
	int fd;

	while (pr->next + sizeof a <= pr->got.len) {
		memcpy(&a, pr->got.data + pr->next, sizeof a);
		pr->next += sizeof a;
		if ((fd = socket(a.family, a.socktype, a.protocol)) < 0)
			continue;
		cloexec(fd);
		nonblock(fd);
		if (connect(fd, (struct sockaddr *)&a.sa, a.len) == 0) {
			close(fd);
			wait_result(n, 1);
			return;
		}
		if (errno == EINPROGRESS) {
			pr->fd = fd;
			ev_set(fd, WK_PROBE, n, POLLOUT);
			pr->end = now() + CONNECT_TIME;
			tm_set(n);
			return;
		}
		close(fd);
	}
	wait_result(n, 0);
}

/* Start a port check: addresses known within the last second are tried
 * again; a numeric host needs no lookup; a name goes to a resolver. */
static void
probe_start(struct node *n)
{
	struct probe *pr = &n->rt->pr;
	struct addrinfo hints, *res;
	char port[16];
	pid_t pid, me = getpid();
	int pp[2] = { -1, -1 };

	pr->next = 0;
	if (pr->resolved && now() < pr->resolved + 1) {
		probe_next(n);
		return;
	}
	pr->got.len = 0;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	snprintf(port, sizeof port, "%ld", n->wait.port);
	if (getaddrinfo(n->wait.host, port, &hints, &res) == 0) {
		addrs_of(res, &pr->got);
		freeaddrinfo(res);
		pr->resolved = now();
		probe_next(n);
		return;
	}
	if (xpipe(pp) < 0 || (pid = fork()) < 0) {
		if (pp[0] >= 0)
			close(pp[0]), close(pp[1]);
		pr->resolved = now(); /* no addresses: closed, try again in 1 s */
		probe_next(n);
		return;
	}
	if (pid == 0)
		resolver(me, n->wait.host, port, pp[1]);
	close(pp[1]);
	nonblock(pp[0]);
	pr->pid = pid;
	pm_put(&R.pids, pid, n);
	pr->fd = pp[0];
	ev_set(pr->fd, WK_PROBE, n, POLLIN);
	pr->end = now() + RESOLVE_TIME;
	tm_set(n);
}

/* The port check's descriptor is ready: the resolver wrote (or ended),
 * or a connect finished. */
static void
probe_ready(struct node *n)
{
	struct probe *pr = &n->rt->pr;
	char chunk[4096];
	ssize_t r;
	int e = 0;
	socklen_t el = sizeof e;

	if (R.watch[pr->fd].events == POLLOUT) { /* connected, or refused */
		if (getsockopt(pr->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
			e = errno;
		fd_drop(&pr->fd);
		pr->end = 0;
		if (!e)
			wait_result(n, 1);
		else
			probe_next(n);
		return;
	}
	while ((r = read(pr->fd, chunk, sizeof chunk)) > 0)
		if (pr->got.len < ADDR_MAX * sizeof(struct addr))
			xput(&pr->got, chunk, (size_t)r);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	fd_drop(&pr->fd); /* the resolver is done (reap() collects it) */
	pr->end = 0;
	pr->got.len -= pr->got.len % sizeof(struct addr);
	pr->resolved = now();
	probe_next(n);
}

/* A wait_for's time came: its delay is over, or look at the file, or
 * start a port check; a port check step that ran out of time gives up
 * (a lookup: no address this time; a connect: the next address). */
static void
wait_tick(struct node *n, double t)
{
	struct task_rt *rt = n->rt;
	struct probe *pr = &rt->pr;
	struct stat sb;

	if (pr->end && t >= pr->end) {
		int lookup = pr->pid > 0 || R.watch[pr->fd].events == POLLIN;
		probe_stop(pr);
		if (lookup)
			pr->got.len = 0, pr->resolved = t;
		probe_next(n);
	} else if (!pr->end && t >= rt->wake) {
		if (n->wait.delay > 0)
			task_run(n); /* the wake time was the delay */
		else if (n->wait.file)
			wait_result(n, stat(n->wait.file, &sb) == 0);
		else
			probe_start(n);
	}
	if (n->st != S_RUNNING || rt->ph != T_WAIT)
		return;
	if (rt->wait_end && t >= rt->wait_end) {
		snprintf(rt->why, sizeof rt->why, "wait_for timed out after %gs", n->wait.timeout);
		task_result(n, S_FAILED);
		return;
	}
	tm_set(n);
}

/* Timers of one task; returns 1 if the task finished. Whatever it
 * leaves running has its next due time in the future (tm_set), so the
 * loop in timers() cannot spin. */
static int
task_timers(struct node *n, double t)
{
	struct task_rt *rt = n->rt;

	if (rt->abort && rt->p.pid <= 0) {
		task_result(n, rt->ph == T_QUEUED ? S_SKIPPED : S_ABORTED);
		return 1;
	}
	if (rt->p.pid > 0) {
		if (rt->deadline && t >= rt->deadline && !rt->term_at) {
			rt->timed_out = 1;
			logmsg(L_WARN, n->name, "timed out after %gs: stopping it", n->timeout);
			term_group(n);
		}
		if (rt->term_at && !rt->kill_sent && t >= rt->term_at + R.grace) {
			kill(-rt->p.pid, SIGKILL);
			rt->kill_sent = 1;
		}
		tm_set(n);
		return 0;
	}
	if (rt->ph == T_RETRY && t >= rt->wake)
		task_run(n);
	else if (rt->ph == T_WAIT)
		wait_tick(n, t);
	else
		tm_set(n);
	return n->st != S_RUNNING;
}

/* The run's own deadlines: -timeout, then the cleanup's budget. */
static void
run_timers(double t)
{
	char d[32];

	if (R.deadline && t >= R.deadline && !R.timed_out) {
		R.timed_out = 1;
		if (!R.in_cleanup) {
			logmsg(L_ERROR, NULL, "the run took longer than -timeout %gs: aborting",
				opt.timeout);
			R.cancel = 1;
			abort_active();
		} else if (!R.cleanup_end) {
			R.cleanup_end = t + opt.cleanup_timeout;
			logmsg(L_ERROR, NULL,
				"the run took longer than -timeout %gs: the cleanup may take %s more (-cleanup-timeout)",
				opt.timeout, fmt_dur(opt.cleanup_timeout, d, sizeof d));
		}
	}
	if (R.in_cleanup && R.cleanup_end && t >= R.cleanup_end && !R.cleanup_over) {
		R.cleanup_over = 1;
		logmsg(L_ERROR, NULL,
			"the cleanup took longer than -cleanup-timeout %s: stopping it",
			fmt_dur(opt.cleanup_timeout, d, sizeof d));
		R.cancel = 1;
		abort_active();
	}
}

/* Run every timer that is due; returns when the next one is (0: none). */
static double
timers(void)
{
	double t = now(), next;

	run_timers(t);
	while (R.nheap && R.heap[0]->rt->due <= t) {
		struct node *n = R.heap[0];
		if (task_timers(n, t))
			parent_step(n);
	}
	next = R.nheap ? R.heap[0]->rt->due : 0;
	if (R.deadline && !R.timed_out && (!next || R.deadline < next))
		next = R.deadline;
	if (R.in_cleanup && R.cleanup_end && !R.cleanup_over && (!next || R.cleanup_end < next))
		next = R.cleanup_end;
	return next;
}

/* A signal came (R.nsig counts them): the first aborts the run, but lets
 * a cleanup list that is running finish within -cleanup-timeout; the
 * second stops everything and skips the cleanup. */
static void
on_walter_signal(void)
{
	static int seen;
	char d[32];

	if (R.nsig == seen)
		return;
	seen = R.nsig;
	if (seen == 1 && R.in_cleanup) {
		if (!R.cleanup_end)
			R.cleanup_end = now() + opt.cleanup_timeout;
		logmsg(L_WARN, NULL,
			"received signal %d: letting the cleanup finish (at most %s more; a second signal stops it)",
			(int)R.sig, fmt_dur(R.cleanup_end - now(), d, sizeof d));
		return;
	}
	logmsg(L_WARN, NULL, "received signal %d: aborting running tasks%s", (int)R.sig,
		seen > 1 ? " and skipping cleanup" : "");
	R.cancel = 1;
	abort_active();
}

/* The next burst of each parallel group that has entries left to start. */
static void
more_start(void)
{
	size_t i, n = R.nmore;
	struct node **g;

	R.burst = PAR_BURST;
	if (!n)
		return;
	g = R.more, R.more = NULL, R.nmore = 0;
	for (i = 0; i < n; i++) {
		g[i]->more = 0;
		if (g[i]->st == S_RUNNING && par_advance(g[i]))
			parent_step(g[i]);
	}
	free(g);
}

/* A descriptor the loop watches is ready (ev_wait). */
static void
ev_ready(int fd, unsigned gen)
{
	struct watch *w = (size_t)fd < R.nwatch ? &R.watch[fd] : NULL;
	struct node *n;
	unsigned char b[64];

	if (!w || !w->events || w->gen != gen)
		return; /* unwatched (and maybe reused) since the event */
	n = w->n;
	switch (w->kind) {
	case WK_SELF:
		while (read(fd, b, sizeof b) > 0)
			;
		break;
	case WK_OUT:
	case WK_ERR:
		drain(n, w->kind == WK_ERR);
		break;
	case WK_IN:
		feed(n);
		break;
	case WK_NLOG:
		nlog_read();
		break;
	case WK_NEV:
		nq_pump();
		break;
	case WK_GUARD:
		guard_pump();
		break;
	case WK_PROBE:
		probe_ready(n);
		if (n->st != S_RUNNING)
			parent_step(n);
		break;
	case WK_NONE:
		break;
	}
}

/* One turn of the loop for the list root: run what is due, wait for
 * output, exits, signals or the next timer, handle them. */
static void
loop_once(struct node *root)
{
	double next = timers(), t;
	int ms;

	if (root->st != S_RUNNING)
		return; /* a timer ended the list: no wait */
	log_flush();
	if (R.gq.len)
		guard_pump();
	t = now();
	if (R.nmore)
		ms = 0; /* entries left to start: only look at what is ready */
	else if (!next)
		ms = -1;
	else if (next - t > 1e6)
		ms = 1000000000;
	else if ((ms = next <= t ? 0 : (int)((next - t) * 1000)) < (next - t) * 1000)
		ms++; /* round up: never wake before the deadline */
	ev_wait(ms);
	reap();
	on_walter_signal();
	more_start();
}

/* Run one list (a phase's tasks or cleanup) to the end. */
static int
run_list(struct node *root, int cleanup)
{
	R.cancel = R.nsig > cleanup || (R.timed_out && !cleanup);
	R.in_cleanup = cleanup;
	R.burst = PAR_BURST;
	if (cleanup && (R.nsig || R.timed_out) && !R.cleanup_end)
		R.cleanup_end = now() + opt.cleanup_timeout; /* the budget starts */
	if (!node_start(root))
		while (root->st == S_RUNNING)
			loop_once(root);
	R.in_cleanup = 0;
	return root->st == S_FAILED;
}

/* ---- what tasks left running: stopped at the end ------------------- */

/* A process left running, and who left it. */
struct left {
	pid_t pid;
	struct node *n; /* the task; NULL when it cannot be told */
	int cls;        /* LEFT_* */
};
enum { LEFT_STOP, LEFT_KEEP, LEFT_WORKER, LEFT_OURS };

/* The children of pid (the kernel's list, where it has one: -1 if not). */
static int
proc_children(pid_t pid, pid_t **out, size_t *n)
{
	char path[96], *p, *end;
	struct buf b = { 0 };
	long c;

	snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", (long)pid, (long)pid);
	if (read_file(path, &b) < 0)
		return buf_free(&b), -1;
	for (p = b.data; p && *p; p = end) {
		c = strtol(p, &end, 10);
		if (end == p)
			break;
		if (!(*n & (*n - 1)))
			*out = xreallocarray(*out, *n ? 2 * *n : 1, sizeof **out);
		(*out)[(*n)++] = (pid_t)c;
	}
	buf_free(&b);
	return 0;
}

/* Every live process below walter, each after its parent: by the
 * kernel's children lists, else by a scan of /proc. -1 without /proc. */
static int
descendants(struct pinfo **out, size_t *n)
{
	struct pinfo *all, pi;
	struct pidmap in = { 0 };
	pid_t *kids = NULL, me = getpid();
	size_t nk = 0, i, j, nall, before;

	*out = NULL, *n = 0;
	if (proc_children(me, &kids, &nk) == 0) {
		for (i = 0; i < nk; i++) /* kids grows as each one's children are read */
			if (proc_stat(kids[i], &pi) == 0 && pi.state != 'Z') {
				if (!(*n & (*n - 1)))
					*out = xreallocarray(*out, *n ? 2 * *n : 1, sizeof **out);
				(*out)[(*n)++] = pi;
				proc_children(kids[i], &kids, &nk);
			}
		free(kids);
		return 0;
	}
	free(kids);
	if (proc_all(&all, &nall) < 0)
		return -1;
	pm_put(&in, me, &in);
	do { /* a pass per generation: parents come first */
		before = *n;
		for (j = 0; j < nall; j++)
			if (!pm_get(&in, all[j].pid) && pm_get(&in, all[j].ppid)) {
				pm_put(&in, all[j].pid, &in);
				if (!(*n & (*n - 1)))
					*out = xreallocarray(*out, *n ? 2 * *n : 1, sizeof **out);
				(*out)[(*n)++] = all[j];
			}
	} while (*n > before);
	free(all), pm_free(&in);
	return 0;
}

/* What is left running now: below walter (orphans come to it) and,
 * where they do not (no subreaper), anywhere with this run's mark. Each
 * is told to a task by its mark, else by a lingering group it is in,
 * else by its parent; what keep_running tasks left and what the worker
 * runs are classed apart. -1 without /proc. */
static int
leftovers(struct left **out, size_t *n)
{
	struct pinfo *d, *all;
	struct pidmap at = { 0 }; /* pid -> its entry in out, plus 1 */
	size_t nd, nall, i, j;
	long num;

	*out = NULL, *n = 0;
	if (descendants(&d, &nd) < 0)
		return -1;
	if (!R.subreaper && proc_all(&all, &nall) == 0) {
		for (j = 0; j < nall; j++) {
			for (i = 0; i < nd && d[i].pid != all[j].pid; i++)
				;
			if (i == nd && proc_mark(all[j].pid) >= 0) {
				d = xreallocarray(d, nd + 1, sizeof *d);
				d[nd++] = all[j];
			}
		}
		free(all);
	}
	*out = xreallocarray(NULL, nd ? nd : 1, sizeof **out);
	for (i = 0; i < nd; i++) {
		struct left *l = &(*out)[i], *up = NULL;
		size_t k = (size_t)pm_get(&at, d[i].ppid);
		if (k)
			up = &(*out)[k - 1];
		l->pid = d[i].pid, l->n = up ? up->n : NULL, l->cls = up ? up->cls : LEFT_STOP;
		if (d[i].pid == R.guard || d[i].pid == N.pid || (up && up->cls != LEFT_STOP)) {
			l->cls = d[i].pid == N.pid           ? LEFT_WORKER
				: up && up->cls != LEFT_STOP ? up->cls
							     : LEFT_OURS;
		} else if ((num = proc_mark(d[i].pid)) == 0) {
			l->cls = LEFT_WORKER;
		} else if (num > 0) {
			l->n = cfg.tasks[num - 1];
		} else {
			for (j = 0; j < R.nlinger && R.linger[j].g != d[i].pgrp; j++)
				;
			if (j < R.nlinger)
				l->n = R.linger[j].n;
		}
		if (l->cls == LEFT_STOP && l->n && l->n->keep)
			l->cls = LEFT_KEEP;
		pm_put(&at, d[i].pid, (void *)(i + 1));
	}
	*n = nd;
	free(d), pm_free(&at);
	return 0;
}

/* pid's command line, spaces for NULs, cut at 100 bytes. */
static void
proc_cmdline(pid_t pid, char *s, size_t size)
{
	char path[64];
	struct buf b = { 0 };
	size_t i;

	snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
	s[0] = '\0';
	if (read_file(path, &b) == 0 && b.len) {
		for (i = 0; i < b.len; i++)
			if (!b.data[i] || b.data[i] == '\n')
				b.data[i] = ' ';
		while (b.len && b.data[b.len - 1] == ' ')
			b.len--;
		snprintf(s, size, "%.*s%s", (int)(b.len > 100 ? 100 : b.len), b.data,
			b.len > 100 ? "..." : "");
	}
	buf_free(&b);
}

/* Stop what the tasks (and, with worker, the notifiers) left running:
 * each one named once, with its pid, command and task, SIGTERM (and
 * SIGCONT: a stopped process would never see the TERM), SIGKILL after
 * R.grace, until none is left (or 2 s more: a process in the kernel's
 * uninterruptible sleep cannot be helped). Without /proc: the groups
 * that outlived their tasks, as far as group ids tell. */
static void
kill_leftovers(int worker)
{
	double end = now() + R.grace;
	struct pidmap named = { 0 };
	struct left *l;
	size_t n, i, alive;
	pid_t pid;
	int st, sig;
	char cmd[128];

	for (;;) {
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			notify_reaped(pid, st);
		if (leftovers(&l, &n) < 0)
			break;
		sig = now() < end ? SIGTERM : SIGKILL;
		for (alive = 0, i = 0; i < n; i++) {
			if (l[i].cls == LEFT_KEEP || l[i].cls == LEFT_OURS ||
				(l[i].cls == LEFT_WORKER && !worker))
				continue;
			alive++;
			if (!pm_get(&named, l[i].pid)) {
				pm_put(&named, l[i].pid, &named);
				proc_cmdline(l[i].pid, cmd, sizeof cmd);
				if (l[i].n)
					logmsg(L_WARN, l[i].n->name,
						"left running: pid %ld (%s): stopping it",
						(long)l[i].pid, cmd);
				else
					logmsg(L_WARN, NULL,
						"left running by %s: pid %ld (%s): stopping it",
						l[i].cls == LEFT_WORKER ? "a notifier" : "a task",
						(long)l[i].pid, cmd);
			} else if (sig == SIGTERM) {
				continue;
			}
			kill(l[i].pid, sig);
			kill(l[i].pid, SIGCONT);
		}
		free(l);
		log_flush();
		if (!alive || now() > end + 2)
			break;
		nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
	}
	pm_free(&named);
	if (!access("/proc/self", F_OK))
		return;
	for (i = 0; i < R.nlinger; i++)
		kill(-R.linger[i].g, SIGTERM);
	do {
		for (alive = 0, i = 0; i < R.nlinger; i++)
			alive += !group_empty(R.linger[i].g);
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			notify_reaped(pid, st);
		if (alive)
			nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
	} while (alive && now() < end);
	for (i = 0; i < R.nlinger; i++)
		if (!group_empty(R.linger[i].g))
			kill(-R.linger[i].g, SIGKILL);
	R.nlinger = 0;
}

/* How many tasks ended in each status; returns how many were reached. */
static size_t
count_status(size_t count[S_NSTATUS])
{
	size_t i;

	memset(count, 0, S_NSTATUS * sizeof *count);
	for (i = 0; i < cfg.ntasks; i++)
		count[cfg.tasks[i]->st]++;
	return cfg.ntasks - count[S_PENDING];
}

/* Run the selected phases in order: main list, then its cleanup always;
 * a failed build stops before deploy. Returns 1 if anything failed. */
static int
run_phases(int first, int last)
{
	int i, failed = 0, f, stopped;
	char d[32];

	for (i = first; i <= last && !failed && !R.nsig && !R.timed_out; i++) {
		struct phase *ph = &cfg.ph[i];
		double t = now();
		logmsg(L_INFO, NULL, "%s started", ph->label);
		f = run_list(ph->main, 0);
		logmsg(f                                ? L_ERROR
				: R.nsig || R.timed_out ? L_WARN
							: L_INFO,
			NULL, "%s %s (%s)", ph->label,
			f                               ? "failed"
				: R.nsig || R.timed_out ? "aborted"
							: "succeeded",
			fmt_dur(now() - t, d, sizeof d));
		failed |= f;
		if (R.nsig > 1) {
			logmsg(L_WARN, NULL, "%s cleanup skipped (second signal)", ph->label);
			continue;
		}
		t = now();
		logmsg(L_INFO, NULL, "%s cleanup started", ph->label);
		f = run_list(ph->cleanup, 1);
		stopped = R.cleanup_over || R.nsig > 1;
		logmsg(f                  ? L_ERROR
				: stopped ? L_WARN
					  : L_INFO,
			NULL, "%s cleanup %s (%s)", ph->label,
			f                 ? "failed"
				: stopped ? "aborted"
					  : "succeeded",
			fmt_dur(now() - t, d, sizeof d));
		failed |= f;
	}
	return failed;
}

/* ==== 8. notifications ============================================ */

/* Design. Posting one message can take seconds (connect 5 s, whole
 * exchange 10 s, one retry) while the executor's single poll loop must
 * never stall: a stalled loop delays output, timeouts and aborts of the
 * tasks that are running. So all sending happens in one worker process
 * per run, and walter itself only formats and queues:
 *  - the worker is forked when the run starts, before any task exists,
 *    so it can inherit no task pipe (a copy of a stdin pipe's write end
 *    would keep a task from ever seeing EOF); it also closes every fd it
 *    does not need. It has walter's memory, so it knows the notifiers:
 *    an event on the pipe is just (notifier index, task label, body);
 *  - walter builds the bodies (it knows the tasks and their output) and
 *    appends them to a queue that the poll loop writes into the event
 *    pipe as fast as the worker takes it, never blocking (bounded: past
 *    NQ_MAX bytes the oldest task messages are dropped, never a
 *    summary, and the end of the run says how many);
 *  - the worker sends them in order with http_send (its curl children
 *    live and are waited for inside it) or runs the exec command (woken
 *    by its pipes and by SIGCHLD, never by a polling period), and
 *    reports its log lines over a second pipe that the poll loop reads
 *    and logs as walter lines;
 *  - at the end walter queues the summaries, closes the event pipe and
 *    waits for the worker at most the longest notifier timeout plus 2 s;
 *    then it kills the worker's process group (a hung curl, an exec
 *    command and anything it left behind). A notifier cannot change the
 *    exit code, and after a timeout the worker drops that notifier's
 *    later messages, so one dead receiver costs one timeout, not one
 *    per message;
 *  - reap()'s waitpid(-1) hands the worker's status to notify_reaped;
 *  - the worker has its own process group: Ctrl-C on the terminal reaches
 *    walter, which still wants its cleanup messages sent; it dies with
 *    walter (PR_SET_PDEATHSIG) and the guardian knows its group;
 *  - it carries the mark WALTER_TASK_ID=RUN.0, so what its commands
 *    leave is found and stopped at the end like a task's. */

/* NQ_MAX bounds walter's queue (what the worker has not taken yet): past
 * it the oldest task messages are dropped, never a summary, and the end
 * of the run says how many. */
enum { NQ_MAX = 4 << 20, OUT_CAP = 64 << 10, WLOG_MAX = 2048 };

/* ---- formatting (walter side) --------------------------------------- */

/* "key":"val" after a ',' unless first; nothing for an empty val. The
 * value is masked when it is something a task or walter said. */
static void jstr_m(struct buf *b, const char *s, size_t n);

static void
jfield_as(struct buf *b, const char *key, const char *val, int said)
{
	if (!val || !*val)
		return;
	if (b->len && b->data[b->len - 1] != '{')
		xput(b, ",", 1);
	jstr(b, key, strlen(key));
	xput(b, ":", 1);
	if (said)
		jstr_m(b, val, strlen(val));
	else
		jstr(b, val, strlen(val));
}

static void
jfield(struct buf *b, const char *key, const char *val)
{
	jfield_as(b, key, val, 0);
}

/* What tasks and walter say (names, texts, output, reasons) is masked;
 * the notifier's own settings are not: they are where it posts. The
 * result lives until the next mask(). */
static const char *
hide(const char *s, size_t *n)
{
	return sec.n ? mask(s, n) : s;
}

static void
jstr_m(struct buf *b, const char *s, size_t n)
{
	s = hide(s, &n);
	jstr(b, s, n);
}

static void
jfield_m(struct buf *b, const char *key, const char *val)
{
	jfield_as(b, key, val, 1);
}

static void
fput(struct buf *b, const char *key, const char *val, size_t n)
{
	if (b->len)
		xput(b, "&", 1);
	xprintf(b, "%s=", key);
	if (form_put_escaped(b, val, n) < 0)
		fatal("out of memory");
}

/* The on: word a final status counts as; only_if false is "skipped". */
static unsigned
st_bit(enum status st)
{
	return st == S_OK         ? ON_SUCCESS
		: st == S_FAILED  ? ON_FAILURE
		: st == S_ABORTED ? ON_ABORTED
				  : ON_SKIPPED;
}

static const char *
st_text(enum status st)
{
	return st == S_OK           ? "Succeeded"
		: st == S_FAILED    ? "Failed"
		: st == S_ABORTED   ? "Aborted"
		: st == S_CONDFALSE ? "Skipped (condition)"
				    : "Skipped";
}

/* Slack colours come from the result kind, never from the text (Q9). */
static const char *
bit_color(unsigned bit)
{
	return bit == ON_SUCCESS ? "good" : bit == ON_FAILURE ? "danger" : "warning";
}

static const char *
bit_word(unsigned bit)
{
	return bit == ON_SUCCESS    ? "success"
		: bit == ON_FAILURE ? "failure"
		: bit == ON_ABORTED ? "aborted"
				    : "skipped";
}

/* A monotonic time as RFC 3339 UTC wall-clock time. */
static const char *
rfc3339(double mono, char *b, size_t n)
{
	struct timespec ts;
	struct tm tm;
	double w;
	time_t s;

	clock_gettime(CLOCK_REALTIME, &ts);
	w = ts.tv_sec + ts.tv_nsec / 1e9 - (now() - mono);
	s = (time_t)w; /* w > 0: truncation is floor, and no libm */
	gmtime_r(&s, &tm);
	snprintf(b, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((w - (double)s) * 1000) % 1000);
	return b;
}

/* The last OUT_CAP bytes of a capture, from a line start when cut. */
static void
cap_tail(struct capture *c, struct buf *out)
{
	off_t off = c && c->size > OUT_CAP ? c->size - OUT_CAP : 0;
	ssize_t r;
	char *nl;

	if (!c || !c->size || buf_grow(out, OUT_CAP + 8) < 0)
		return;
	if (off)
		xputs(out, "...\n");
	if ((r = cap_read(c, off, out->data + out->len, (size_t)(c->size - off))) <= 0)
		return;
	if (off && (nl = memchr(out->data + out->len, '\n', (size_t)r)) &&
		nl < out->data + out->len + r - 1) {
		size_t skip = (size_t)(nl + 1 - (out->data + out->len));
		memmove(out->data + out->len, nl + 1, (size_t)r - skip);
		r -= (ssize_t)skip;
	}
	out->len += (size_t)r;
	out->data[out->len] = '\0';
}

/* Which phase and list a task is in: "build", cleanup or not. */
static const char *
task_phase(const struct node *n, int *cleanup)
{
	static const char *const lower[] = { "pipeline", "build", "deploy" };
	const struct node *r = n;
	int i;

	while (r->parent)
		r = r->parent;
	*cleanup = 0;
	for (i = 0; i < 2; i++)
		if (cfg.ph[i].main == r || cfg.ph[i].cleanup == r) {
			*cleanup = cfg.ph[i].cleanup == r;
			return lower[cfg.format == FMT_BUILD_DEPLOY ? i + 1 : 0];
		}
	return lower[0];
}

/* The names above n, outermost first, then n's unless it repeats the
 * name below it (below: NULL for the task itself). */
static void
path_names(const struct node *n, const char *below, struct buf *b)
{
	int repeat = below && !strcmp(below, n->name);

	if (!n->parent) /* the phase's list is not part of the path */
		return;
	path_names(n->parent, repeat ? below : n->name, b);
	if (repeat)
		return;
	if (b->data[b->len - 1] != '[')
		xput(b, ",", 1);
	jstr(b, n->name, strlen(n->name));
}

/* The names from the phase's list down to the task, as a JSON array; the
 * wrappers of a D1 stage with children repeat its name and appear once.
 * As deep as the nesting goes (the loader bounds it). */
static void
task_path(const struct node *n, struct buf *b)
{
	xput(b, "[", 1);
	path_names(n, NULL, b);
	xput(b, "]", 1);
}

/* "[name][RESULT] Failed" (D0/D1, REFERENCE 4.1) or "[name] Failed" (D2, 4.6). */
static void
result_text(const struct node *n, struct buf *b)
{
	xprintf(b, "[%s]%s %s", n->name, cfg.format == FMT_PIPELINE ? "[RESULT]" : "",
		st_text(n->st));
}

/* The event of a finished task for webhook and exec (README). */
static void
task_event(struct node *n, unsigned suppress, struct buf *b)
{
	struct buf t = { 0 };
	char t0[64], t1[64];
	int cleanup;
	const char *phase = task_phase(n, &cleanup);

	xputs(b, "{");
	jfield(b, "event", "task");
	jfield(b, "version", WALTER_VERSION);
	jfield(b, "file", opt.config);
	jfield(b, "host", N.host);
	jfield(b, "phase", phase);
	xprintf(b, ",\"cleanup\":%s", cleanup ? "true" : "false");
	jfield_m(b, "name", n->name);
	xputs(b, ",\"path\":");
	task_path(n, b);
	jfield(b, "status", n->st == S_CONDFALSE ? "condition_false" : bit_word(st_bit(n->st)));
	if (n->code >= 0 && n->st != S_CONDFALSE && n->st != S_SKIPPED)
		xprintf(b, ",\"exit_code\":%d", n->code);
	else
		xputs(b, ",\"exit_code\":null");
	xprintf(b, ",\"attempts\":%d,\"duration\":%.3f", n->attempts, n->t1 - n->t0);
	jfield(b, "start", rfc3339(n->t0, t0, sizeof t0));
	jfield(b, "end", rfc3339(n->t1, t1, sizeof t1));
	result_text(n, &t);
	jfield_m(b, "text", t.data);
	if (n->rt && n->rt->why[0])
		jfield_m(b, "reason", n->rt->why);
	if (n->report_full && !(suppress & SUP_STDOUT)) {
		t.len = 0, cap_tail(n->cap[0], &t);
		xputs(b, ",\"stdout\":");
		jstr_m(b, t.len ? t.data : "", t.len);
	}
	if (n->report_full && !(suppress & SUP_STDERR)) {
		t.len = 0, cap_tail(n->cap[1], &t);
		xputs(b, ",\"stderr\":");
		jstr_m(b, t.len ? t.data : "", t.len);
	}
	xputs(b, "}\n");
	buf_free(&t);
}

/* The body of one chat message; color NULL for output messages. */
static void
chat_body(const struct notifier *nt, const char *text, size_t len, const char *color, struct buf *b)
{
	const char *from = nt_get(nt, "from"), *col = nt_get(nt, "color");
	struct buf j = { 0 };

	if (nt->kind == NT_HIPCHAT) { /* API v1: a form, the token in the URL */
		fput(b, "room_id", nt_get(nt, "room_id"), strlen(nt_get(nt, "room_id")));
		fput(b, "from", from && *from ? from : "walter",
			strlen(from && *from ? from : "walter"));
		fput(b, "message", text, len);
		fput(b, "notify", "1", 1);
		fput(b, "color", col && *col ? col : "purple",
			strlen(col && *col ? col : "purple"));
		fput(b, "message_format", "text", 4);
		return;
	}
	xputs(nt->kind == NT_SLACK ? &j : b, "{");
	if (nt->kind == NT_HIPCHAT2) {
		jfield(b, "color", col && *col ? col : "purple");
		xputs(b, ",\"message\":");
		jstr(b, text, len);
		xputs(b, ",\"notify\":true,\"message_format\":\"text\"}\n");
		return;
	}
	jfield(&j, "channel", nt->channel);
	jfield(&j, "username", nt_get(nt, "username"));
	jfield(&j, "icon_emoji", nt_get(nt, "icon"));
	jfield(&j, "icon_url", nt_get(nt, "icon_url"));
	xputs(&j, j.len > 1 ? ",\"attachments\":[{" : "\"attachments\":[{");
	jfield(&j, "color", color);
	if (color)
		xput(&j, ",", 1);
	xputs(&j, "\"text\":");
	jstr(&j, text, len);
	xputs(&j, "}]}");
	if (!strcmp(nt->ctype, "application/json")) { /* D2 */
		xput(b, j.data, j.len);
	} else { /* D0/D1: one form field */
		xputs(b, "payload=");
		if (form_put_escaped(b, j.data, j.len) < 0)
			fatal("out of memory");
	}
	buf_free(&j);
}

/* ---- the queue and the pipes (walter side) ---------------------------- */

/* Take the oldest message off the queue. */
static void
nq_pop(void)
{
	struct nmsg *m = N.head;

	N.head = m->next;
	if (!N.head)
		N.tail = NULL;
	N.qbytes -= m->len;
	N.qoff = 0;
	free(m);
}

/* Hand as much of the queue to the worker as the pipe takes now; the
 * loop watches the pipe while something is left. */
static void
nq_pump(void)
{
	ssize_t w;

	while (N.ev >= 0 && N.head) {
		w = write(N.ev, N.head->data + N.qoff, N.head->len - N.qoff);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w < 0) { /* EPIPE: the worker is gone (reported by notify_reaped) */
			fd_drop(&N.ev);
			break;
		}
		if ((N.qoff += (size_t)w) == N.head->len)
			nq_pop();
	}
	if (N.ev < 0)
		while (N.head)
			nq_pop();
	ev_set(N.ev, WK_NEV, NULL, N.head ? POLLOUT : 0);
}

/* Past NQ_MAX: drop the oldest task messages the worker has not begun
 * to take, until the queue fits again (or only summaries are left). */
static void
nq_trim(void)
{
	struct nmsg *prev = N.head && N.qoff ? N.head : NULL; /* (one half-sent stays) */
	struct nmsg *m = prev ? prev->next : N.head, *next;

	while (N.qbytes > NQ_MAX && m) {
		next = m->next;
		if (m->summary) {
			prev = m, m = next;
			continue;
		}
		if (prev)
			prev->next = next;
		else
			N.head = next;
		if (N.tail == m)
			N.tail = prev;
		N.qbytes -= m->len;
		N.dropped++;
		free(m);
		m = next;
	}
}

static void
enqueue(size_t nt, const char *label, const struct buf *body, int summary)
{
	struct wire_ev h;
	struct nmsg *m;
	size_t nl = strlen(label), len;

	if (N.ev < 0 || !body->len)
		return;
	h.nt = (uint32_t)nt, h.nlabel = (uint32_t)nl, h.nbody = (uint32_t)body->len;
	len = sizeof h + nl + body->len;
	m = xmalloc(sizeof *m + len);
	m->next = NULL, m->len = len, m->summary = summary;
	memcpy(m->data, &h, sizeof h);
	memcpy(m->data + sizeof h, label, nl);
	memcpy(m->data + sizeof h + nl, body->data, body->len);
	if (N.tail)
		N.tail->next = m;
	else
		N.head = m;
	N.tail = m;
	N.qbytes += len;
	if (N.qbytes > NQ_MAX)
		nq_trim();
	nq_pump();
}

/* Log the complete records the worker sent. */
static void
nlog_parse(void)
{
	struct wire_log h;
	size_t off = 0;
	char name[256];

	while (N.in.len - off >= sizeof h) {
		memcpy(&h, N.in.data + off, sizeof h);
		if (h.nname >= sizeof name || h.ntext > WLOG_MAX || h.level > L_FATAL) {
			N.in.len = off = 0; /* cannot happen: our own child wrote it */
			break;
		}
		if (N.in.len - off - sizeof h < (size_t)h.nname + h.ntext)
			break;
		memcpy(name, N.in.data + off + sizeof h, h.nname);
		name[h.nname] = '\0';
		log_line((enum level)h.level, h.nname ? name : NULL,
			N.in.data + off + sizeof h + h.nname, h.ntext);
		off += sizeof h + h.nname + h.ntext;
	}
	if (off) { /* (never memmove a NULL data, even for 0 bytes) */
		memmove(N.in.data, N.in.data + off, N.in.len - off);
		N.in.len -= off;
	}
}

static void
nlog_read(void)
{
	char chunk[8192];
	ssize_t r;

	for (;;) {
		r = read(N.log, chunk, sizeof chunk);
		if (r > 0) {
			xput(&N.in, chunk, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		fd_drop(&N.log); /* EOF: the worker is done */
		break;
	}
	nlog_parse();
}

static void
worker_died(int signaled, int num)
{
	logmsg(L_ERROR, NULL, "the notification worker ended early (%s %d): notifications are off",
		signaled ? "signal" : "status", num);
}

/* reap() found a child: 1 if it was the worker (its status is ours). */
static int
notify_reaped(pid_t pid, int st)
{
	if (!N.pid || pid != N.pid)
		return 0;
	N.pid = 0;
	if (!N.ending || !WIFEXITED(st) || WEXITSTATUS(st))
		worker_died(WIFSIGNALED(st), WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	fd_drop(&N.ev);
	return 1;
}

/* ---- the worker -------------------------------------------------------- */

static void __attribute__((format(printf, 3, 4)))
wlog(enum level lv, const char *name, const char *fmt, ...)
{
	struct buf b = { 0 };
	struct wire_log h;
	char text[WLOG_MAX + 1];
	va_list ap;
	int n, ok = W.log >= 0;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (n < 0 || !ok)
		return;
	h.level = (uint32_t)lv;
	h.nname = (uint32_t)(name ? strnlen(name, 255) : 0);
	h.ntext = (uint32_t)((size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
	xput(&b, &h, sizeof h);
	xput(&b, name ? name : "", h.nname);
	xput(&b, text, h.ntext);
	write_all(W.log, b.data, b.len, &ok); /* blocking: walter always reads */
	if (!ok)
		W.log = -1;
	buf_free(&b);
}

static void
deliver_http(size_t i, const char *label, const struct buf *body)
{
	const struct notifier *nt = &cfg.nt[i];
	const char *hdr[2] = { nt->auth, NULL };
	struct http_request rq;
	struct http_response rs;
	char err[512];
	double t = now();

	memset(&rq, 0, sizeof rq);
	rq.method = "POST", rq.url = nt->url, rq.content_type = nt->ctype;
	rq.headers = nt->auth ? hdr : NULL;
	rq.body = body->data, rq.body_len = body->len;
	rq.tls_proxy = nt->tls_proxy;
	rq.timeout_ms = (int)(nt->timeout * 1000);
	rq.connect_timeout_ms = rq.timeout_ms < 5000 ? rq.timeout_ms : 5000;
	if (http_send(&rq, &rs, err, sizeof err) < 0) {
		wlog(L_ERROR, label, "Failed to notify to %s: %s", nt->type, err);
		if (now() - t >= nt->timeout - 0.05) {
			W.down[i] = 1;
			wlog(L_ERROR, label,
				"%s (%s) did not answer in time: its later messages are dropped",
				nt->type, nt->where);
		}
	} else if (rs.status < 200 || rs.status > 299) {
		wlog(L_ERROR, label, "Failed to notify to %s: %s answered HTTP %d", nt->type,
			nt->where, rs.status);
	} else {
		wlog(L_DEBUG, label, "Notify to %s (%s)", nt->type, nt->where);
	}
	buf_free(&rs.body);
}

/* What an exec command printed, as log lines (at most 10). */
static void
exec_output(enum level lv, const char *label, struct buf *out)
{
	char *p = out->data, *e;
	int k = 0;

	while (p && *p && k++ < 10) {
		e = p + strcspn(p, "\n");
		wlog(lv, label, "exec: %.*s", (int)(e - p), p);
		p = *e ? e + 1 : e;
	}
}

/* In the worker: SIGCHLD ends exec_wait's poll at once. */
static void
on_wchld(int sig)
{
	int e = errno;
	char c = 0;

	(void)sig;
	(void)!write(W.sp[1], &c, 1);
	errno = e;
}

/* Run the exec command; 0 exited, 1 timed out. Waits for the command's
 * exit, not for EOF: something it started may keep the pipe open. Event
 * driven: its pipes and SIGCHLD (the worker's self-pipe) wake it, so an
 * event costs what the command takes, not a polling period. */
static int
exec_wait(pid_t pid, int in, int out, const struct buf *body, double deadline, int *st,
	struct buf *output)
{
	size_t off = 0;
	char chunk[4096];
	ssize_t r;

	for (;;) {
		struct pollfd pf[3];
		nfds_t n = 0, i;
		double left = deadline - now();
		pid_t w = waitpid(pid, st, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (left <= 0)
			return 1;
		if (in >= 0)
			pf[n].fd = in, pf[n].events = POLLOUT, pf[n++].revents = 0;
		if (out >= 0)
			pf[n].fd = out, pf[n].events = POLLIN, pf[n++].revents = 0;
		if (W.sp[0] >= 0)
			pf[n].fd = W.sp[0], pf[n].events = POLLIN, pf[n++].revents = 0;
		if (poll(pf, n, W.sp[0] >= 0 || left < 0.05 ? (int)(left * 1000) + 1 : 50) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (!pf[i].revents)
				continue;
			if (pf[i].fd == in) {
				r = write(in, body->data + off, body->len - off);
				if (r > 0)
					off += (size_t)r;
				if (off == body->len ||
					(r < 0 && errno != EAGAIN && errno != EINTR))
					close(in), in = -1; /* all given, or it does not read */
			} else if (pf[i].fd == out) {
				while ((r = read(out, chunk, sizeof chunk)) < 0 && errno == EINTR)
					;
				if (r > 0 && output->len < 4096)
					xput(output, chunk, (size_t)r);
				else if (r == 0 || (r < 0 && errno != EAGAIN))
					close(out), out = -1;
			} else {
				while (read(W.sp[0], chunk, sizeof chunk) > 0)
					;
			}
		}
	}
	if (in >= 0)
		close(in);
	if (out >= 0) {
		while (output->len < 4096 && (r = read(out, chunk, sizeof chunk)) > 0)
			xput(output, chunk, (size_t)r);
		close(out);
	}
	return 0;
}

static void
deliver_exec(size_t i, const char *label, const struct buf *body)
{
	const struct notifier *nt = &cfg.nt[i];
	char *argv[] = { "sh", "-c", (char *)nt->command, NULL };
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, ep[2] = { -1, -1 }, st = 0, e = 0, late;
	struct buf output = { 0 };
	pid_t pid;

	if (xpipe(in) < 0 || xpipe(out) < 0 || xpipe(ep) < 0 || (pid = fork()) < 0) {
		wlog(L_ERROR, label, "Failed to notify to exec: cannot start it: %s",
			strerror(errno));
		goto out;
	}
	if (pid == 0) {
		child_signals();
		if (dup2(in[0], 0) >= 0 && dup2(out[1], 1) >= 0 && dup2(out[1], 2) >= 0)
			execve(R.sh, argv, environ);
		e = errno;
		(void)!write(ep[1], &e, sizeof e);
		_exit(127);
	}
	close(in[0]), close(out[1]), close(ep[1]);
	in[0] = out[1] = ep[1] = -1;
	while (read(ep[0], &e, sizeof e) < 0 && errno == EINTR)
		;
	nonblock(in[1]);
	nonblock(out[0]);
	late = exec_wait(pid, in[1], out[0], body, now() + nt->timeout, &st, &output);
	in[1] = out[0] = -1; /* closed by exec_wait */
	if (late) {
		kill(pid, SIGKILL); /* what it started dies with walter's kill of our group */
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		wlog(L_ERROR, label,
			"Failed to notify to exec: still running after %gs: killed; "
			"its later messages are dropped",
			nt->timeout);
		W.down[i] = 1;
	} else if (e) {
		wlog(L_ERROR, label, "Failed to notify to exec: cannot run %s: %s", R.sh,
			strerror(e));
	} else if (WIFSIGNALED(st)) {
		wlog(L_ERROR, label, "Failed to notify to exec: killed by signal %d", WTERMSIG(st));
	} else if (WEXITSTATUS(st)) {
		wlog(L_ERROR, label, "Failed to notify to exec: exit status %d", WEXITSTATUS(st));
	} else {
		wlog(L_DEBUG, label, "Notify to exec");
	}
	exec_output(
		late || e || !WIFEXITED(st) || WEXITSTATUS(st) ? L_ERROR : L_DEBUG, label, &output);
out:
	for (e = 0; e < 2; e++) {
		if (in[e] >= 0)
			close(in[e]);
		if (out[e] >= 0)
			close(out[e]);
		if (ep[e] >= 0)
			close(ep[e]);
	}
	buf_free(&output);
}

static void __attribute__((noreturn)) worker(pid_t parent, int ev, int logw)
{
	struct buf label = { 0 }, body = { 0 };
	struct wire_ev h;
	sigset_t none;
	char mark[96];
	int r;

#ifdef PR_SET_PDEATHSIG
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* it dies with walter */
	if (getppid() != parent)
		_exit(1);
#endif
	(void)parent;
	snprintf(mark, sizeof mark, "%s.0", R.runid); /* what it runs carries the mark */
	setenv(MARK, mark, 1);
	setpgid(0, 0);
	signal(SIGCHLD, SIG_DFL), signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL), signal(SIGHUP, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	close_except(ev, logw);
	if (xpipe(W.sp) == 0) { /* else exec_wait polls every 50 ms */
		struct sigaction sa;
		nonblock(W.sp[0]);
		nonblock(W.sp[1]);
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_wchld;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		sigaction(SIGCHLD, &sa, NULL);
	}
	W.log = logw;
	W.down = xmalloc(cfg.nnt);
	memset(W.down, 0, cfg.nnt);
	while ((r = read_full(ev, &h, sizeof h)) == 1 && h.nt < cfg.nnt && h.nlabel < 4096) {
		label.len = body.len = 0;
		if (buf_grow(&label, h.nlabel) < 0 || buf_grow(&body, h.nbody) < 0 ||
			read_full(ev, label.data, h.nlabel) < 0 ||
			read_full(ev, body.data, h.nbody) < 0)
			break;
		label.data[label.len = h.nlabel] = '\0';
		body.data[body.len = h.nbody] = '\0';
		if (W.down[h.nt])
			continue;
		if (cfg.nt[h.nt].kind == NT_EXEC)
			deliver_exec(h.nt, label.data, &body);
		else
			deliver_http(h.nt, label.data, &body);
	}
	buf_free(&label), buf_free(&body), free(W.down);
	_exit(r == 0 ? 0 : 1);
}

/* ---- hooks called by the run ----------------------------------------- */

/* Start the worker if any notifier can send something. */
static void
notify_start(void)
{
	int ev[2] = { -1, -1 }, lp[2] = { -1, -1 };
	size_t i;
	pid_t pid, me = getpid();

	for (i = 0; i < cfg.nnt && (cfg.nt[i].kind == NT_FAKE || cfg.nt[i].off); i++)
		;
	if (i == cfg.nnt)
		return;
	if (gethostname(N.host, sizeof N.host - 1) < 0)
		snprintf(N.host, sizeof N.host, "localhost");
	log_flush();
	fflush(NULL); /* nothing buffered is written twice */
	if (xpipe(ev) < 0 || xpipe(lp) < 0 || (pid = fork()) < 0) {
		logmsg(L_ERROR, NULL, "notifications are off: cannot start their worker: %s",
			strerror(errno));
		for (i = 0; i < 2; i++) {
			if (ev[i] >= 0)
				close(ev[i]);
			if (lp[i] >= 0)
				close(lp[i]);
		}
		return;
	}
	if (pid == 0)
		worker(me, ev[0], lp[1]);
	setpgid(pid, pid); /* also here: no race with an early kill */
	guard_send('G', pid);
	close(ev[0]), close(lp[1]);
	nonblock(ev[1]);
	nonblock(lp[0]);
	N.pid = pid, N.ev = ev[1], N.log = lp[0];
	ev_set(N.log, WK_NLOG, NULL, POLLIN);
}

/* Does notifier nt post per-task messages about n? */
static int
nt_wants(const struct notifier *nt, const struct node *n)
{
	return nt->kind != NT_FAKE && !nt->off && !nt->summary && (nt->on & st_bit(n->st)) &&
		!n->suppress_all && !(cfg.message_mode && !n->message);
}

/* Chat messages of one task, as REFERENCE 4.1/4.6: the result, then the
 * output when report_full_output is on, each a post of its own. */
static void
chat_task(size_t i, struct node *n)
{
	const struct notifier *nt = &cfg.nt[i];
	struct buf t = { 0 }, b = { 0 };
	const char *m;
	size_t len;
	int s;

	if (!(nt->suppress & SUP_RESULT)) {
		result_text(n, &t);
		len = t.len, m = hide(t.data, &len);
		chat_body(nt, m, len, bit_color(st_bit(n->st)), &b);
		enqueue(i, n->name, &b, 0);
	}
	for (s = 0; s < 2 && n->report_full; s++) {
		if ((nt->suppress & (s ? SUP_STDERR : SUP_STDOUT)) || !n->cap[s] ||
			!n->cap[s]->size)
			continue;
		t.len = b.len = 0;
		xprintf(&t, "[%s][%s] ", n->name, s ? "STDERR" : "STDOUT");
		cap_tail(n->cap[s], &t);
		len = t.len, m = hide(t.data, &len);
		chat_body(nt, m, len, NULL, &b);
		enqueue(i, n->name, &b, 0);
	}
	buf_free(&t), buf_free(&b);
}

/* A task reached its final status (called by task_result while the task's
 * captures and failure reason are still there). */
static void
notify_task(struct node *n)
{
	struct buf b = { 0 };
	size_t i;

	for (i = 0; N.ev >= 0 && i < cfg.nnt; i++) {
		const struct notifier *nt = &cfg.nt[i];
		if (!nt_wants(nt, n))
			continue;
		if (nt->kind != NT_WEBHOOK && nt->kind != NT_EXEC) {
			chat_task(i, n);
		} else if (!(nt->suppress & SUP_RESULT)) {
			b.len = 0;
			task_event(n, nt->suppress, &b);
			enqueue(i, n->name, &b, 0);
		}
	}
	buf_free(&b);
}

/* The failed tasks: ", "-joined names onto the text t, a JSON array f. */
static void
summary_failed(struct buf *t, struct buf *f)
{
	size_t i, nf = 0;

	xputs(f, "[");
	for (i = 0; i < cfg.ntasks; i++) {
		struct node *n = cfg.tasks[i];
		if (n->st != S_FAILED)
			continue;
		xputs(t, nf ? ", " : "; failed: ");
		xputs(t, n->name);
		xputs(f, nf++ ? ",{" : "{");
		jfield_m(f, "name", n->name);
		xputs(f, ",\"path\":");
		task_path(n, f);
		if (n->code >= 0)
			xprintf(f, ",\"exit_code\":%d}", n->code);
		else
			xputs(f, ",\"exit_code\":null}");
	}
	xputs(f, "]");
}

/* The end-of-run message of "summary: true" notifiers. */
static void
notify_summary(int failed, double t0)
{
	size_t i, count[S_NSTATUS] = { 0 };
	unsigned bit = R.nsig || R.timed_out ? ON_ABORTED : failed ? ON_FAILURE : ON_SUCCESS;
	struct buf t = { 0 }, f = { 0 }, e = { 0 }, b = { 0 };
	char d[32], s0[64], s1[64];

	count_status(count);
	xprintf(&t,
		"[%s] %s: %zu succeeded, %zu failed, %zu skipped, %zu aborted, %zu condition false (%s)",
		opt.config,
		bit == ON_SUCCESS           ? "Succeeded"
			: bit == ON_FAILURE ? "Failed"
					    : "Aborted",
		count[S_OK], count[S_FAILED], count[S_SKIPPED], count[S_ABORTED],
		count[S_CONDFALSE], fmt_dur(now() - t0, d, sizeof d));
	summary_failed(&t, &f);
	xputs(&e, "{");
	jfield(&e, "event", "summary");
	jfield(&e, "version", WALTER_VERSION);
	jfield(&e, "file", opt.config);
	jfield(&e, "host", N.host);
	jfield(&e, "status", bit_word(bit));
	xprintf(&e, ",\"duration\":%.3f", now() - t0);
	jfield(&e, "start", rfc3339(t0, s0, sizeof s0));
	jfield(&e, "end", rfc3339(now(), s1, sizeof s1));
	xprintf(&e,
		",\"counts\":{\"success\":%zu,\"failure\":%zu,\"skipped\":%zu,\"aborted\":%zu,"
		"\"condition_false\":%zu}",
		count[S_OK], count[S_FAILED], count[S_SKIPPED], count[S_ABORTED],
		count[S_CONDFALSE]);
	jfield_m(&e, "text", t.data);
	xprintf(&e, ",\"failed\":%s}\n", f.data);
	for (i = 0; N.ev >= 0 && i < cfg.nnt; i++) {
		const struct notifier *nt = &cfg.nt[i];
		if (nt->kind == NT_FAKE || nt->off || !nt->summary || !(nt->on & bit))
			continue;
		b.len = 0;
		if (nt->kind == NT_WEBHOOK || nt->kind == NT_EXEC) {
			xput(&b, e.data, e.len);
		} else {
			size_t len = t.len;
			const char *m = hide(t.data, &len);
			chat_body(nt, m, len, bit_color(bit), &b);
		}
		enqueue(i, "", &b, 1);
	}
	buf_free(&t), buf_free(&f), buf_free(&e), buf_free(&b);
}

/* The run is over: send the summaries, let the worker finish what it
 * has, bounded by the longest notifier timeout plus 2 s (or a signal). */
static void
notify_finish(int failed, double t0)
{
	double limit = 0, end;
	unsigned long seen = (unsigned long)R.nsig;
	size_t i;
	int st;

	if (!N.pid && N.log < 0 && N.ev < 0)
		goto out;
	notify_summary(failed, t0);
	N.ending = 1;
	if (N.dropped)
		logmsg(L_ERROR, NULL,
			"notifications: %zu task messages dropped, the oldest first: the receivers were too slow (at most %d MiB wait)",
			N.dropped, NQ_MAX >> 20);
	for (i = 0; i < cfg.nnt; i++)
		if (cfg.nt[i].kind != NT_FAKE && cfg.nt[i].timeout > limit)
			limit = cfg.nt[i].timeout;
	end = now() + limit + 2;
	while (N.log >= 0 && (unsigned long)R.nsig == seen) {
		double left = end - now();
		if (N.ev >= 0 && !N.head)
			fd_drop(&N.ev); /* all handed over: EOF ends the worker */
		if (left <= 0)
			break;
		log_flush();
		ev_wait((int)(left * 1000) + 1);
	}
	if (N.log >= 0 && (unsigned long)R.nsig != seen)
		logmsg(L_WARN, NULL, "signal %d: notifications still unsent are dropped",
			(int)R.sig);
	else if (N.log >= 0)
		logmsg(L_ERROR, NULL, "notifications still unsent after %gs: stopped", limit + 2);
	if (N.pid) { /* a zombie keeps its group id from being reused */
		/* A peek (WNOWAIT): did it die on its own? After EOF on its log
		 * pipe it is exiting (only that closes the pipe) but may not be
		 * a zombie yet: then wait for it rather than race it. */
		int how = WEXITED | WNOWAIT | (N.log < 0 ? 0 : WNOHANG);
		siginfo_t si;
		memset(&si, 0, sizeof si);
		while (waitid(P_PID, (id_t)N.pid, &si, how) < 0 && errno == EINTR)
			;
		if (si.si_pid == N.pid && (si.si_code != CLD_EXITED || si.si_status != 0))
			worker_died(si.si_code != CLD_EXITED, si.si_status);
		kill(-N.pid, SIGKILL);
		while (waitpid(N.pid, &st, 0) < 0 && errno == EINTR)
			;
		N.pid = 0;
	}
	if (N.log >= 0)
		nlog_read(); /* what it said before it was stopped */
	fd_drop(&N.log);
	fd_drop(&N.ev);
out:
	while (N.head)
		nq_pop();
	buf_free(&N.in);
}

/* ==== 9. outputs ==================================================== */

/* Everything that writes results: the summary that ends the log, -plan,
 * the -json and -junit reports, and -yaml-to-json (a mode of its own:
 * YAML in, JSON out, nothing is loaded or run). */

static const char *
status_word(enum status st)
{
	static const char *const w[] = { "not run", "running", "succeeded", "failed", "skipped",
		"aborted", "condition false" };
	return w[st];
}

/* The end of the log: every task's status and duration, then the last
 * lines of the first failed task. */
static void
summary(double t0)
{
	size_t i, count[S_NSTATUS] = { 0 }, ran = 0;
	char d[32];

	ran = count_status(count);
	logmsg(count[S_FAILED] ? L_ERROR : L_INFO, NULL,
		"Summary: %zu task%s: %zu succeeded, %zu failed, %zu skipped, %zu aborted, %zu condition false (%s)",
		ran, ran == 1 ? "" : "s", count[S_OK], count[S_FAILED], count[S_SKIPPED],
		count[S_ABORTED], count[S_CONDFALSE], fmt_dur(now() - t0, d, sizeof d));
	for (i = 0; i < cfg.ntasks; i++) {
		struct node *n = cfg.tasks[i];
		enum level lv = n->st == S_FAILED ? L_ERROR : n->st == S_OK ? L_INFO : L_WARN;
		if (n->st == S_PENDING)
			continue;
		logmsg(lv, NULL, "  %-15s %s (%s)", status_word(n->st), n->name,
			fmt_dur(n->t1 - n->t0, d, sizeof d));
	}
	if (R.first_failed && R.first_failed->ntail) {
		logmsg(L_ERROR, NULL, "Last lines of %s:", R.first_failed->name);
		for (i = 0; i < R.first_failed->ntail; i++)
			logmsg(L_ERROR, NULL, "  | %s", R.first_failed->tail[i]);
	}
}

/* Call fn for every task of the phases that ran or would run, with the
 * phase label and the list ("tasks"/"cleanup") it belongs to. */
struct walk {
	const char *phase, *list;
	void (*fn)(struct node *, struct walk *);
	void *arg;
};

static void
walk_node(struct node *n, struct walk *w)
{
	size_t i;

	if (n->kind == N_TASK)
		w->fn(n, w);
	for (i = 0; i < n->nkids; i++)
		walk_node(n->kids[i], w);
}

static void
walk_tasks(int first, int last, struct walk *w)
{
	int i;

	for (i = first; i <= last; i++) {
		w->phase = cfg.ph[i].label;
		w->list = "tasks";
		walk_node(cfg.ph[i].main, w);
		w->list = "cleanup";
		walk_node(cfg.ph[i].cleanup, w);
	}
}

/* ---- -plan ------------------------------------------------------------- */

static void
plan_node(struct buf *b, const struct node *n, int depth)
{
	static const char *const kw[] = { "task", "serial", "parallel" };
	const char *cmd = n->command;
	size_t i;

	xprintf(b, "%*s%s \"%s\"", 2 * depth, "", kw[n->kind], n->name);
	if (n->kind == N_TASK) {
		if (cmd)
			xprintf(b, ": sh -c %.*s%s", (int)strcspn(cmd, "\n"), cmd,
				strchr(cmd, '\n') && cmd[strcspn(cmd, "\n") + 1] ? " ..." : "");
		else if (n->script)
			xprintf(b, ": sh %s", n->script);
		else if (n->argv)
			for (i = 0; n->argv[i]; i++)
				xprintf(b, "%s%s", i ? " " : ": ", n->argv[i]);
		else
			xputs(b, ": (no command)");
		if (n->dir)
			xprintf(b, "  [directory %s]", n->dir);
		if (n->only_if)
			xprintf(b, "  [only_if %s]", n->only_if);
		if (n->wait.set)
			xputs(b, "  [wait_for]");
		if (n->timeout > 0)
			xprintf(b, "  [timeout %gs]", n->timeout);
		if (n->retry)
			xprintf(b, "  [retry %ld]", n->retry);
		if (n->input)
			xprintf(b, "  [stdin from \"%s\"]", n->input->name);
	}
	xprintf(b, "  (%s:%d:%d)\n", n->file, n->line, n->col);
	for (i = 0; i < n->nkids; i++)
		plan_node(b, n->kids[i], depth + 1);
}

/* -plan: the resolved tree and what would run; nothing runs. */
static void
plan(int first, int last)
{
	struct buf b = { 0 };
	int i, ok = 1;
	size_t k;

	for (i = 0; i < 2; i++) {
		const struct phase *ph = &cfg.ph[i];
		if (!ph->label)
			continue;
		xprintf(&b, "%s%s\n", ph->label,
			i < first || i > last  ? " (not run with these flags)"
				: !ph->present ? " (empty)"
					       : "");
		xputs(&b, "  tasks:\n");
		for (k = 0; k < ph->main->nkids; k++)
			plan_node(&b, ph->main->kids[k], 2);
		xputs(&b, "  cleanup:\n");
		for (k = 0; k < ph->cleanup->nkids; k++)
			plan_node(&b, ph->cleanup->kids[k], 2);
	}
	/* notifiers by type and settings' names: their values may be secrets */
	if (cfg.nnt)
		xputs(&b, "Notify\n");
	for (k = 0; k < cfg.nnt; k++) {
		const struct notifier *nt = &cfg.nt[k];
		size_t j;
		xprintf(&b, "  %s%s", nt->type, nt->off ? " (off)" : "");
		for (j = 0; j < nt->n; j++)
			xprintf(&b, "%s%s", j ? ", " : " [", nt->keys[j]);
		xprintf(&b, "%s  (%s:%d:%d)\n", nt->n ? "]" : "", nt->file, nt->line, nt->col);
	}
	write_all(1, b.data ? b.data : "", b.len, &ok);
	buf_free(&b);
}

/* ---- -json ------------------------------------------------------------- */

static void
json_task(struct node *n, struct walk *w)
{
	struct buf *b = w->arg;
	const char *status = status_word(n->st);
	size_t i;

	xputs(b, b->data[b->len - 1] == '[' ? "\n  {" : ",\n  {");
	xputs(b, "\"name\":");
	jstr(b, n->name, strlen(n->name));
	xputs(b, ",\"phase\":");
	jstr(b, w->phase, strlen(w->phase));
	xputs(b, ",\"list\":");
	jstr(b, w->list, strlen(w->list));
	xputs(b, ",\"file\":");
	jstr(b, n->file, strlen(n->file));
	xprintf(b, ",\"line\":%d,\"status\":", n->line);
	jstr(b, status, strlen(status));
	if (n->code >= 0)
		xprintf(b, ",\"exit_code\":%d", n->code);
	if (n->st != S_PENDING)
		xprintf(b, ",\"start\":%.3f,\"duration\":%.3f", n->t0 - R.t0, n->t1 - n->t0);
	if (n->attempts > 1)
		xprintf(b, ",\"attempts\":%d", n->attempts);
	if (n->ntail) {
		xputs(b, ",\"last_lines\":[");
		for (i = 0; i < n->ntail; i++) {
			if (i)
				xput(b, ",", 1);
			jstr(b, n->tail[i], strlen(n->tail[i]));
		}
		xput(b, "]", 1);
	}
	xput(b, "}", 1);
}

static const char *
run_status(int failed)
{
	return R.nsig ? "killed" : R.timed_out ? "timed out" : failed ? "failed" : "succeeded";
}

static void
write_report(const char *path, struct buf *b)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), ok = 1;

	if (fd < 0) {
		logmsg(L_ERROR, NULL, "cannot write %s: %s", path, strerror(errno));
		return;
	}
	write_all(fd, b->data, b->len, &ok);
	if (close(fd) < 0 || !ok)
		logmsg(L_ERROR, NULL, "cannot write %s: %s", path, strerror(errno));
}

static void
report_json(int first, int last, int failed, int code)
{
	struct buf b = { 0 };
	struct walk w = { NULL, NULL, json_task, &b };
	char when[64];
	struct tm tm;
	size_t i;

	localtime_r(&R.started, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", &tm);
	xputs(&b, "{\"version\":\"" WALTER_VERSION "\",\"file\":");
	jstr(&b, opt.config, strlen(opt.config));
	xprintf(&b,
		",\"format\":\"%s\",\"started\":\"%s\",\"duration\":%.3f,\"status\":\"%s\",\"exit_code\":%d,\"tasks\":[",
		cfg.format == FMT_BUILD_DEPLOY ? "build/deploy" : "pipeline", when, now() - R.t0,
		run_status(failed), code);
	walk_tasks(first, last, &w);
	xputs(&b, "\n],\"notifiers\":[");
	for (i = 0; i < cfg.nnt; i++) {
		xputs(&b, i ? ",{\"type\":" : "{\"type\":");
		jstr(&b, cfg.nt[i].type, strlen(cfg.nt[i].type));
		xprintf(&b, ",\"line\":%d,\"off\":%s}", cfg.nt[i].line,
			cfg.nt[i].off ? "true" : "false");
	}
	xputs(&b, "]}\n");
	write_report(opt.json, &b);
	buf_free(&b);
}

/* ---- -junit ------------------------------------------------------------ */

static void
junit_task(struct node *n, struct walk *w)
{
	struct buf *b = w->arg;
	char why[64];
	size_t i;

	if (n->st == S_PENDING)
		return;
	xputs(b, "    <testcase name=\"");
	xml_text(b, n->name);
	xputs(b, "\" classname=\"");
	xml_text(b, w->phase);
	xprintf(b, ".%s\" time=\"%.3f\"", w->list, n->t1 - n->t0);
	if (n->st == S_OK) {
		xputs(b, "/>\n");
		return;
	}
	xputs(b, ">\n");
	if (n->st == S_FAILED) {
		snprintf(why, sizeof why, n->code >= 0 ? "exit status %d" : "failed", n->code);
		xprintf(b, "      <failure message=\"%s\">", why);
		for (i = 0; i < n->ntail; i++) {
			xml_text(b, n->tail[i]);
			xput(b, "\n", 1);
		}
		xputs(b, "</failure>\n");
	} else {
		xprintf(b, "      <skipped message=\"%s\"/>\n", status_word(n->st));
	}
	xputs(b, "    </testcase>\n");
}

static void
report_junit(int first, int last)
{
	struct buf b = { 0 };
	struct walk w = { NULL, NULL, junit_task, &b };
	size_t count[S_NSTATUS], ran;

	ran = count_status(count);
	xprintf(&b,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuites name=\"walter\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n"
		"  <testsuite name=\"",
		ran, count[S_FAILED], count[S_SKIPPED] + count[S_ABORTED] + count[S_CONDFALSE],
		now() - R.t0);
	xml_text(&b, opt.config);
	xprintf(&b, "\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\">\n", ran, count[S_FAILED],
		count[S_SKIPPED] + count[S_ABORTED] + count[S_CONDFALSE]);
	xputs(&b,
		"    <properties><property name=\"walter.version\" value=\"" WALTER_VERSION
		"\"/></properties>\n");
	walk_tasks(first, last, &w);
	xputs(&b, "  </testsuite>\n</testsuites>\n");
	write_report(opt.junit, &b);
	buf_free(&b);
}

/* ---- -yaml-to-json ------------------------------------------------ */

/* The printer appends many short pieces: copy in place while the buffer
 * has room (it keeps buf's NUL terminator), grow through xput otherwise. */
static inline void
jput(struct buf *b, const char *p, size_t n)
{
	if (b->len + n < b->cap) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
	} else {
		xput(b, p, n);
	}
}

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
	if (neg && strcmp(p, "0"))
		jput(b, "-", 1);
	jput(b, p, strlen(p));
	return 0;
}

static int
put_float(struct buf *b, const char *s)
{
	double v = strtod(s, NULL);
	char t[64];

	if (strstr(s, "inf") || strstr(s, "Inf") || strstr(s, "INF") || strstr(s, "nan") ||
		strstr(s, "NaN") || strstr(s, "NAN") || !isfinite(v))
		return -1; /* JSON has no infinity or NaN (and 1e999 overflows) */
	snprintf(t, sizeof t, "%.17g", v);
	xputs(b, t);
	if (!strchr(t, '.') && !strchr(t, 'e') && !strchr(t, 'n'))
		xputs(b, ".0");
	return 0;
}

static int
json_node(struct buf *b, const struct yaml_node *n, int depth, char *err, size_t errlen)
{
	size_t i;

	if (depth > 4 * YAML_MAX_DEPTH) {
		snprintf(err, errlen, "%d:%d: nesting too deep after alias expansion", n->line,
			n->col);
		return -1;
	}
	if (n->tag == YAML_TAG_OTHER && n->kind == YAML_SCALAR && n->style == YAML_PLAIN &&
		yaml_resolve(&(struct yaml_node){
			.kind = YAML_SCALAR, .text = n->text, .len = n->len }) != YAML_TAG_STR) {
		/* "!foo 12": a string to YAML, a number untagged; JSON must pick */
		snprintf(err, errlen, "%d:%d: \"%.40s\" tagged %s has no certain JSON form",
			n->line, n->col, n->text, n->tagname);
		return -1;
	}
	switch (yaml_resolve(n)) {
	case YAML_TAG_NULL:
		jput(b, "null", 4);
		return 0;
	case YAML_TAG_BOOL:
		if ((n->text[0] | 32) == 't')
			jput(b, "true", 4);
		else
			jput(b, "false", 5);
		return 0;
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
		jstr(b, n->text, n->len);
		return 0;
	}
	jput(b, n->kind == YAML_MAP ? "{" : "[", 1);
	for (i = 0; i < n->n; i++) {
		const struct yaml_node *k = n->child[i];
		if (i)
			jput(b, n->kind == YAML_MAP && i % 2 ? ":" : ",", 1);
		if (n->kind == YAML_MAP && i % 2 == 0) {
			if (k->kind != YAML_SCALAR) {
				snprintf(err, errlen, "%d:%d: mapping key is not a scalar", k->line,
					k->col);
				return -1;
			}
			jstr(b, k->text, k->len);
		} else if (json_node(b, k, depth + 1, err, errlen) < 0) {
			return -1;
		}
	}
	jput(b, n->kind == YAML_MAP ? "}" : "]", 1);
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

/* Free what the run kept (valgrind: nothing left at exit). */
static void
teardown(void)
{
	size_t i, k;

	for (i = 0; i < cfg.ntasks; i++) {
		struct node *n = cfg.tasks[i];
		for (k = 0; k < 3; k++)
			cap_free(&n->cap[k]);
		for (k = 0; k < n->ntail; k++)
			free(n->tail[k]);
		free(n->tail);
	}
	for (i = 0; R.spec_val && i < cfg.nspecials; i++)
		free(R.spec_val[i]);
	free(R.spec_val), free(R.act), free(R.queue), free(R.linger), free(R.heap), free(R.watch);
	free(R.more);
	pm_free(&R.pids);
	if (R.epfd >= 0)
		close(R.epfd);
	free(cfg.tasks), free(cfg.specials), free(cfg.nt);
	if (strcmp(R.sh, "/bin/sh"))
		free((char *)R.sh);
	log_flush();
	buf_free(&lg.out);
	buf_free(&lg.pre);
	for (i = 0; i < sec.n; i++)
		free(sec.v[i]);
	free(sec.v);
	buf_free(&sec.out);
	arena_free();
}

/* With 0, 1 or 2 closed, the first pipe would take its number and the log
 * would go into it: hold them open on /dev/null. */
static void
hold_std_fds(void)
{
	int fd;

	for (fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
			open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
			exit(2);
}

int
main(int argc, char **argv)
{
	int first = 0, last = 0, failed, sig, code;

	hold_std_fds();
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
	if (strcmp(opt.mode, "local") && strcmp(opt.mode, "service"))
		usage("invalid -mode %s (local or service)", opt.mode);
	load(opt.config);
	secrets_from_env();
	if (!strcmp(opt.mode, "service"))
		fatal("-mode service is not supported yet");
	if (cfg.format == FMT_PIPELINE && (opt.build || opt.deploy))
		warn("-build and -deploy are for build/deploy files; running the pipeline");
	if (cfg.format == FMT_BUILD_DEPLOY) {
		if (opt.deploy && !cfg.ph[1].present)
			fatal("-deploy: %s has no deploy section", opt.config);
		first = opt.build || !opt.deploy ? 0 : 1;
		last = opt.deploy ? 1 : 0;
	}
	if (opt.check || opt.plan) {
		if (opt.plan)
			plan(first, last);
		else
			printf("%s: ok\n", opt.config);
		teardown();
		return 0;
	}
	log_open();
	exec_setup();
	if (cfg.format == FMT_BUILD_DEPLOY && !opt.build && !opt.deploy && cfg.ph[1].present)
		logmsg(L_INFO, NULL, "running build only: the deploy phase needs -deploy");
	R.t0 = now();
	R.started = time(NULL);
	R.deadline = opt.timeout > 0 ? R.t0 + opt.timeout : 0;
	notify_start();
	failed = run_phases(first, last); /* the failure rules: 7. scheduler */
	kill_leftovers(0);
	summary(R.t0);
	notify_finish(failed, R.t0);
	kill_leftovers(1); /* what notifier commands left */
	guard_end();
	sig = R.nsig ? R.sig : 0;
	code = sig ? 128 + sig : R.timed_out ? 124 : failed ? 1 : 0;
	if (opt.json)
		report_json(first, last, failed, code);
	if (opt.junit)
		report_junit(first, last);
	teardown();
	if (sig && getpid() != 1) {
		/* (PID 1 cannot die of a signal it sends itself: in a PID
		 * namespace the kernel drops it, and under qemu-user the
		 * emulator waits forever; it exits 128+N instead) */
		sigset_t s;
		signal(sig, SIG_DFL);
		sigemptyset(&s);
		sigaddset(&s, sig);
		sigprocmask(SIG_UNBLOCK, &s, NULL);
		raise(sig);
	}
	return code;
}
