/* walter.c - run a YAML build/deploy pipeline.
 *
 * Contents, in data-flow order:
 *   1. utilities      die/warn, checked allocation, the arena, whole
 *                     files, a pid map, regular expressions (the
 *                     service's branch)
 *   2. model          every shared type and all state; the formats legend
 *   3. options        Go-style flags into opt
 *   4. log            "HH:MM:SS  INFO [name] text" lines, batched; secrets
 *   5. config         YAML tree -> phases of TASK/SEQUENCE/PARALLEL nodes
 *   6. executor       the loop's descriptors and timers; the guardian;
 *                     spawn, captures, output lines, stdin
 *   7. scheduler      the failure rules; sequence/parallel, wait_for,
 *                     the loop; what tasks leave running
 *   8. notifications  the worker process and what it is sent
 *   9. outputs        summary, -plan, -json, -junit, -yaml-to-json
 *  10. service mode   -mode service: poll GitHub, build what is new
 *  11. main           flags -> load -> run -> report -> exit status
 *
 * The globals (declared in 2. model, but arena in 1. utilities) and the
 * section that writes each (the others only read it):
 *   opt    3. options        the command line
 *   lg     4. log            pending output, the clock and prefix caches
 *   pg     4. log            the live status line on a terminal
 *   ci     4. log            the CI log format and the group open now
 *   sec    4. log            the secrets to mask, and their automaton
 *   rep    9. outputs        the report files (4. log keeps load errors)
 *   cfg    5. config         the model: phases, notifiers, tasks
 *   svc    5. config         the service block (for 10. service mode)
 *   R      6. executor and 7. scheduler: one run (active tasks, queue,
 *                            watched fds, pids, timers, signals, lingering
 *                            groups, the guardian)
 *   N      8. notifications  walter's end of the worker's pipes
 *   W      8. notifications  the worker's own state (in the worker)
 *   arena  1. utilities      the memory the model lives in
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath, strtok_r, SA_RESTART */
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1 /* MAP_ANONYMOUS (glibc hides it otherwise) */
#endif
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#ifndef WALTER_POLL /* -DWALTER_POLL: poll() even where epoll exists */
#define WALTER_EPOLL 1
#include <sys/epoll.h>
#endif
#endif
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_mini.h"
#include "yaml_mini.h"

#define WALTER_VERSION "2.1.0"

extern char **environ;

/* ==== 1. utilities ================================================== */

static void diag(int is_err, const char *msg);
static void reports_config_error(void);
static void prog_erase(void);
static void writev_all(int fd, struct iovec *iov, int n, int *ok);
static void write_all(int fd, const char *p, size_t n, int *ok);
static void pw_stop(void);

/* Write pre, fmt's text and post to fd as fprintf would, in one writev:
 * a message stays whole among parallel writers, and walter writes
 * nothing through stdio (its FILE code is 3 KiB of the static binary).
 * A text over 1 KiB is made again in memory from malloc, or cut there
 * when memory is out (fatal's "out of memory" needs none). */
static void __attribute__((format(printf, 4, 0)))
vsay(int fd, const char *pre, const char *post, const char *fmt, va_list ap)
{
	char small[1024], *s = small, *big = NULL;
	struct iovec v[3];
	va_list again;
	int n, ok = 1;

	va_copy(again, ap);
	n = vsnprintf(small, sizeof small, fmt, ap);
	if (n >= (int)sizeof small && (big = malloc((size_t)n + 1)))
		vsnprintf(s = big, (size_t)n + 1, fmt, again);
	va_end(again);
	if (n >= (int)sizeof small && !big)
		n = (int)sizeof small - 1;
	v[0].iov_base = (char *)pre, v[0].iov_len = strlen(pre);
	v[1].iov_base = s, v[1].iov_len = n > 0 ? (size_t)n : 0;
	v[2].iov_base = (char *)post, v[2].iov_len = strlen(post);
	writev_all(fd, v, 3, &ok);
	free(big);
}

static void __attribute__((format(printf, 4, 5)))
say(int fd, const char *pre, const char *post, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fd, pre, post, fmt, ap);
	va_end(ap);
}
static const char *mask(const char *s, size_t *n);
static const char *mask_name(const char *s);

static void
vmsg(int is_err, const char *fmt, va_list ap)
{
	size_t n = strlen(fmt);
	int e = errno;
	struct buf b = { 0 };

	if (buf_vprintf(&b, fmt, ap) < 0 ||
		(n && fmt[n - 1] == ':' && buf_printf(&b, " %s", strerror(e)) < 0)) {
		buf_free(&b);
		diag(is_err, fmt); /* out of memory: the format says enough */
		return;
	}
	diag(is_err, b.data);
	buf_free(&b);
}

/* Print "walter: msg" (": strerror" when fmt ends in ':'), exit 2 (while
 * the file is loaded, with a report of the error: reports_config_error). */
static void __attribute__((noreturn, format(printf, 1, 2))) fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(1, fmt, ap);
	va_end(ap);
	reports_config_error();
	exit(2);
}

static void __attribute__((format(printf, 1, 2))) warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(0, fmt, ap);
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

/* p with room for need elements of size bytes, *cap its room (doubled
 * when short, never shrunk): an array that fills and empties at every
 * stage keeps its block, where a realloc to each new length moved it
 * between the allocator's size classes and musl unmapped and mapped
 * their pages again (see cmd_words). */
static void *
xgrow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 4;

	if (need <= *cap)
		return p;
	while (c < need)
		c = c > SIZE_MAX / 2 ? need : 2 * c;
	p = xreallocarray(p, c, size);
	*cap = c;
	return p;
}

static char *
xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

/* Word lists are packed in one string, "cd\0exit\0" (the literal's own
 * NUL ends the list): 8 bytes a word fewer than an array of pointers.
 * (A word cannot start with a digit 0-7: "\01" is one octal escape.)
 * The word after w: for (w = list; *w; w = word_next(w)). */
static const char *
word_next(const char *w)
{
	return strchr(w, '\0') + 1;
}

/* w's place in list, or NULL. */
static const char *
word_find(const char *list, const char *w)
{
	for (; *list; list = word_next(list))
		if (!strcmp(list, w))
			return list;
	return NULL;
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

/* Append v in decimal, without printf (-plan prints 20,000 tasks). */
static void
xputl(struct buf *b, long v)
{
	char d[24], *p = d + sizeof d;
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	xput(b, p, (size_t)(d + sizeof d - p));
}

/* Append v as %g does; whole numbers without printf. */
static void
xputg(struct buf *b, double v)
{
	if (v > -1e6 && v < 1e6 && v == (double)(long)v)
		xputl(b, (long)v);
	else
		xprintf(b, "%g", v);
}

/* The text encoders of http_mini, dying on OOM. */
static void
jstr(struct buf *b, const char *s, size_t n)
{
	if (json_put_string(b, s, n) < 0)
		fatal("out of memory");
}

static void
xml_text(struct buf *b, const char *s, size_t n)
{
	if (xml_put_text(b, s, n) < 0)
		fatal("out of memory");
}

static void
xml_attr(struct buf *b, const char *s, size_t n)
{
	if (xml_put_attr(b, s, n) < 0)
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

/* ---- regular expressions: the service's "branch" ------------------- */

/* The part of Go's RE2 syntax people write for branch names: literals,
 * ., [classes] with ranges and [^...], \d \w \s \D \W \S, escapes
 * (\. \n \x41 \x{263a}...), ^ $ \A \z \b \B, * + ? {m} {m,} {m,n} (the
 * lazy forms are the same for a yes/no match), |, (...), (?:...) and
 * (?P<name>...). Text and pattern are UTF-8, a character is a code point
 * (an invalid byte is U+FFFD), as in Go. The rest (flags such as (?i),
 * \p{..}, [[:alpha:]], \Q..\E, backreferences) is an error, not a guess.
 * A pattern compiles into a program run as a Pike VM (Thompson's NFA):
 * time proportional to the text times the program, no backtracking. */

enum re_op {
	RE_CHAR,
	RE_ANY,
	RE_CLASS,
	RE_NCLASS,
	RE_MATCH,
	RE_JMP,
	RE_SPLIT,
	RE_BOL,
	RE_EOL,
	RE_WORD,
	RE_NWORD
};
enum { RE_MAX = 5000, RE_REPEAT = 1000, RE_DEPTH = 100, RE_RUNE_MAX = 0x10FFFF };

struct rinst {
	enum re_op op;
	long x, y; /* CHAR: the code point; [N]CLASS: first range, count;
		    * JMP: where to, SPLIT: both ways, relative to here */
};

/* A compiled pattern (in the arena). */
struct regex {
	struct rinst *in; /* the program */
	size_t n;         /* its length */
	long (*rg)[2];    /* the classes' ranges, first and last code point */
};

/* A compilation (heap arrays, moved into the arena at the end). */
struct rparse {
	struct regex re;
	size_t cap, nrg, rcap;
	const char *s;   /* where the parser is */
	const char *err; /* what is wrong, first error only */
	const char *at;  /* where */
	int depth;       /* open groups */
};

/* The code point at s (NUL-terminated) and its length in *len. */
static long
utf8_rune(const char *s, int *len)
{
	static const long least[] = { 0, 0x80, 0x800, 0x10000 };
	const unsigned char *u = (const unsigned char *)s;
	int n = u[0] >= 0xF0 ? 3 : u[0] >= 0xE0 ? 2 : u[0] >= 0xC0 ? 1 : 0, i;
	long r = u[0] & (0x3F >> n);

	*len = 1;
	if (u[0] < 0x80)
		return u[0];
	if (!n || u[0] > 0xF4)
		return 0xFFFD;
	for (i = 1; i <= n; i++) {
		if ((u[i] & 0xC0) != 0x80)
			return 0xFFFD;
		r = r << 6 | (u[i] & 0x3F);
	}
	if (r < least[n] || r > RE_RUNE_MAX || (r >= 0xD800 && r <= 0xDFFF))
		return 0xFFFD;
	*len = n + 1;
	return r;
}

static void
re_fail(struct rparse *p, const char *at, const char *what)
{
	if (!p->err)
		p->err = what, p->at = at;
}

static void
re_emit(struct rparse *p, enum re_op op, long x, long y)
{
	if (p->re.n >= RE_MAX) {
		re_fail(p, p->s, "too large (over 5000 steps): lower the repeat counts");
		return;
	}
	if (p->re.n == p->cap)
		p->cap = p->cap * 2 + 16,
		p->re.in = xreallocarray(p->re.in, p->cap, sizeof *p->re.in);
	p->re.in[p->re.n++] = (struct rinst){ op, x, y };
}

static void
re_range(struct rparse *p, long lo, long hi)
{
	if (p->nrg == p->rcap)
		p->rcap = p->rcap * 2 + 16,
		p->re.rg = xreallocarray(p->re.rg, p->rcap, sizeof *p->re.rg);
	p->re.rg[p->nrg][0] = lo, p->re.rg[p->nrg++][1] = hi;
}

/* \d \w \s as ranges (RE2's are ASCII), or in a class their complement
 * for \D \W \S. 0 if c names none of them. */
static int
re_perl(struct rparse *p, int c, int in_class)
{
	static const char names[] = "dDwWsS";
	static const long r[][2] = { { '0', '9' }, { '0', '9' }, { 'A', 'Z' }, { '_', '_' },
		{ 'a', 'z' }, { '\t', '\n' }, { '\f', '\r' }, { ' ', ' ' } };
	static const int span[][2] = { { 0, 1 }, { 1, 5 }, { 5, 8 } };
	const char *k = c ? strchr(names, c) : NULL;
	int from, to, i, neg;
	long lo = 0;

	if (!k)
		return 0;
	from = span[(k - names) / 2][0], to = span[(k - names) / 2][1];
	neg = (int)(k - names) % 2;
	if (!in_class)
		re_emit(p, neg ? RE_NCLASS : RE_CLASS, (long)p->nrg, to - from);
	for (i = from; i < to; i++) {
		if (!neg || !in_class)
			re_range(p, r[i][0], r[i][1]);
		else if (r[i][0] > lo)
			re_range(p, lo, r[i][0] - 1);
		lo = r[i][1] + 1;
	}
	if (neg && in_class)
		re_range(p, lo, RE_RUNE_MAX);
	return 1;
}

/* After a backslash: the code point it stands for, -1 when it was \d
 * and the like (now emitted or added to the class), -2 when it was an
 * assertion (emitted), -3 on an error. */
static long
re_escape(struct rparse *p, int in_class)
{
	static const char ctl[] = "a\af\fn\nr\rt\tv\v", asserts[] = "AzbB";
	static const enum re_op aop[] = { RE_BOL, RE_EOL, RE_WORD, RE_NWORD };
	const char *at = p->s - 1, *k;
	int c = (unsigned char)*p->s++;
	long v = 0;

	if (re_perl(p, c, in_class))
		return -1;
	if (c && (k = strchr(asserts, c)) && !in_class) {
		re_emit(p, aop[k - asserts], 0, 0);
		return -2;
	}
	if (c && (k = strchr(ctl, c)) && (k - ctl) % 2 == 0)
		return k[1];
	if (c == 'x') {
		int brace = *p->s == '{', digits = 0;
		p->s += brace;
		while (isxdigit((unsigned char)*p->s) && (brace || digits < 2) && v <= RE_RUNE_MAX)
			v = v * 16 +
				(isdigit((unsigned char)*p->s) ? *p->s - '0'
							       : (*p->s | 32) - 'a' + 10),
			p->s++, digits++;
		if (digits && v <= RE_RUNE_MAX && (brace ? *p->s++ == '}' : digits == 2))
			return v;
	} else if (c && c < 0x80 && !isalnum(c)) {
		return c;
	} else if (!c) {
		p->s--;
		re_fail(p, at, "trailing backslash");
		return -3;
	} else if (isdigit(c)) {
		re_fail(p, at, "backreferences and octal escapes (\\1, \\0) are not supported");
		return -3;
	} else if (c == 'p' || c == 'P') {
		re_fail(p, at, "Unicode classes (\\p, \\P) are not supported");
		return -3;
	} else if (c == 'Q') {
		re_fail(p, at, "quoting with \\Q...\\E is not supported");
		return -3;
	}
	re_fail(p, at, "invalid escape sequence");
	return -3;
}

/* One character of a class, or of a range in it: a code point, or -1
 * after \d and the like, -3 on an error. */
static long
re_class_char(struct rparse *p)
{
	int len;
	long c;

	if (*p->s == '\\') {
		p->s++;
		return re_escape(p, 1);
	}
	c = utf8_rune(p->s, &len);
	if (c == 0xFFFD && len == 1 && (unsigned char)*p->s >= 0x80) {
		re_fail(p, p->s, "invalid UTF-8");
		return -3;
	}
	p->s += len;
	return c;
}

/* [...] after its '[': ranges, [^...], ']' first as itself. */
static void
re_class(struct rparse *p)
{
	const char *open = p->s - 1;
	size_t first = p->nrg;
	int neg = *p->s == '^';
	long lo, hi;

	p->s += neg;
	do {
		const char *at = p->s;
		if (!*p->s) {
			re_fail(p, open, "missing closing ]");
			return;
		}
		if (p->s[0] == '[' && p->s[1] == ':' && strstr(p->s + 2, ":]")) {
			re_fail(p, at,
				"[:name:] classes are not supported (write the range, [a-z])");
			return;
		}
		if ((lo = re_class_char(p)) < -1)
			return;
		hi = lo;
		if (*p->s == '-' && p->s[1] && p->s[1] != ']') {
			p->s++;
			if ((hi = re_class_char(p)) < -1)
				return;
			if (lo < 0 || hi < lo) {
				re_fail(p, at, "invalid character class range");
				return;
			}
		}
		if (lo >= 0)
			re_range(p, lo, hi);
	} while (*p->s != ']');
	p->s++;
	re_emit(p, neg ? RE_NCLASS : RE_CLASS, (long)first, (long)(p->nrg - first));
}

/* Make room for an instruction at at: the code from there moves up one
 * (its jumps are relative, so they still land where they did). */
static void
re_insert(struct rparse *p, size_t at, enum re_op op, long x, long y)
{
	re_emit(p, RE_MATCH, 0, 0);
	if (p->err)
		return;
	memmove(p->re.in + at + 1, p->re.in + at, (p->re.n - 1 - at) * sizeof *p->re.in);
	p->re.in[at] = (struct rinst){ op, x, y };
}

/* {m}, {m,}, {m,n} at p->s: 1 with the counts (max -1: no limit), 0 if
 * it is not one (then '{' is itself, as in Go). */
static int
re_counts(struct rparse *p, long *min, long *max)
{
	const char *s = p->s + 1;
	char *e;

	if (!isdigit((unsigned char)*s))
		return 0;
	*min = *max = strtol(s, &e, 10);
	if (*e == ',') {
		*max = -1;
		if (isdigit((unsigned char)e[1]))
			*max = strtol(e + 1, &e, 10);
		else
			e++;
	}
	if (*e != '}')
		return 0;
	if (*min > RE_REPEAT || *max > RE_REPEAT || (*max >= 0 && *max < *min)) {
		re_fail(p, p->s, "invalid repeat count (at most 1000, min <= max)");
		return 0;
	}
	p->s = e + 1;
	return 1;
}

static void
re_copy(struct rparse *p, const struct rinst *f, size_t len)
{
	size_t k;

	for (k = 0; k < len; k++)
		re_emit(p, f[k].op, f[k].x, f[k].y);
}

/* The code from s on (F) repeated min to max times (max -1: no limit):
 * min copies, then a jump back over the last one (F+), or F* (a way
 * around F and back), or max - min copies each with a way around. */
static void
re_repeat(struct rparse *p, size_t s, long min, long max)
{
	size_t len = p->re.n - s;
	struct rinst *f = xreallocarray(NULL, len, sizeof *f);
	long i;

	if (len) /* () has no code: p->re.in may be NULL */
		memcpy(f, p->re.in + s, len * sizeof *f);
	p->re.n = s;
	for (i = 0; i < min; i++)
		re_copy(p, f, len);
	if (max < 0 && min) {
		re_emit(p, RE_SPLIT, -(long)len, 1);
	} else if (max < 0) {
		re_emit(p, RE_SPLIT, 1, (long)len + 2);
		re_copy(p, f, len);
		re_emit(p, RE_JMP, -(long)len - 1, 0);
	}
	for (; i < max; i++) {
		re_emit(p, RE_SPLIT, 1, (long)len + 1);
		re_copy(p, f, len);
	}
	free(f);
}

static void re_alt(struct rparse *p);

/* Atoms, each maybe repeated, up to '|', ')' or the end. */
static void
re_seq(struct rparse *p)
{
	while (!p->err && *p->s && *p->s != '|' && *p->s != ')') {
		size_t s = p->re.n;
		const char *at = p->s, *rep;
		long min, max, c;
		int len;

		switch (*p->s++) {
		case '(':
			if (++p->depth > RE_DEPTH) {
				re_fail(p, at, "too deeply nested (over 100 groups)");
				break;
			}
			if (*p->s == '?' && p->s[1] == ':') {
				p->s += 2;
			} else if (*p->s == '?') {
				const char *n = p->s + 1 + (p->s[1] == 'P');
				size_t k = *n == '<'
					? strspn(n + 1,
						  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
					: 0;
				if (*n != '<') {
					re_fail(p, at, "flags such as (?i) are not supported");
					break;
				}
				if (!k || n[k + 1] != '>') {
					re_fail(p, at, "invalid named capture");
					break;
				}
				p->s = n + k + 2;
			}
			re_alt(p);
			if (*p->s != ')')
				re_fail(p, at, "missing closing )");
			p->s += *p->s == ')', p->depth--;
			break;
		case '[':
			re_class(p);
			break;
		case '.':
			re_emit(p, RE_ANY, 0, 0);
			break;
		case '^':
			re_emit(p, RE_BOL, 0, 0);
			break;
		case '$':
			re_emit(p, RE_EOL, 0, 0);
			break;
		case '\\':
			if ((c = re_escape(p, 0)) >= 0)
				re_emit(p, RE_CHAR, c, 0);
			break;
		case '*':
		case '+':
		case '?':
			re_fail(p, at, "missing argument to repetition operator");
			break;
		default:
			p->s = at;
			if (*at == '{' && re_counts(p, &min, &max)) {
				re_fail(p, at, "missing argument to repetition operator");
				break;
			}
			c = utf8_rune(at, &len);
			if (c == 0xFFFD && len == 1 && (unsigned char)*at >= 0x80)
				re_fail(p, at, "invalid UTF-8");
			p->s = at + len;
			re_emit(p, RE_CHAR, c, 0);
		}
		/* one repetition operator, maybe lazy; a second is an error */
		for (rep = NULL; !p->err; rep = at) {
			at = p->s;
			if (*p->s && strchr("*+?", *p->s))
				min = *p->s == '+', max = *p->s == '?' ? 1 : -1, p->s++;
			else if (*p->s != '{' || !re_counts(p, &min, &max))
				break;
			if (rep) {
				re_fail(p, rep, "invalid nested repetition operator");
				break;
			}
			p->s += *p->s == '?';
			re_repeat(p, s, min, max);
		}
	}
}

/* Alternatives: SPLIT to the first and to the rest, the first jumping
 * past the rest. */
static void
re_alt(struct rparse *p)
{
	size_t s = p->re.n, j;

	re_seq(p);
	if (p->err || *p->s != '|')
		return;
	p->s++;
	re_insert(p, s, RE_SPLIT, 1, 0);
	j = p->re.n;
	re_emit(p, RE_JMP, 0, 0);
	re_alt(p);
	if (p->err)
		return;
	p->re.in[s].y = (long)(j + 1 - s);
	p->re.in[j].x = (long)(p->re.n - j);
}

/* Compile pat into re (in the arena); -1 with what is wrong and where
 * (the character, from 1) in err. */
static int
re_compile(struct regex *re, const char *pat, char *err, size_t n)
{
	struct rparse p;
	size_t k = 1;

	memset(&p, 0, sizeof p);
	p.s = pat;
	re_alt(&p);
	if (*p.s == ')')
		re_fail(&p, p.s, "unexpected )");
	re_emit(&p, RE_MATCH, 0, 0);
	if (p.err) {
		for (; pat < p.at; pat++)
			k += ((unsigned char)*pat & 0xC0) != 0x80;
		snprintf(err, n, "%s (character %zu)", p.err, k);
	} else {
		re->n = p.re.n;
		re->in = memcpy(amalloc(p.re.n * sizeof *re->in), p.re.in, p.re.n * sizeof *re->in);
		re->rg = amalloc(p.nrg * sizeof *re->rg + 1);
		if (p.nrg)
			memcpy(re->rg, p.re.rg, p.nrg * sizeof *re->rg);
	}
	free(p.re.in), free(p.re.rg);
	return p.err ? -1 : 0;
}

static int
re_isword(long c)
{
	return c >= 0 && c < 0x80 && (isalnum((int)c) || c == '_');
}

/* A Pike VM's state at one position: the character before and here
 * (-1: none), and the marks of the threads added to the list now. */
struct rvm {
	const struct regex *re;
	size_t *mark, *stk, stamp;
	long prev, c;
};

static void
re_push(struct rvm *v, size_t pc, size_t *sp)
{
	if (v->mark[pc] != v->stamp)
		v->mark[pc] = v->stamp, v->stk[(*sp)++] = pc;
}

/* Add pc and every instruction reachable from it without reading a
 * character to list: each once, whatever the paths to it. */
static void
re_add(struct rvm *v, size_t pc, size_t *list, size_t *n)
{
	size_t sp = 0;

	re_push(v, pc, &sp);
	while (sp) {
		const struct rinst *in = &v->re->in[pc = v->stk[--sp]];
		int ok = 1;
		switch (in->op) {
		case RE_JMP:
			re_push(v, pc + (size_t)in->x, &sp);
			continue;
		case RE_SPLIT:
			re_push(v, pc + (size_t)in->x, &sp);
			re_push(v, pc + (size_t)in->y, &sp);
			continue;
		case RE_BOL:
			ok = v->prev < 0;
			break;
		case RE_EOL:
			ok = v->c < 0;
			break;
		case RE_WORD:
		case RE_NWORD:
			ok = (re_isword(v->prev) != re_isword(v->c)) == (in->op == RE_WORD);
			break;
		default:
			list[(*n)++] = pc;
			continue;
		}
		if (ok)
			re_push(v, pc + 1, &sp);
	}
}

/* Does instruction in read character c? */
static int
re_reads(const struct regex *re, const struct rinst *in, long c)
{
	long i, hit = 0;

	if (in->op == RE_CHAR)
		return c == in->x;
	if (in->op == RE_ANY)
		return c != '\n';
	for (i = in->x; i < in->x + in->y && !hit; i++)
		hit = c >= re->rg[i][0] && c <= re->rg[i][1];
	return hit == (in->op == RE_CLASS);
}

/* 1 when re matches s somewhere (as Go's MatchString), else 0. */
static int
re_match(const struct regex *re, const char *s)
{
	size_t n = re->n, *mem = xreallocarray(NULL, 4 * n, sizeof *mem), *cur = mem,
	       *nxt = mem + n, ncur = 0, nnxt, i, *t;
	struct rvm v = { re, mem + 2 * n, mem + 3 * n, 1, -1, -1 };
	int len = 0, found = 0;

	memset(v.mark, 0, n * sizeof *v.mark);
	v.c = *s ? utf8_rune(s, &len) : -1;
	re_add(&v, 0, cur, &ncur);
	while (!found) {
		long c = v.c;
		v.prev = c, v.stamp++, nnxt = 0;
		if (c >= 0)
			s += len, v.c = *s ? utf8_rune(s, &len) : -1;
		for (i = 0; i < ncur && !found; i++) {
			const struct rinst *in = &re->in[cur[i]];
			found = in->op == RE_MATCH;
			if (c >= 0 && in->op < RE_MATCH && re_reads(re, in, c))
				re_add(&v, cur[i] + 1, nxt, &nnxt);
		}
		if (c < 0)
			break;
		re_add(&v, 0, nxt, &nnxt); /* a match may start at any character */
		t = cur, cur = nxt, nxt = t, ncur = nnxt;
	}
	free(mem);
	return found;
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
/* -ci: how the log marks tasks for a CI system's viewer. */
enum ci { CI_AUTO, CI_GITHUB, CI_GITLAB, CI_NONE };
/* -shell: simple commands exec'd directly (auto) or every string to sh. */
enum shellmode { SHELL_AUTO, SHELL_ALWAYS };

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
	enum shellmode shell;     /* -shell */
	int list;                 /* -list: print the tasks, run nothing */
	int xtrace;               /* -x: log each command before it runs */
	int progress;             /* -progress: 1 auto, 0 never */
	enum ci ci;               /* -ci */
	const char *from;         /* -from: run from this task on, or NULL */
	char **names;             /* NAME...: run only these tasks (NULL-ended,
				   * on the heap) */
	int nnames;               /* how many */
	char **fwd;               /* the flags a service run passes on to each build */
	size_t nfwd;              /* how many words */
} opt = { .config = "pipeline.yml",
	.threshold = L_INFO,
	.mode = "local",
	.color = COLOR_AUTO,
	.cleanup_timeout = 300,
	.progress = 1,
	.ci = CI_AUTO };

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
	struct buf fout;      /* with colours: the file's copy of out, without */
	struct buf fpre;      /* and of pre */
	struct buf msg;       /* the text of logmsg */
	int pre_task;         /* pre is INFO for task pre_name at second pre_sec */
	const char *pre_name; /* the task pre was built for */
	time_t pre_sec;       /* the second pre was built in */
} lg = { .err_ok = 1, .file = -1, .sec = (time_t)-1, .pre_sec = (time_t)-1 };

/* -ci: the CI system the log is written for (GitHub groups, GitLab
 * sections) and the group open now. */
static struct {
	enum ci kind;            /* CI_GITHUB, CI_GITLAB or CI_NONE (resolved) */
	int sections;            /* groups opened so far */
	const struct node *open; /* the task whose group is open, or NULL */
} ci = { .kind = CI_NONE };

/* The live status line at the bottom of a terminal (-progress): erased
 * before log output is written, drawn again at most 10 times a second. */
static struct {
	int on;              /* stderr is a terminal and -progress allows it */
	int shown;           /* the line is on the screen now */
	double drawn;        /* when it was last drawn */
	double ticked;       /* when the loop last looked at it */
	size_t total;        /* tasks this run may run */
	struct buf text;     /* what it shows */
	unsigned long draws; /* how many times it was drawn */
} pg;

/* A byte range [a, b) of a text that holds (part of) a secret. */
struct cover {
	size_t a, b;
};

/* Secrets: shown as *** in the log, reports and notifications. Each line
 * (4 bytes or more) of a secret value is a pattern; all patterns form one
 * Aho-Corasick automaton (4. log says how), built by the first masking
 * after a value was added. */
static struct {
	char **v;                  /* the patterns */
	size_t n;                  /* how many */
	size_t longest;            /* the longest pattern's length */
	int built;                 /* the automaton is that of v[0..n) */
	uint32_t nst;              /* its states; 0 is the root */
	uint32_t root[256];        /* the root's edges (0: none) */
	unsigned char *lab;        /* lab[s]: the byte from s to s + 1 (when run[s]) */
	uint32_t *run;             /* edges from s that go to the next state, in a row */
	uint32_t *fail;            /* the longest proper suffix that is a state */
	uint32_t *depth;           /* the length of the prefix a state stands for */
	uint32_t *hit;             /* the longest pattern ending at a state, 0 none */
	uint32_t *ekid;            /* other edges of s: ekid[s] .. ekid[s + 1] */
	unsigned char *elab;       /* their bytes */
	uint32_t *eto;             /* and the states they go to */
	size_t wm;                 /* skip: the window, the shortest pattern (at most 64) */
	unsigned char shift[4096]; /* skip: how far a window may move, by its last 2 bytes */
	struct cover *cv;          /* the last scan's covered ranges, in order */
	size_t ncv, cvcap;         /* how many; room */
	struct buf out;            /* the last masked text */
	struct buf name;           /* the last masked name (mask_name) */
} sec;

/* ---- reports (written by 9. outputs; errors by 4. log) ------------- */

/* The -json and -junit files are opened before the pipeline file is
 * read: a path that cannot be written is a usage error before anything
 * runs, and a configuration error still gets a report that says so. */
static struct {
	int json, junit;   /* the open files, or -1 */
	int loading;       /* the file is being loaded: an error is reported */
	struct buf errors; /* what walter said was wrong while loading, by line */
} rep = { -1, -1, 0, { 0 } };

/* ---- the pipeline (written by 5. config; run fields by 7. scheduler) - */

enum kind { N_TASK, N_SEQ, N_PAR };
/* A node's state; S_NSTATUS sizes an array of counts per status. */
enum status {
	S_PENDING,
	S_RUNNING,
	S_OK,
	S_FAILED,
	S_SKIPPED,
	S_ABORTED,
	S_CONDFALSE,
	S_NOTSEL, /* NAME... or -from left it out */
	S_NSTATUS
};
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
	const char *desc;       /* description, or NULL */
	const char *file;       /* the file it was written in */
	int line, col;          /* where in that file */
	struct node *parent;    /* the group it is in; NULL for a phase's list */
	struct node **kids;     /* groups: the entries, in order */
	size_t nkids;           /* how many */
	int logged;             /* log its Start/End (tasks; groups in D2) */
	const char *command;    /* TASK: sh -c COMMAND (or exec'd, 6. executor), or NULL */
	char **argv;            /* command given as a list: exec'd as is */
	const char *script;     /* type shell: sh SCRIPT, as written */
	const char *script_at;  /* SCRIPT from walter's directory (original) */
	const char *dir;        /* directory: where it runs, or NULL */
	const char *only_if;    /* run only if this sh -c succeeds, or NULL */
	int shell;              /* shell: true: command and only_if always sh -c */
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
	char *why;              /* final: why, beyond code (task_why), or NULL */
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
	int sel;                /* NAME... or -from chose it */
	int section;            /* -ci: its output is in a group (GitLab: the number) */
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

enum ntype {
	NT_FAKE,
	NT_SLACK,
	NT_HIPCHAT,
	NT_HIPCHAT2,
	NT_WEBHOOK,
	NT_EXEC,
	NT_GITHUB_STATUS,
	NT_GITLAB_STATUS,
	NT_DISCORD,
	NT_TEAMS,
	NT_MATTERMOST,
	NT_GOOGLECHAT,
	NT_NTYPES
};
/* What a commit status says: the run (or a task) started, succeeded,
 * failed, could not run (configuration), was aborted, was skipped. */
enum cstate { CS_START, CS_OK, CS_FAIL, CS_CONFIG, CS_ABORT, CS_SKIP };
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
	const char *hdr[5];    /* extra header lines ("Authorization: ..."), NULL-ended */
	const char *channel;   /* slack, with its '#' */
	const char *tls_proxy; /* "host:port" of a TLS terminator, or NULL */
	const char *command;   /* exec: the sh -c command */
	int bad;               /* its own settings had errors */
	/* github_status, gitlab_status */
	const char *context; /* the status context (GitHub) or name (GitLab) */
	const char *target;  /* target_url, or NULL */
	const char *desc;    /* a fixed description, or NULL: walter's */
	const char *sources; /* where defaults came from, names only (-plan) */
	int per_task;        /* also one status per task, "context/NAME" */
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
	char first_error[512];    /* the first error's text, for a commit status */
} cfg;

/* The 1.x "service:" block, for -mode service (10. service mode). */
static struct {
	int present;               /* the file has one */
	int github;                /* type: github; otherwise (local) the run is local */
	const char *file;          /* where it was written */
	int line, col;             /* where in that file */
	int uline, ucol;           /* where "update" was written (0: not written) */
	const char **names;        /* the settings written, for -plan */
	size_t nnames;             /* how many */
	const char *token;         /* Authorization: Bearer */
	const char *from;          /* the repository's owner */
	const char *repo;          /* its name */
	const char *api;           /* API base URL, no trailing '/' */
	const char *trunk;         /* the branch built on every new commit */
	const char *update;        /* the state file as written, or NULL: the default */
	const char *context;       /* status context */
	const char *target;        /* status target_url, or NULL */
	const char *tls_proxy;     /* "host:port", or NULL */
	int forks;                 /* build pull requests from forks too */
	int has_branch;            /* "branch" was given: */
	struct regex branch;       /* pull requests whose head branch matches */
	int token_line, token_col; /* where to point when the token is missing */
} svc;

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

/* A list of NAME=VALUE strings (env_file), later names replacing earlier. */
struct strv {
	char **v; /* the strings (in the arena), v itself on the heap */
	size_t n; /* how many */
};

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
	struct strv topenv;     /* the top-level env_file, for every task */
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
	int wr[2];          /* their write ends, held while it runs (and few
			     * others do): its exit, not a hang-up first,
			     * wakes walter; -1 closed */
	struct buf part[2]; /* unfinished line per stream */
	size_t cov[2];      /* bytes of part that end a secret cut in two */
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

/* A PATH lookup of direct exec (6. executor), kept for the run: name
 * was found as file in the PATH entry after ndirs others. Those entries
 * must look as they did then (mark), or a program put there since, which
 * sh would find first, is missed. */
struct dirmark {
	ino_t ino;          /* 0: it did not exist */
	struct timespec mt; /* its modification time */
};
struct exe {
	unsigned long turn;   /* R.turn when last checked */
	char *path;           /* the PATH value */
	char *name;           /* the command name */
	char *file;           /* where it was found */
	size_t ndirs;         /* entries before that one */
	struct dirmark *mark; /* how each of them looked */
	unsigned long gen;    /* R.pw.gen when the marks were last seen so */
	int watched;          /* every entry is watched (pw_arm) */
};
enum { EXE_CACHE = 64 };

/* What tells walter that the entries of remembered PATH lookups may have
 * changed, so that a start need not stat them (pw_*, 6. executor): a
 * dnotify watch on every directory that resolving them goes through,
 * and the mount table. Any change drops all the watches and bumps gen;
 * lookups are then checked by stat and watched anew. */
struct pathwatch {
	int sig;            /* dnotify's signal handlers are set */
	int mnt;            /* /proc/self/mountinfo (polled for changes), or -1 */
	int off;            /* no dnotify here, or fds ran short: stats only */
	unsigned long gen;  /* bumped by each change that may matter */
	unsigned long turn; /* R.turn when the fds were last looked at */
	unsigned long stat; /* PATH entries stat'd so far (see PW_AFTER) */
	struct buf wds;     /* the watched directories' fds (ints), closed by a drop */
	struct buf dirs;    /* directories watched, NUL-separated */
	struct buf armed;   /* PATH entries watched all the way (pw_arm) */
	struct buf failed;  /* PATH entries that cannot be (stats) */
};

/* One run. The loop's work per wake-up is proportional to what is ready,
 * not to what is running: descriptors are watched with epoll where it
 * exists (R.watch gives what each is for), exited processes are found by
 * pid in R.pids, timers are the heap R.heap ordered by task_rt.due, and
 * a group counts its finished entries (node.ndone). */
static struct {
	int selfpipe[2];             /* signal handler -> poll loop */
	int epfd;                    /* the epoll instance, -1 while poll() serves */
	int epoll_off;               /* epoll failed: poll() for the run */
	size_t nwatched;             /* fds watched (events set) */
	struct watch *watch;         /* per fd: what the loop watches it for */
	size_t nwatch;               /* entries in watch */
	struct pidmap pids;          /* pid -> the task whose process it is */
	struct node **heap;          /* tasks with a timer, earliest due first */
	size_t nheap;                /* how many */
	struct node **more;          /* parallel groups with entries left to start */
	size_t nmore;                /* how many */
	size_t cmore;                /* room */
	struct node **more2;         /* more_start's other array, kept */
	size_t cmore2;               /* its room */
	volatile sig_atomic_t sig;   /* the last INT/TERM/HUP */
	volatile sig_atomic_t nsig;  /* how many of them */
	volatile sig_atomic_t woken; /* a byte is in the self-pipe */
	volatile sig_atomic_t chld;  /* a SIGCHLD came: reap */
	struct node **act;           /* tasks started and not finished */
	size_t nact;                 /* how many */
	struct node **queue;         /* waiting for a -jobs slot, FIFO */
	size_t nqueue;               /* entries in queue */
	size_t cqueue;               /* its room */
	size_t qhead;                /* the first one still waiting */
	long running;                /* processes alive */
	int cancel;                  /* the list is aborted: start nothing */
	int timed_out;               /* -timeout expired */
	int in_cleanup;              /* a cleanup list is running */
	int cleanup_over;            /* the cleanup ran past cleanup_end: stopped */
	double cleanup_end;          /* after an abort: the cleanup's end, 0 none yet */
	double grace;                /* seconds from SIGTERM to SIGKILL */
	double deadline;             /* -timeout as monotonic time, 0 none */
	struct lgroup *linger;       /* groups that outlived their task's process */
	size_t nlinger;              /* how many */
	size_t clinger;              /* room */
	size_t nsettled;             /* the first ones, known not empty */
	char runid[48];              /* "PID.TIME": this run, in WALTER_TASK_ID */
	int subreaper;               /* orphans of tasks come to walter */
	pid_t guard;                 /* the guardian, 0 none */
	int gfd;                     /* its pipe, write end, -1 none */
	int burst;                   /* entries parallel groups may start this turn */
	unsigned char *gmap;         /* the guardian's groups, a bit per id */
	char *tails;                 /* tail lines' blocks kept, a list linked
				      * through their first bytes */
	char **words;                /* cmd_words' argv and its strings */
	size_t nwords;               /* its room, in pointers */
	char **envv;                 /* the last child's environment */
	size_t nenvv;                /* its room */
	const char *sh;              /* the shell for commands */
	int null;                    /* /dev/null for stdin, -1 until opened */
	pid_t self;                  /* walter's pid (on_signal's test) */
	int vfork_shares;            /* a spawned child's writes are seen: 1,
				     * they are not (a copy): -1, 0 not known */
	struct exe *exe;             /* PATH lookups of direct exec (EXE_CACHE,
				     * on the heap: R stays small in .data) */
	struct pathwatch pw;         /* when they need no stat (pw_*) */
	size_t nexe, exe_next;       /* entries used; the next one to replace */
	unsigned long turn;          /* waits of the loop and processes reaped */
	char *pwd;                   /* "PWD=..." for direct exec here, or NULL */
	int pwd_known;               /* pwd was worked out */
	struct task_rt *spare;       /* a finished task's, for the next one */
	struct pollfd *pf;           /* ev_wait's poll array (no epoll), */
	unsigned *pgen;              /* the watch generation of each entry */
	size_t npoll;                /* room in them */
	struct node *first_failed;   /* its last lines end the summary */
	char why[128];               /* why the run was aborted (cancel_run) */
	char **spec_val;             /* per cfg.specials: NAME=VALUE, or NULL */
	double t0;                   /* monotonic clock at the start */
} R = { .selfpipe = { -1, -1 },
	.epfd = -1,
	.gfd = -1,
	.grace = 5.0,
	.sh = "/bin/sh",
	.null = -1,
	.pw = { .mnt = -1 },
	.chld = 1 };

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
	int per_task;      /* some commit status notifier posts per task */
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
	"usage: walter [flags] [NAME...]\n"
	"  NAME...            run only these tasks (a name or a group/name path)\n"
	"  -c, -config FILE   pipeline file (default pipeline.yml; - reads stdin)\n"
	"  -build, -deploy    phases of a build/deploy file to run\n"
	"  -from NAME         run from task NAME on\n"
	"  -f                 force: run every stage even after a failure\n"
	"  -check             validate the file strictly, run nothing\n"
	"  -plan              print what would run, run nothing\n"
	"  -list              list the tasks and their descriptions, run nothing\n"
	"  -x                 log each command before it runs\n"
	"  -jobs N            run at most N tasks at once\n"
	"  -timeout DUR       abort the whole run after DUR (90, 90s, 5m, 1h)\n"
	"  -cleanup-timeout DUR  after an abort, stop the cleanup after DUR (5m)\n"
	"  -threshold LEVEL   least log level shown: DEBUG INFO WARN ERROR\n"
	"  -color WHEN        auto, always or never (NO_COLOR is honoured)\n"
	"  -shell WHEN        auto: simple commands run without sh; always: all via sh\n"
	"  -progress WHEN     auto (a status line on a terminal) or never\n"
	"  -ci KIND           auto, github, gitlab or none: CI log groups\n"
	"  -logDir DIR        also write the log to a file in DIR\n"
	"  -junit FILE        write a JUnit XML report\n"
	"  -json FILE         write a JSON run report (- is stdout)\n"
	"  -mode MODE         local (default), or service: poll GitHub, build what is new\n"
	"  -yaml-to-json FILE print each YAML document of FILE as JSON\n"
	"  -v, -version       print the version\n"
	"  -h                 this help\n"
	"exit status: 0 ok, 1 a task failed, 2 usage or configuration error,\n"
	"124 -timeout expired, 128+N killed by signal N\n";

static void __attribute__((noreturn)) usage(const char *fmt, const char *arg)
{
	int ok = 1;

	say(2, "walter: ", "\n", fmt, arg);
	write_all(2, usage_text, sizeof usage_text - 1, &ok);
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
	{ "list", F_BOOL, &opt.list },
	{ "x", F_BOOL, &opt.xtrace },
	{ "from", F_STR, &opt.from },
	{ "threshold", F_STR, NULL },
	{ "color", F_STR, NULL },
	{ "shell", F_STR, NULL },
	{ "jobs", F_STR, NULL },
	{ "timeout", F_STR, NULL },
	{ "cleanup-timeout", F_STR, NULL },
	{ "progress", F_STR, NULL },
	{ "ci", F_STR, NULL },
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
	} else if (!strcmp(name, "shell")) {
		if (!strcmp(v, "auto"))
			opt.shell = SHELL_AUTO;
		else if (!strcmp(v, "always"))
			opt.shell = SHELL_ALWAYS;
		else
			usage("invalid -shell %s (auto, always)", v);
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
	} else if (!strcmp(name, "progress")) {
		if (strcmp(v, "auto") && strcmp(v, "never"))
			usage("invalid -progress %s (auto, never)", v);
		opt.progress = !strcmp(v, "auto");
	} else if (!strcmp(name, "ci")) {
		static const char *const kinds[] = { "auto", "github", "gitlab", "none" };
		size_t k;
		for (k = 0; k < 4 && strcmp(v, kinds[k]); k++)
			;
		if (k == 4)
			usage("invalid -ci %s (auto, github, gitlab, none)", v);
		opt.ci = (enum ci)k;
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

/* Does a service run pass flag name on to each build it runs? Not the
 * file, the mode, nor the reports (each build would overwrite them). */
static int
passed_on(const char *name)
{
	static const char *const own[] = { "c", "config", "mode", "json", "junit", NULL };
	size_t i;

	for (i = 0; own[i]; i++)
		if (!strcmp(own[i], name))
			return 0;
	return 1;
}

/* Keep a flag's words (value: the next word, or NULL) for passed_on. */
static void
fwd_add(const char *flag, const char *value)
{
	opt.fwd = xreallocarray(opt.fwd, opt.nfwd + 2, sizeof *opt.fwd);
	opt.fwd[opt.nfwd++] = (char *)flag;
	if (value)
		opt.fwd[opt.nfwd++] = (char *)value;
}

static const struct flag *
flag_find(const char *a)
{
	const char *name = a + 1 + (a[1] == '-');
	size_t k, n = strcspn(name, "=");

	for (k = 0; k < sizeof flags / sizeof *flags; k++)
		if (strlen(flags[k].name) == n && !strncmp(flags[k].name, name, n))
			return &flags[k];
	return NULL;
}

/* Go's flag rules: -x or --x, "-x v" or "-x=v", booleans only "-b=v".
 * Other arguments are task names (NAME...), before or after flags as in
 * make; after "--" everything is a name. One extension: -json followed
 * by nothing or by a flag means -json - (stdout), so "-list -json" reads
 * naturally. */
static void
parse_flags(int argc, char **argv)
{
	int i, names = 0;

	opt.names = xreallocarray(NULL, (size_t)argc + 1, sizeof *opt.names);
	for (i = 1; i < argc; i++) {
		char *a = argv[i], *name, *eq, nm[64];
		const struct flag *f;

		if (names || a[0] != '-' || !a[1]) {
			opt.names[opt.nnames++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			names = 1;
			continue;
		}
		/* argv stays as given (ps shows it; a service run passes it on) */
		name = a + 1 + (a[1] == '-');
		eq = strchr(name, '=');
		snprintf(nm, sizeof nm, "%.*s", (int)(eq ? eq - name : (long)strlen(name)), name);
		name = nm;
		if (!(f = flag_find(a)))
			usage("flag provided but not defined: -%s", name);
		if (passed_on(f->name))
			fwd_add(a, f->kind == F_STR && !eq && i + 1 < argc ? argv[i + 1] : NULL);
		if (f->kind == F_BOOL) {
			int b = eq ? parse_bool_flag(eq + 1) : 1;
			if (b < 0)
				usage("invalid boolean value for flag -%s", name);
			*(int *)f->dst = b;
			continue;
		}
		if (!eq && f->dst == &opt.json &&
			(i + 1 >= argc || (argv[i + 1][0] == '-' && flag_find(argv[i + 1])))) {
			opt.json = "-";
			continue;
		}
		if (!eq && i + 1 >= argc)
			usage("flag needs an argument: -%s", name);
		if (f->dst)
			*(const char **)f->dst = eq ? eq + 1 : argv[++i];
		else
			flag_value(name, eq ? eq + 1 : argv[++i]);
	}
	opt.names[opt.nnames] = NULL;
}

/* ==== 4. log ======================================================== */

/* Write all n pieces of iov (it changes them), over short writes and
 * EINTR; *ok becomes 0 when fd takes no more. */
static void
writev_all(int fd, struct iovec *iov, int n, int *ok)
{
	for (;;) {
		ssize_t w;
		for (; n && !iov->iov_len; iov++, n--)
			;
		if (!n || !*ok)
			break;
		if ((w = writev(fd, iov, n)) < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			*ok = 0; /* closed or full: drop the log, keep running */
			break;
		}
		for (; n && (size_t)w >= iov->iov_len; iov++, n--)
			w -= (ssize_t)iov->iov_len;
		if (n)
			iov->iov_base = (char *)iov->iov_base + w, iov->iov_len -= (size_t)w;
	}
}

static void
write_all(int fd, const char *p, size_t n, int *ok)
{
	struct iovec v;

	v.iov_base = (char *)p, v.iov_len = n;
	writev_all(fd, &v, 1, ok);
}

/* ---- the status line (-progress) ----------------------------------- */

/* Erase the line the cursor is on: the status line, never a log line
 * (log lines end in a newline, so the cursor is at an empty line). */
static const char erase_line[] = "\r\033[K";

/* Terminal columns; 80 when the terminal does not say. */
static size_t
term_width(void)
{
#ifdef TIOCGWINSZ
	struct winsize ws;

	if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		return ws.ws_col;
#endif
	return 80;
}

/* Append s to b while it fits in *cols columns: control bytes become
 * '?', a non-ASCII character counts as two columns (wide ones do). */
static void
put_cols(struct buf *b, const char *s, size_t *cols)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		size_t w = c < 0x80 ? 1 : (c & 0xC0) == 0x80 ? 0 : 2;
		if (w > *cols)
			break;
		xput(b, c < 0x20 || c == 0x7F ? "?" : s, 1);
		*cols -= w;
	}
}

/* "[3/7 done] build 12s, test 3s": what the run is doing at time t. */
static void
prog_build(struct buf *b, double t)
{
	size_t i, done = 0, cols = term_width() - 1;
	char tmp[64];

	for (i = 0; i < cfg.ntasks; i++)
		done += cfg.tasks[i]->st > S_RUNNING && cfg.tasks[i]->st != S_NOTSEL;
	b->len = 0;
	snprintf(tmp, sizeof tmp, "[%zu/%zu done]", done, pg.total);
	put_cols(b, tmp, &cols);
	for (i = 0; i < R.nact && cols > 4; i++) {
		const struct node *n = R.act[i];
		long e = (long)(t - n->t0);
		if (!n->rt || n->rt->ph == T_QUEUED)
			continue;
		put_cols(b, b->data[b->len - 1] == ']' ? " " : ", ", &cols);
		put_cols(b, mask_name(n->name), &cols);
		if (e < 60)
			snprintf(tmp, sizeof tmp, " %lds", e);
		else
			snprintf(tmp, sizeof tmp, " %ldm%02lds", e / 60, e % 60);
		put_cols(b, tmp, &cols);
	}
}

/* Write log bytes (maybe none) to stderr with the status line: erase it,
 * the log, draw it again when the last drawing is 0.1 s old. One writev
 * (the log is not copied), so the terminal never shows a half-drawn
 * state. */
static void
prog_write(const char *log, size_t n)
{
	double t = now();
	struct iovec iov[3];
	int k = 0;

	if (pg.shown)
		iov[k].iov_base = (char *)erase_line, iov[k++].iov_len = sizeof erase_line - 1;
	pg.shown = 0;
	if (n)
		iov[k].iov_base = (char *)log, iov[k++].iov_len = n;
	if (t - pg.drawn >= 0.1) {
		prog_build(&pg.text, t);
		iov[k].iov_base = pg.text.data, iov[k++].iov_len = pg.text.len;
		pg.shown = 1, pg.drawn = t, pg.draws++;
	}
	if (k)
		writev_all(2, iov, k, &lg.err_ok);
}

/* Colours go to the terminal, never into the -logDir file: with both,
 * the file has its own copy of the lines (fout). */
static int
log_plain_copy(void)
{
	return lg.color && lg.file >= 0;
}

static void
log_flush(void)
{
	const struct buf *f = log_plain_copy() ? &lg.fout : &lg.out;
	int fok = lg.file >= 0;

	if (!lg.out.len)
		return;
	if (pg.on)
		prog_write(lg.out.data, lg.out.len);
	else
		write_all(2, lg.out.data, lg.out.len, &lg.err_ok);
	if (lg.file >= 0) {
		write_all(lg.file, f->data, f->len, &fok);
		if (!fok) {
			close(lg.file);
			lg.file = -1;
		}
	}
	lg.out.len = lg.fout.len = 0;
}

/* A message of walter's own, before the log starts or outside it
 * ("walter: FILE:LINE:COL: msg"): to stderr and the -logDir file, secrets
 * masked; while loading, errors are kept for the reports. Allocates
 * nothing it cannot do without: fatal("out of memory") comes here. */
static void
diag(int is_err, const char *msg)
{
	static int again; /* out of memory while masking: say it as it is */
	size_t n = strlen(msg);
	int fok = lg.file >= 0, i;

	log_flush();
	prog_erase();
	if (!again++)
		msg = mask(msg, &n);
	for (i = 0; i < 2; i++) {
		int fd = i ? lg.file : 2, *ok = i ? &fok : &lg.err_ok;
		if (fd < 0)
			continue;
		write_all(fd, "walter: ", 8, ok);
		write_all(fd, msg, n, ok);
		write_all(fd, "\n", 1, ok);
	}
	if (is_err && rep.loading && (rep.json >= 0 || rep.junit >= 0) &&
		buf_put(&rep.errors, msg, n) == 0)
		(void)buf_put(&rep.errors, "\n", 1);
	again--;
}

/* The loop's turn: redraw the status line if what it says changed and
 * the last drawing is 0.1 s old. */
static void
prog_tick(void)
{
	double t = now();
	struct buf b = { 0 };

	if (!pg.on)
		return;
	pg.ticked = t;
	if (lg.out.len) {
		log_flush();
		return;
	}
	if (t - pg.drawn < 0.1)
		return;
	prog_build(&b, t);
	if (!pg.shown || b.len != pg.text.len || memcmp(b.data, pg.text.data, b.len))
		prog_write("", 0);
	buf_free(&b);
}

/* When the loop should wake up next for the status line. */
static double
prog_due(void)
{
	if (!pg.on)
		return HUGE_VAL;
	return pg.shown ? pg.ticked + 0.25 : pg.drawn + 0.1;
}

/* Take the status line off the screen for good (the run is over). */
static void
prog_stop(void)
{
	log_flush();
	if (pg.shown)
		write_all(2, erase_line, sizeof erase_line - 1, &lg.err_ok);
	pg.shown = pg.on = 0;
	buf_free(&pg.text);
}

/* Other writers of stderr (warn, fatal) clear the line first. */
static void
prog_erase(void)
{
	if (pg.shown)
		write_all(2, erase_line, sizeof erase_line - 1, &lg.err_ok);
	pg.shown = 0;
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
		name = mask_name(name);
		xput(&lg.pre, "[", 1);
		xputs(&lg.pre, name);
		xput(&lg.pre, "] ", 2);
	}
	if (log_plain_copy()) {
		lg.fpre.len = 0;
		xprintf(&lg.fpre, "%s %s %s%s%s", lg.stamp, word[lv], name ? "[" : "",
			name ? name : "", name ? "] " : "");
	}
	if (buf_grow(&lg.pre, 32) < 0) /* out_lines copies 32 bytes or more */
		fatal("out of memory");
	lg.pre_task = 0;
}

/* Append prefix pre and text to o as one line. */
static void
line_put(struct buf *o, const struct buf *pre, const char *text, size_t len)
{
	size_t n = pre->len + len + 1;
	char *d;

	if (buf_grow(o, n) < 0)
		fatal("out of memory");
	d = o->data + o->len;
	memcpy(d, pre->data, pre->len);
	memcpy(d + pre->len, text, len);
	d[n - 1] = '\n';
	o->len += n;
	o->data[o->len] = '\0';
}

/* Append the prefix and one line of text: two copies, no allocation once
 * the buffer has grown; written out in 64 KiB batches. */
static void
log_text(const char *text, size_t len)
{
	line_put(&lg.out, &lg.pre, text, len);
	if (log_plain_copy())
		line_put(&lg.fout, &lg.fpre, text, len);
	if (lg.out.len >= 65536)
		log_flush();
}

/* ---- secrets: shown as *** in the log, reports and notifications ---- */

/* Remember the lines of a secret value as patterns: output is logged line
 * by line, so a multi-line value (a PEM key) is hidden line by line; a
 * line shorter than 4 bytes would mask half the log. */
static void
secret_add(const char *v)
{
	while (v && *v) {
		size_t len = strcspn(v, "\n"), m = len, i;
		if (m && v[m - 1] == '\r')
			m--;
		for (i = 0; m >= 4 && i < sec.n; i++)
			if (strlen(sec.v[i]) == m && !memcmp(sec.v[i], v, m))
				break;
		if (m >= 4 && i == sec.n) {
			sec.v = xreallocarray(sec.v, sec.n + 1, sizeof *sec.v);
			sec.v[sec.n] = xmalloc(m + 1);
			memcpy(sec.v[sec.n], v, m);
			sec.v[sec.n++][m] = '\0';
			sec.built = 0;
			if (m > sec.longest)
				sec.longest = m;
		}
		v += len + (v[len] == '\n');
	}
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

/* The automaton. Masking is one pass over the text whatever the number
 * and length of the secrets:
 *  - a state is a prefix of some pattern. Patterns are inserted sorted,
 *    so a new state's first child is mostly the state made right after
 *    it: lab[s] is that edge's byte and run[s] counts such edges in a
 *    row (with no pattern ending before the last), which the scan
 *    compares 16 bytes at a time: a long secret costs little more than a
 *    short one. Other edges are listed per state (ekid, elab, eto), the
 *    root's in a table of 256 that also lets the scan skip every byte
 *    that begins no secret;
 *  - hit[s] is the longest pattern that ends at s (itself, or through
 *    the failure links), so a scan yields covered ranges; overlapping
 *    ones merge, and each range is shown as one "***";
 *  - at the root, where the scan spends most of its time, a window of wm
 *    bytes (the shortest pattern, at most 64) moves over the text as in
 *    Wu and Manber's search: a pair of bytes that ends no pattern's first
 *    wm bytes at their end lets it move on by as much as shift[] says,
 *    so text that merely looks like secrets is passed over many bytes at
 *    a step. */
static void
secrets_free_automaton(void)
{
	free(sec.lab), free(sec.run), free(sec.fail), free(sec.depth), free(sec.hit);
	free(sec.ekid), free(sec.elab), free(sec.eto);
	sec.lab = NULL, sec.elab = NULL;
	sec.run = sec.fail = sec.depth = sec.hit = sec.ekid = sec.eto = NULL;
	sec.nst = 0;
	memset(sec.root, 0, sizeof sec.root);
}

static int
pattern_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The state s goes to on byte c, through failure links. */
static uint32_t
ac_next(uint32_t s, unsigned char c)
{
	for (;;) {
		uint32_t e;
		if (!s)
			return sec.root[c];
		if (sec.run[s] && sec.lab[s] == c)
			return s + 1;
		for (e = sec.ekid[s]; e < sec.ekid[s + 1]; e++)
			if (sec.elab[e] == c)
				return sec.eto[e];
		s = sec.fail[s];
	}
}

/* The trie of the sorted patterns: a pattern shares with the one before
 * it their common prefix (path holds that one's states) and adds one
 * state per byte after it. Edges to other than the next state are
 * collected in (efrom, elab, eto) and grouped by state afterwards. */
static uint32_t *
ac_trie(uint32_t *efrom, size_t *pne)
{
	uint32_t *path = calloc(sec.longest + 1, sizeof *path);
	const char *prev = "";
	size_t i, ne = 0;

	if (!path)
		fatal("out of memory");
	sec.nst = 1;
	for (i = 0; i < sec.n; i++) {
		const char *p = sec.v[i];
		size_t l = 0, m = strlen(p);
		uint32_t s;
		while (p[l] && p[l] == prev[l])
			l++;
		for (s = path[l]; l < m; l++) {
			uint32_t t = sec.nst++;
			sec.depth[t] = (uint32_t)(l + 1);
			if (t == s + 1) {
				sec.lab[s] = (unsigned char)p[l], sec.run[s] = 1;
			} else {
				efrom[ne] = s, sec.elab[ne] = (unsigned char)p[l],
				sec.eto[ne++] = t;
			}
			path[l + 1] = s = t;
		}
		sec.hit[s] = (uint32_t)m;
		prev = p;
	}
	*pne = ne;
	return path;
}

/* t is s's child on byte c: its failure link, and the longest pattern
 * ending there. Breadth first, so every shallower state is done. */
static void
ac_link(uint32_t s, uint32_t t, unsigned char c, uint32_t *queue, size_t *tail)
{
	sec.fail[t] = s ? ac_next(sec.fail[s], c) : 0;
	if (!sec.hit[t])
		sec.hit[t] = sec.hit[sec.fail[t]];
	queue[(*tail)++] = t;
}

/* Group the other edges by state (ekid), fill the root's table, then the
 * failure links breadth first and the runs. */
static void
ac_links(const uint32_t *efrom, size_t ne, uint32_t *queue)
{
	unsigned char *lab2 = xmalloc(ne + 1);
	uint32_t *to2 = xreallocarray(NULL, ne + 1, sizeof *to2), s, e;
	size_t i, head = 0, tail = 0;

	for (i = 0; i < ne; i++)
		sec.ekid[efrom[i] + 1]++;
	for (s = 0; s < sec.nst; s++)
		sec.ekid[s + 1] += sec.ekid[s];
	for (i = 0; i < ne; i++) { /* ekid[s] moves to the end of s's edges */
		e = sec.ekid[efrom[i]]++;
		lab2[e] = sec.elab[i], to2[e] = sec.eto[i];
	}
	for (s = sec.nst; s > 0; s--)
		sec.ekid[s] = sec.ekid[s - 1];
	sec.ekid[0] = 0;
	if (ne)
		memcpy(sec.elab, lab2, ne), memcpy(sec.eto, to2, ne * sizeof *to2);
	free(lab2), free(to2);
	if (sec.run[0])
		sec.root[sec.lab[0]] = 1;
	for (e = sec.ekid[0]; e < sec.ekid[1]; e++)
		sec.root[sec.elab[e]] = sec.eto[e];
	queue[tail++] = 0;
	while (head < tail) {
		s = queue[head++];
		if (sec.run[s])
			ac_link(s, s + 1, sec.lab[s], queue, &tail);
		for (e = sec.ekid[s]; e < sec.ekid[s + 1]; e++)
			ac_link(s, sec.eto[e], sec.elab[e], queue, &tail);
	}
	for (s = sec.nst; s-- > 0;)
		if (sec.run[s] && sec.run[s + 1] && !sec.hit[s + 1])
			sec.run[s] += sec.run[s + 1];
}

/* The hash of the 2 bytes that end a window. */
#define PAIR(a, b) ((((unsigned)(a) << 4) ^ (unsigned)(b)) & 4095u)

/* The skip table: a window of wm bytes may move on by wm - 1 unless its
 * last 2 bytes are 2 bytes of some pattern's first wm (then by as many
 * as follow them there). */
static void
ac_shift(void)
{
	size_t i, q;

	sec.wm = 64;
	for (i = 0; i < sec.n; i++)
		if (strlen(sec.v[i]) < sec.wm)
			sec.wm = strlen(sec.v[i]);
	memset(sec.shift, (int)(sec.wm - 1), sizeof sec.shift);
	for (i = 0; i < sec.n; i++)
		for (q = 1; q < sec.wm; q++) {
			unsigned char *sh = &sec.shift[PAIR(sec.v[i][q - 1], sec.v[i][q])];
			if (*sh > sec.wm - 1 - q)
				*sh = (unsigned char)(sec.wm - 1 - q);
		}
}

/* The first place from i where a secret may begin (n if none). */
static size_t
ac_skip(const unsigned char *s, size_t n, size_t i)
{
	size_t m = sec.wm, e;
	unsigned char sh;

	if (n - i >= m) {
		for (e = i + m - 1; e < n; e += sh)
			if (!(sh = sec.shift[PAIR(s[e - 1], s[e])]))
				return e + 1 - m;
		i = e + 1 - m; /* no secret begins before */
	}
	while (i < n && !sec.root[s[i]])
		i++;
	return i;
}

static void
ac_build(void)
{
	size_t i, total = 1, ne;
	uint32_t *efrom, *queue;

	secrets_free_automaton();
	qsort(sec.v, sec.n, sizeof *sec.v, pattern_cmp);
	for (i = 0; i < sec.n; i++)
		total += strlen(sec.v[i]);
	if (total > UINT32_MAX - 2)
		fatal("out of memory");
	sec.lab = xmalloc(total + 1);
	sec.elab = xmalloc(total + 1);
	sec.run = xreallocarray(NULL, total + 1, sizeof *sec.run);
	sec.fail = xreallocarray(NULL, total, sizeof *sec.fail);
	sec.depth = xreallocarray(NULL, total, sizeof *sec.depth);
	sec.hit = xreallocarray(NULL, total, sizeof *sec.hit);
	sec.ekid = xreallocarray(NULL, total + 1, sizeof *sec.ekid);
	sec.eto = xreallocarray(NULL, total, sizeof *sec.eto);
	memset(sec.run, 0, (total + 1) * sizeof *sec.run);
	memset(sec.fail, 0, total * sizeof *sec.fail);
	memset(sec.depth, 0, total * sizeof *sec.depth);
	memset(sec.hit, 0, total * sizeof *sec.hit);
	memset(sec.ekid, 0, (total + 1) * sizeof *sec.ekid);
	efrom = xreallocarray(NULL, total, sizeof *efrom);
	free(ac_trie(efrom, &ne));
	queue = xreallocarray(NULL, sec.nst, sizeof *queue);
	ac_links(efrom, ne, queue);
	free(efrom), free(queue);
	ac_shift();
	sec.built = 1;
}

/* [a, b) holds a secret: merge it with the ranges it overlaps (ranges
 * that only touch stay apart: two secrets in a row show as two). */
static void
cover_add(size_t a, size_t b)
{
	while (sec.ncv && sec.cv[sec.ncv - 1].b > a) {
		struct cover *l = &sec.cv[--sec.ncv];
		if (l->a < a)
			a = l->a;
		if (l->b > b)
			b = l->b;
	}
	if (sec.ncv == sec.cvcap) {
		sec.cvcap = sec.cvcap ? 2 * sec.cvcap : 16;
		sec.cv = xreallocarray(sec.cv, sec.cvcap, sizeof *sec.cv);
	}
	sec.cv[sec.ncv].a = a, sec.cv[sec.ncv++].b = b;
}

/* Scan s[0..n) into the covered ranges (sec.cv), the first cov bytes
 * counting as covered already. Returns how many bytes at the end may
 * still begin a secret that the text after them would complete. */
static size_t
ac_scan(const unsigned char *s, size_t n, size_t cov)
{
	uint32_t st = 0;
	size_t i = 0;

	if (!sec.built)
		ac_build();
	sec.ncv = 0;
	if (cov)
		cover_add(0, cov);
	while (i < n) {
		if (!st) { /* most bytes begin no secret */
			if ((i = ac_skip(s, n, i)) == n)
				break;
			st = sec.root[s[i++]];
		} else if (sec.run[st] && sec.lab[st] == s[i]) {
			/* along a run of single edges: 16 bytes at a time */
			const unsigned char *l = sec.lab + st;
			size_t k = 1, m = sec.run[st] < n - i ? sec.run[st] : n - i;
			uint64_t x[2], y[2];
			while (k + 16 <= m) {
				memcpy(x, s + i + k, 16), memcpy(y, l + k, 16);
				if ((x[0] ^ y[0]) | (x[1] ^ y[1]))
					break;
				k += 16;
			}
			while (k + 8 <= m) {
				memcpy(x, s + i + k, 8), memcpy(y, l + k, 8);
				if (x[0] != y[0])
					break;
				k += 8;
			}
			while (k < m && s[i + k] == l[k])
				k++;
			st += (uint32_t)k, i += k;
		} else {
			st = ac_next(st, s[i++]);
		}
		if (sec.hit[st])
			cover_add(i - sec.hit[st], i);
	}
	return sec.depth[st];
}

/* s[from..to) with each covered range as "***", into o. */
static void
cover_put(struct buf *o, const char *s, size_t from, size_t to)
{
	size_t j, p = from;

	o->len = 0;
	if (buf_grow(o, to - from) < 0)
		fatal("out of memory");
	for (j = 0; j < sec.ncv && sec.cv[j].a < to; j++) {
		if (sec.cv[j].b <= p)
			continue;
		if (sec.cv[j].a > p)
			xput(o, s + p, sec.cv[j].a - p);
		xputs(o, "***");
		p = sec.cv[j].b < to ? sec.cv[j].b : to;
	}
	xput(o, s + p, to - p);
}

/* s[0..*n) with every secret replaced by "***": s itself when nothing is
 * to hide, else text in a buffer valid until the next call. cov: the
 * first cov bytes hold the end of a secret (see mask_cut). */
static const char *
mask_from(const char *s, size_t *n, size_t cov)
{
	if (!sec.n)
		return s;
	ac_scan((const unsigned char *)s, *n, cov);
	if (!sec.ncv)
		return s;
	cover_put(&sec.out, s, 0, *n);
	*n = sec.out.len;
	return sec.out.data;
}

static const char *
mask(const char *s, size_t *n)
{
	return mask_from(s, n, 0);
}

/* A task's name as the log shows it, secrets masked; valid until the
 * next call (a buffer of its own: the line's text may be in sec.out). */
static const char *
mask_name(const char *s)
{
	size_t n = strlen(s);

	if (!sec.n)
		return s;
	ac_scan((const unsigned char *)s, n, 0);
	if (!sec.ncv)
		return s;
	cover_put(&sec.name, s, 0, n);
	return sec.name.data;
}

/* A line too long for one log line: how much of s[0..n) to log now, masked
 * into sec.out; 0 when all of it may still begin a secret. What is kept
 * back begins with the bytes that may begin one; when a secret straddles
 * the cut, *cov says how much of the rest it covers. */
static size_t
mask_cut(const char *s, size_t n, size_t *cov)
{
	size_t h = n - ac_scan((const unsigned char *)s, n, *cov), j;

	if (!h)
		return 0;
	*cov = 0;
	for (j = 0; j < sec.ncv; j++)
		if (sec.cv[j].a < h && sec.cv[j].b > h)
			*cov = sec.cv[j].b - h;
	cover_put(&sec.out, s, 0, h);
	return h;
}

/* The end s[from..n) of a text cut out of a longer one, masked as part
 * of s[0..n) (s before from is context), into sec.out. */
static const char *
mask_tail(const char *s, size_t n, size_t from, size_t *len)
{
	if (!sec.n) {
		*len = n - from;
		return s + from;
	}
	ac_scan((const unsigned char *)s, n, 0);
	cover_put(&sec.out, s, from, n);
	*len = sec.out.len;
	return sec.out.data;
}

static void
secrets_free(void)
{
	size_t i;

	for (i = 0; i < sec.n; i++)
		free(sec.v[i]);
	free(sec.v), free(sec.cv);
	secrets_free_automaton();
	buf_free(&sec.out), buf_free(&sec.name);
	memset(&sec, 0, sizeof sec);
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
task_prefix(const char *name)
{
	if (!lg.pre_task || lg.pre_name != name || lg.pre_sec != lg.sec) {
		prefix_build(L_INFO, name);
		lg.pre_task = 1, lg.pre_name = name, lg.pre_sec = lg.sec;
	}
}

static void
log_task_line(const char *name, const char *text, size_t len)
{
	if (L_INFO < opt.threshold)
		return;
	task_prefix(name);
	log_text(text, len);
}

/* A line of walter's own; never cut (a cut could halve a secret). */
static void __attribute__((format(printf, 3, 4)))
logmsg(enum level lv, const char *name, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (lv < opt.threshold)
		return;
	lg.msg.len = 0;
	va_start(ap, fmt);
	r = buf_vprintf(&lg.msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		fatal("out of memory");
	log_line(lv, name, lg.msg.data, lg.msg.len);
}

/* Colours, and the -logDir file: a new file of a name of its own
 * (O_EXCL: a file or a link planted at that name is never written
 * through), or a usage error before anything runs. */
static void
log_open(void)
{
	const char *nc = getenv("NO_COLOR");
	struct buf path = { 0 };
	struct tm tm;
	time_t t = time(NULL);

	const char *gh = getenv("GITHUB_ACTIONS"), *gl = getenv("GITLAB_CI");

	lg.color =
		opt.color == COLOR_ALWAYS || (opt.color == COLOR_AUTO && isatty(2) && !(nc && *nc));
	ci.kind = opt.ci != CI_AUTO         ? opt.ci
		: gh && !strcmp(gh, "true") ? CI_GITHUB
		: gl && !strcmp(gl, "true") ? CI_GITLAB
					    : CI_NONE;
	if (!opt.logdir)
		return;
	localtime_r(&t, &tm);
	xprintf(&path, "%s/walter-%04d%02d%02d-%02d%02d%02d-%ld.log", opt.logdir, tm.tm_year + 1900,
		tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)getpid());
	if (path.len >= PATH_MAX)
		fatal("-logDir: the log file's path would be %zu bytes long, more than %d: %s",
			path.len, PATH_MAX - 1, opt.logdir);
	lg.file = open(path.data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (lg.file < 0)
		fatal("-logDir: cannot create %s:", path.data);
	buf_free(&path);
}

/* "SIGTERM" for the usual signals, else "signal N". */
static const char *
sig_name(int sig, char *b, size_t n)
{
	static const struct {
		int sig;
		const char *name;
	} t[] = { { SIGHUP, "SIGHUP" }, { SIGINT, "SIGINT" }, { SIGQUIT, "SIGQUIT" },
		{ SIGILL, "SIGILL" }, { SIGTRAP, "SIGTRAP" }, { SIGABRT, "SIGABRT" },
		{ SIGBUS, "SIGBUS" }, { SIGFPE, "SIGFPE" }, { SIGKILL, "SIGKILL" },
		{ SIGUSR1, "SIGUSR1" }, { SIGSEGV, "SIGSEGV" }, { SIGUSR2, "SIGUSR2" },
		{ SIGPIPE, "SIGPIPE" }, { SIGALRM, "SIGALRM" }, { SIGTERM, "SIGTERM" },
		{ SIGXCPU, "SIGXCPU" }, { SIGXFSZ, "SIGXFSZ" }, { SIGSYS, "SIGSYS" } };
	size_t i;

	for (i = 0; i < sizeof t / sizeof *t; i++)
		if (t[i].sig == sig)
			return t[i].name;
	snprintf(b, n, "signal %d", sig);
	return b;
}

/* How a command ended, from its status (128+N when signal N ended it,
 * as the shell says it: the same for a program run directly and for
 * sh -c running it): "exit status 7", "killed by SIGKILL". */
static const char *
exit_text(int code, char *b, size_t n)
{
	char s[32];

	if (code > 128)
		snprintf(b, n, "killed by %s", sig_name(code - 128, s, sizeof s));
	else
		snprintf(b, n, "exit status %d", code);
	return b;
}

/* The status line goes on when stderr is a terminal that can erase a
 * line (not TERM=dumb) and -progress allows it; total is how many tasks
 * the run may run. */
static void
prog_start(size_t total)
{
	const char *term = getenv("TERM");

	pg.on = opt.progress && isatty(2) && !(term && !strcmp(term, "dumb"));
	pg.total = total;
	pg.drawn = -1;
}

/* ---- CI log formats (-ci) ------------------------------------------- */

/* Bytes that go into the log as they are: no prefix, no newline added,
 * not masked (callers mask what a task or the file said). */
static void
log_raw(const char *s, size_t n)
{
	xput(&lg.out, s, n);
	if (log_plain_copy())
		xput(&lg.fout, s, n);
}

/* GitHub workflow command text: %, CR and LF escaped, and in a property
 * value also ':' and ','. (A line of the log starts with the clock, so a
 * task's output can never pass for a command.) */
static void
gh_escape(struct buf *b, const char *s, size_t n, int prop)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%' || c == '\r' || c == '\n' || (prop && (c == ':' || c == ',')))
			xprintf(b, "%%%02X", c);
		else
			xput(b, s + i, 1);
	}
}

/* A task runs alone (so its output can be one collapsible group) when
 * no parallel group with two entries or more holds it, or with -jobs 1. */
static int
runs_alone(const struct node *n)
{
	const struct node *p;

	if (opt.jobs == 1)
		return 1;
	for (p = n->parent; p; p = p->parent)
		if (p->kind == N_PAR && p->nkids > 1)
			return 0;
	return 1;
}

/* Before a task's "Start task": open its group (GitHub ::group::, a GitLab
 * section whose header is the Start line itself). */
static void
ci_open(struct node *n)
{
	struct buf b = { 0 };
	size_t len = strlen(n->name);
	const char *name = n->name;

	if (ci.kind == CI_NONE || ci.open || L_INFO < opt.threshold || !runs_alone(n) ||
		(!n->command && !n->argv && !n->script)) /* nothing to hold */
		return;
	if (sec.n)
		name = mask(name, &len);
	ci.open = n;
	n->section = ++ci.sections;
	if (ci.kind == CI_GITHUB) {
		xputs(&b, "::group::");
		gh_escape(&b, name, len, 0);
		xput(&b, "\n", 1);
	} else {
		xprintf(&b, "\033[0Ksection_start:%lld:walter_task_%d[collapsed=true]\r\033[0K",
			(long long)time(NULL), n->section);
	}
	log_raw(b.data, b.len);
	buf_free(&b);
}

/* Before a task's final line (End task, Task failed...): close its group,
 * so the result shows when the group is collapsed. */
static void
ci_close(struct node *n)
{
	struct buf b = { 0 };

	if (ci.open != n)
		return;
	ci.open = NULL;
	if (ci.kind == CI_GITHUB)
		xputs(&b, "::endgroup::\n");
	else
		xprintf(&b, "\033[0Ksection_end:%lld:walter_task_%d\r\033[0K",
			(long long)time(NULL), n->section);
	log_raw(b.data, b.len);
	buf_free(&b);
}

/* GitHub: a failed task as an annotation, its reason and its last lines
 * (already masked, as the log shows them). */
static void
ci_error(const struct node *n, const char *reason, char *const *tail, size_t ntail)
{
	struct buf b = { 0 };
	size_t i, len = strlen(n->name);
	const char *s = sec.n ? mask(n->name, &len) : n->name;

	if (ci.kind != CI_GITHUB)
		return;
	xputs(&b, "::error title=");
	gh_escape(&b, s, len, 1);
	xputs(&b, "::");
	len = strlen(reason);
	s = sec.n ? mask(reason, &len) : reason;
	gh_escape(&b, s, len, 0);
	for (i = 0; i < ntail; i++) {
		xputs(&b, "%0A");
		gh_escape(&b, tail[i], strlen(tail[i]), 0);
	}
	xput(&b, "\n", 1);
	log_raw(b.data, b.len);
	buf_free(&b);
}

/* "1.23s", "2m03s": how long something took, for log lines (every
 * task's End line: without printf's floating point). */
static const char *
fmt_dur(double s, char *b, size_t n)
{
	long c = s > 0 ? (long)(s * 100 + 0.5) : 0; /* hundredths */
	char t[16], *p = t + sizeof t;

	if (s >= 60 || n < 8) {
		snprintf(b, n, "%ldm%02lds", (long)s / 60, (long)s % 60);
		return b;
	}
	*--p = '\0', *--p = 's';
	*--p = (char)('0' + c % 10), *--p = (char)('0' + c / 10 % 10), *--p = '.';
	c /= 100;
	do
		*--p = (char)('0' + c % 10);
	while (c /= 10);
	memcpy(b, p, (size_t)(t + sizeof t - p));
	return b;
}

/* ==== 5. config ==================================================== */

/* How bad a load-time message is. */
enum sev {
	MSG_ERROR, /* the file cannot run: exit 2 */
	MSG_WARN,  /* a warning, an error under -check (unknown keys...) */
	MSG_SOFT,  /* a warning even under -check: a notifier setting whose
		    * variable is unset (the CI host has it, a laptop not) */
	MSG_NOTE,  /* a deprecation: never an error, hidden by -threshold WARN */
};

static void __attribute__((format(printf, 4, 5)))
cfg_msg(enum sev sv, const char *file, const struct yaml_node *at, const char *fmt, ...)
{
	static const char *const word[] = { "", "warning: ", "warning: ", "note: " };
	struct buf b = { 0 };
	va_list ap;
	int r;

	if (sv == MSG_NOTE && opt.threshold > L_INFO)
		return;
	if (at)
		xprintf(&b, "%s:%d:%d: %s", file, at->line, at->col, word[sv]);
	else
		xprintf(&b, "%s: %s", file, word[sv]);
	va_start(ap, fmt);
	r = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r < 0)
		fatal("out of memory");
	/* what a commit status can say (word[MSG_ERROR] is "") */
	if (sv == MSG_ERROR && !cfg.first_error[0])
		snprintf(cfg.first_error, sizeof cfg.first_error, "%s", b.data);
	diag(sv == MSG_ERROR, b.data);
	buf_free(&b);
	if (sv == MSG_ERROR || (sv == MSG_WARN && opt.check))
		cfg.errors++;
}

#define cerr(c, at, ...)  cfg_msg(MSG_ERROR, (c)->file, (at), __VA_ARGS__)
#define cwarn(c, at, ...) cfg_msg(MSG_WARN, (c)->file, (at), __VA_ARGS__)
#define csoft(c, at, ...) cfg_msg(MSG_SOFT, (c)->file, (at), __VA_ARGS__)
#define cnote(c, at, ...) cfg_msg(MSG_NOTE, (c)->file, (at), __VA_ARGS__)

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

/* Warn about key k unknown in a context whose keys are the word list
 * known (see word_find). */
static void
unknown_key(struct ctx *c, const struct yaml_node *k, const char *where, const char *known)
{
	const char *best = NULL;
	size_t bd = 3, d;

	for (; *known; known = word_next(known))
		if ((d = edit_distance(k->text, known)) < bd)
			bd = d, best = known;
	if (best)
		cwarn(c, k, "unknown key \"%s\" in %s (did you mean \"%s\"?)", k->text, where,
			best);
	else
		cwarn(c, k, "unknown key \"%s\" in %s", k->text, where);
}

/* Key k's word in the list known, or NULL after a warning that it is
 * unknown there. */
static const char *
known_key(struct ctx *c, const struct yaml_node *k, const char *where, const char *known)
{
	const char *w = word_find(known, k->text);

	if (!w)
		unknown_key(c, k, where, known);
	return w;
}

/* A tag on a pipeline value is an error unless it is a core-schema tag
 * (!!str, !!int, ...) or "!": "command: !vault x" or GitLab's "!reference
 * [...]" mean something walter does not do, so it must not run the text.
 * So is a NUL in any key or value. Reports the first such tag or NUL in
 * file's tree and returns 1. */
static int
tag_check(const char *file, const struct yaml_node *n, int depth)
{
	static const char yamlorg[] = "tag:yaml.org,2002:";
	static const char why[] = "walter does not resolve tags: write the value itself";
	const char *t = n->tagname;
	size_t i;

	if (n->kind == YAML_SCALAR && memchr(n->text, '\0', n->len)) {
		/* every string becomes a C string: "echo a\0b; rm x" would run
		 * "echo a" */
		cfg_msg(MSG_ERROR, file, n, "a string cannot hold a NUL character (\\0)");
		return 1;
	}
	if (n->tag > YAML_TAG_SEQ) {
		if (!strncmp(t, yamlorg, sizeof yamlorg - 1))
			cfg_msg(MSG_ERROR, file, n, "tag !!%s is not supported (%s)",
				t + sizeof yamlorg - 1, why);
		else
			cfg_msg(MSG_ERROR, file, n, "tag %s%s%s is not supported (%s)",
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
		} else {
			cfg_msg(c->secret ? MSG_SOFT : MSG_WARN, c->file, at,
				"NO environment variable: $%s", name);
		}
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

/* One key=value of wait_for; -1 when the value was bad (reported). */
static int
wait_set(struct ctx *c, struct waitfor *w, const struct yaml_node *at, const char *key,
	const char *val)
{
	char *end;

	if (!strcmp(key, "host")) {
		w->host = val;
	} else if (!strcmp(key, "file")) {
		w->file = val;
	} else if (!strcmp(key, "state")) {
		w->state = val;
	} else if (!strcmp(key, "port")) {
		errno = 0;
		w->port = strtol(val, &end, 10);
		if (errno || end == val || *end || w->port < 1 || w->port > 65535) {
			cerr(c, at, "wait_for: port must be a number from 1 to 65535, not \"%s\"",
				val);
			return -1;
		}
	} else if (!strcmp(key, "delay")) {
		errno = 0;
		w->delay = strtod(val, &end);
		if (errno || end == val || *end || !isfinite(w->delay)) {
			cerr(c, at, "wait_for: delay must be a number of seconds, not \"%s\"", val);
			return -1;
		}
	} else if (!strcmp(key, "timeout")) {
		if ((w->timeout = parse_duration(val)) < 0) {
			cerr(c, at,
				"wait_for: timeout must be a duration like 30, 30s or 5m, not \"%s\"",
				val);
			return -1;
		}
	} else {
		cerr(c, at, "No wait_for property such as: %s", key);
		return -1;
	}
	return 0;
}

/* The D2 rules and messages, checked at load time; after a bad value
 * (bad) only the state word is still checked, so that each mistake is
 * reported once, not again as a rule it breaks. */
static void
wait_check(struct ctx *c, struct waitfor *w, const struct yaml_node *at, int bad)
{
	static const char states[] = "present, ready, absent or unready";
	const char *st = w->state, *msg = NULL;

	if (bad)
		;
	else if (w->port && w->file)
		msg = "wait_for: cannot use port and file at the same time";
	else if (w->port && w->delay)
		msg = "wait_for: cannot use port and delay at the same time";
	else if (w->file && w->delay)
		msg = "wait_for: cannot use file and delay at the same time";
	else if (w->delay < 0)
		msg = "wait_for: delay must be positive";
	else if (w->port && !w->host)
		msg = "wait_for: cannot use port without host";
	else if (w->host && !w->port)
		msg = "wait_for: cannot use host without port";
	if (msg) {
		cerr(c, at, "%s", msg);
		return;
	}
	if (st && (!strcmp(st, "present") || !strcmp(st, "ready")))
		w->want = W_PRESENT;
	else if (st && (!strcmp(st, "absent") || !strcmp(st, "unready")))
		w->want = W_ABSENT;
	else if (st && w->delay == 0)
		cerr(c, at, "wait_for: state does not support %s (use %s)", st, states);
	else if (!st && !bad && (w->host || w->port || w->file))
		cerr(c, at, "wait_for: a %s check needs a state (%s)", w->file ? "file" : "port",
			states);
	w->set = 1;
}

static void
wait_parse(struct ctx *c, struct waitfor *w, const struct yaml_node *v)
{
	static const char known[] = "host\0port\0file\0state\0delay\0timeout\0";
	size_t i, n;
	int bad = 0;

	memset(w, 0, sizeof *w);
	if (v->kind == YAML_SCALAR) {
		char *s = (char *)subst(c, v, v->text), *tok, *save = NULL;
		if (s == v->text)
			s = astrdup(s);
		for (tok = strtok_r(s, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			char *eq = strchr(tok, '=');
			if (!eq || !eq[1] || eq == tok || strchr(eq + 1, '=')) {
				cerr(c, v, "Given segment does not have two segments: %s", tok);
				bad = 1;
				continue;
			}
			*eq = '\0';
			bad |= wait_set(c, w, v, tok, eq + 1) < 0;
		}
	} else if (v->kind == YAML_MAP) {
		struct kv *kv = pairs(c, v, &n);
		for (i = 0; i < n; i++) {
			const char *val;
			if (!known_key(c, kv[i].k, "wait_for", known))
				continue;
			if ((val = str_val(c, kv[i].k, kv[i].v)))
				bad |= wait_set(c, w, kv[i].v, kv[i].k->text,
					       subst(c, kv[i].v, val)) < 0;
			else
				bad = 1;
		}
		free(kv);
	} else {
		cerr(c, v,
			"wait_for must be a string like \"host=h port=80 state=ready\" or a mapping");
		return;
	}
	if (strstr(v->kind == YAML_SCALAR ? v->text : "", "__OUT["))
		cerr(c, v, "special variables are not available in wait_for");
	wait_check(c, w, v, bad);
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
	const struct yaml_node *shell_key; /* the 0.x README's shell_script: FILE */
	struct strv fileenv;               /* its env_file */
};

static const char stage_keys[] = "name\0stage_name\0type\0stage_type\0command\0file\0"
				 "directory\0only_if\0wait_for\0report_full_output\0"
				 "suppress_all\0message\0parallel\0run_after\0serial\0"
				 "include\0call\0timeout\0retry\0retry_delay\0env\0"
				 "description\0env_file\0shell_script\0keep_running\0shell\0";

/* A deprecated key or word: a note (not an error, even under -check),
 * once per run for each. */
static void
deprecated(struct ctx *c, const struct yaml_node *k, const char *use)
{
	static const char *const old[] = { "stage_name", "stage_type", "run_after", "shell_script",
		NULL };
	static char said[5];
	int i;

	for (i = 0; old[i] && strcmp(old[i], k->text); i++)
		;
	if (!said[i]++)
		cnote(c, k, "\"%s\" is deprecated, please use %s instead", k->text, use);
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

/* ---- env_file: dotenv lines ---------------------------------------- */

/* Add NAME=VALUE to v, replacing an entry of the same NAME. */
static void
strv_set(struct strv *v, char *kv)
{
	size_t i, l = strcspn(kv, "=") + 1;

	for (i = 0; i < v->n; i++)
		if (!strncmp(v->v[i], kv, l)) {
			v->v[i] = kv;
			return;
		}
	v->v = xreallocarray(v->v, v->n + 1, sizeof *v->v);
	v->v[v->n++] = kv;
}

/* Reading an env file: where the reader is. */
struct dotenv {
	const char *file;    /* for messages */
	const char *p, *end; /* the text left */
	const char *ls;      /* where the current line starts */
	int line;            /* its number */
};

static void __attribute__((format(printf, 3, 4)))
dotenv_err(struct dotenv *d, const char *at, const char *fmt, ...)
{
	struct yaml_node n = { 0 };
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	n.line = d->line, n.col = (int)(at - d->ls) + 1;
	cfg_msg(MSG_ERROR, d->file, &n, "%s", msg);
}

static void
dotenv_blanks(struct dotenv *d, int cr)
{
	while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || (cr && *d->p == '\r')))
		d->p++;
}

/* On to the start of the next line. */
static void
dotenv_next(struct dotenv *d)
{
	const char *nl = memchr(d->p, '\n', (size_t)(d->end - d->p));

	d->p = nl ? nl + 1 : d->end;
	d->line++, d->ls = d->p;
}

/* A value in quotes: literal between single quotes; between double
 * quotes \n \r \t \" \\ are escapes (other backslashes stay). It may
 * span lines. 0, or -1 (reported) when the file ends first. */
static int
dotenv_quoted(struct dotenv *d, struct buf *val)
{
	static const char esc[] = "nrt\"\\", out[] = "\n\r\t\"\\";
	const char *q = d->p++, *qls = d->ls, *e;
	int qline = d->line;

	for (; d->p < d->end && *d->p != *q; d->p++) {
		if (*d->p == '\n')
			d->line++, d->ls = d->p + 1;
		if (*q == '"' && *d->p == '\\' && d->p + 1 < d->end && d->p[1] &&
			(e = strchr(esc, d->p[1]))) {
			xput(val, out + (e - esc), 1);
			d->p++;
			continue;
		}
		xput(val, d->p, 1);
	}
	if (d->p == d->end) {
		d->line = qline, d->ls = qls;
		dotenv_err(d, q, "the quote is not closed");
		return -1;
	}
	d->p++;
	dotenv_blanks(d, 1);
	if (d->p < d->end && *d->p != '\n' && *d->p != '#') {
		dotenv_err(d, d->p, "unexpected text after the closing quote");
		return 1;
	}
	return 0;
}

/* The value after "NAME=": 0, 1 when the line is bad, -1 to stop. An
 * unquoted value ends at a newline or " #" and is trimmed. */
static int
dotenv_value(struct dotenv *d, struct buf *val)
{
	const char *vs = d->p, *ve;

	val->len = 0;
	if (d->p < d->end && (*d->p == '"' || *d->p == '\''))
		return dotenv_quoted(d, val);
	while (d->p < d->end && *d->p != '\n' &&
		!(*d->p == '#' && d->p > vs && (d->p[-1] == ' ' || d->p[-1] == '\t')))
		d->p++;
	for (ve = d->p; ve > vs && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r');)
		ve--;
	xput(val, vs, (size_t)(ve - vs));
	return 0;
}

/* Parse the text of env file `file` into out, as dotenv tools read it:
 * blank lines and # comments skipped, an optional "export " prefix,
 * NAME = VALUE (dotenv_value). A NAME set in walter's environment keeps
 * that value, as with dotenv tools. Problems are located errors in the
 * env file. */
static void
dotenv_parse(const char *file, const char *s, size_t len, struct strv *out)
{
	struct dotenv d = { file, s, s + len, s, 1 };
	struct buf val = { 0 }, kv = { 0 };
	const char *k;
	int r = 0;

	for (; d.p < d.end && r >= 0; dotenv_next(&d)) {
		dotenv_blanks(&d, 1);
		if (d.end - d.p > 6 && !memcmp(d.p, "export", 6) &&
			(d.p[6] == ' ' || d.p[6] == '\t'))
			d.p += 6, dotenv_blanks(&d, 0);
		if (d.p == d.end || *d.p == '\n' || *d.p == '#')
			continue;
		for (k = d.p; d.p < d.end && (isalnum((unsigned char)*d.p) || *d.p == '_'); d.p++)
			;
		kv.len = 0;
		xput(&kv, k, (size_t)(d.p - k));
		dotenv_blanks(&d, 0);
		if (!kv.len || isdigit((unsigned char)*k)) {
			dotenv_err(&d, k, "expected NAME=VALUE (NAME: letters, digits, _)");
			continue;
		}
		if (d.p == d.end || *d.p != '=') {
			dotenv_err(&d, d.p, "expected \"=\" after the name");
			continue;
		}
		d.p++;
		dotenv_blanks(&d, 0);
		if ((r = dotenv_value(&d, &val)) != 0)
			continue;
		if (val.len && memchr(val.data, '\0', val.len)) {
			dotenv_err(&d, k, "the value of %s holds a NUL byte", kv.data);
			continue;
		}
		if (getenv(kv.data)) /* walter's environment wins */
			continue;
		if (secret_name(kv.data, kv.len))
			secret_add(val.data ? val.data : "");
		xput(&kv, "=", 1);
		xput(&kv, val.data ? val.data : "", val.len);
		strv_set(out, astrndup(kv.data, kv.len));
	}
	buf_free(&val);
	buf_free(&kv);
}

/* env_file: a path or a list of paths (relative to walter's directory,
 * $VAR substituted), read in order into out. */
static void
env_file(struct ctx *c, const struct yaml_node *v, struct strv *out)
{
	size_t i, nv = v->kind == YAML_SEQ ? v->n : 1;

	if (v->kind == YAML_MAP) {
		cerr(c, v, "\"env_file\" must be a file path or a list of them");
		return;
	}
	for (i = 0; i < nv; i++) {
		const struct yaml_node *f = v->kind == YAML_SEQ ? v->child[i] : v;
		struct buf in = { 0 };
		const char *path;
		if (f->kind != YAML_SCALAR || !f->len) {
			cerr(c, f, "\"env_file\" must be a file path or a list of them");
			continue;
		}
		path = subst(c, f, f->text);
		if (read_file(path, &in) < 0)
			cerr(c, f, "env_file %s: %s", path, strerror(errno));
		else
			dotenv_parse(astrdup(path), in.data ? in.data : "", in.len, out);
		buf_free(&in);
	}
}

/* A task's environment: the top-level env_file, its own env_file, then
 * its env, each replacing names of the one before. */
static void
env_compose(struct ctx *c, struct stagedef *sd)
{
	struct node *t = sd->t;
	struct strv v = { 0 };
	size_t i;

	if (!c->topenv.n && !sd->fileenv.n)
		return;
	for (i = 0; i < c->topenv.n; i++)
		strv_set(&v, c->topenv.v[i]);
	for (i = 0; i < sd->fileenv.n; i++)
		strv_set(&v, sd->fileenv.v[i]);
	for (i = 0; t->env && t->env[i]; i++)
		strv_set(&v, t->env[i]);
	t->env = amalloc((v.n + 1) * sizeof *t->env);
	if (v.n)
		memcpy(t->env, v.v, v.n * sizeof *t->env);
	free(v.v);
	free(sd->fileenv.v);
	sd->fileenv.v = NULL, sd->fileenv.n = 0;
}

/* The keys of a stage/task that only set an option of its task. */
static void
stage_opt(struct ctx *c, struct stagedef *sd, const struct yaml_node *k, const struct yaml_node *v)
{
	struct node *t = sd->t;
	const char *key = k->text;

	if (!strcmp(key, "shell_script")) { /* the 0.x README's shell stage */
		deprecated(c, k, "\"type: shell\" and \"file\"");
		if (!t->script)
			t->script = str_val(c, k, v);
		sd->shell_key = k;
	} else if (!strcmp(key, "description")) {
		t->desc = str_val(c, k, v);
	} else if (!strcmp(key, "env_file")) {
		env_file(c, v, &sd->fileenv);
	} else if (!strcmp(key, "report_full_output")) {
		t->report_full = bool_val(c, k, v);
	} else if (!strcmp(key, "suppress_all")) {
		t->suppress_all = bool_val(c, k, v);
	} else if (!strcmp(key, "message")) {
		t->message = bool_val(c, k, v);
		cfg.message_mode = 1;
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
	} else if (!strcmp(key, "shell")) {
		t->shell = bool_val(c, k, v);
	}
}

/* One key of a stage/task mapping into sd. */
static void
stage_key(struct ctx *c, struct stagedef *sd, const struct yaml_node *k, const struct yaml_node *v)
{
	struct node *t = sd->t;
	const char *key = k->text;

	if (!known_key(c, k, c->format == FMT_BUILD_DEPLOY ? "a task" : "a stage", stage_keys))
		return;
	if (is_null(v) && strcmp(key, "command")) {
		cwarn(c, k, "stage option \"%s\" is not specified", key);
		return;
	}
	if (!strcmp(key, "name") || !strcmp(key, "stage_name")) {
		if (key[0] == 's')
			deprecated(c, k, "\"name\"");
		if (key[0] == 'n' || !t->name)
			t->name = str_val(c, k, v);
	} else if (!strcmp(key, "type") || !strcmp(key, "stage_type")) {
		if (key[0] == 's')
			deprecated(c, k, "\"type\"");
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
	} else if (!strcmp(key, "parallel") || !strcmp(key, "run_after") ||
		!strcmp(key, "serial")) {
		if (!strcmp(key, "run_after"))
			deprecated(c, k, "\"parallel\"");
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
	} else {
		stage_opt(c, sd, k, v);
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
	const char *ty = sd->type && sd->type->kind == YAML_SCALAR ? sd->type->text
		: sd->shell_key                                    ? "shell"
								   : "command";

	if (sd->type && sd->type->kind != YAML_SCALAR)
		cerr(c, sd->type, "\"type\" must be command or shell");
	else if (!strcmp(ty, "shell") || !strcmp(ty, "shell_script")) {
		if (!strcmp(ty, "shell_script"))
			deprecated(c, sd->type, "\"shell\"");
		if (!t->script)
			cerr(c, sd->type, "a shell stage needs \"file\" (the script to run)");
		if (t->command || t->argv)
			cwarn(c, sd->type,
				"\"command\" is ignored in a shell stage (it runs \"file\")");
		t->command = NULL, t->argv = NULL;
	} else if (strcmp(ty, "command")) {
		cerr(c, sd->type, "No specified stage type: '%s' (use command or shell)", ty);
	} else if (t->script) {
		cwarn(c, sd->type, "\"%s\" is only used by shell stages",
			sd->shell_key ? "shell_script" : "file");
		t->script = NULL;
	}
	if (t->script && t->script[0] != '/' && t->dir && *t->dir) {
		/* the script is found from walter's directory, as the original
		 * did, while it runs in "directory" */
		char cwd[PATH_MAX];
		struct buf b = { 0 };
		if (getcwd(cwd, sizeof cwd))
			xprintf(&b, "%s/%s", strcmp(cwd, "/") ? cwd : "", t->script);
		t->script_at = b.data ? astrndup(b.data, b.len) : t->script;
		buf_free(&b);
	} else {
		t->script_at = t->script;
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
	env_compose(c, &sd);
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
		g->desc = t->desc;
		if (d2) { /* walter 2: parallel and serial win over command */
			if (t->command || t->argv || t->script)
				cwarn(c, m,
					"\"command\" is ignored: \"%s\" is a %s group (as in walter 2)",
					t->name, sd.kidkind == N_PAR ? "parallel" : "serial");
			if (t->only_if || t->wait.set || t->timeout > 0 || t->keep)
				cwarn(c, m,
					"only_if, wait_for, timeout and keep_running apply to tasks, not to the group \"%s\"",
					t->name);
			return g;
		}
	}
	s = new_node(c, N_SEQ, t->name, m);
	s->desc = t->desc;
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
	diag(1, err);
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

static void include(struct ctx *c, const struct yaml_node *pathv, struct vec *out);

/* An include entry with a name (walter 2 accepted one): the included
 * tasks as a serial group of that name, so the log says where they are. */
static void
include_named(
	struct ctx *c, const struct yaml_node *item, const struct yaml_node *pathv, struct vec *out)
{
	const struct yaml_node *nm = yaml_get(item, "name"), *ds = yaml_get(item, "description");
	struct kv *kv;
	size_t i, n;
	struct node *g;
	struct vec v = { 0 };

	kv = pairs(c, item, &n);
	for (i = 0; i < n; i++)
		if (strcmp(kv[i].k->text, "include") && strcmp(kv[i].k->text, "name") &&
			strcmp(kv[i].k->text, "description"))
			cerr(c, kv[i].k,
				"\"include\" takes only \"name\" and \"description\" beside it, not \"%s\"",
				kv[i].k->text);
	free(kv);
	if (!nm) {
		include(c, pathv, out);
		return;
	}
	g = new_node(c, N_SEQ, str_val(c, nm, nm), item);
	g->logged = c->format == FMT_BUILD_DEPLOY;
	if (ds)
		g->desc = str_val(c, ds, ds);
	if (!g->name)
		g->name = "include";
	include(c, pathv, &v);
	adopt(g, &v);
	vec_add(out, g);
}

/* Splice the tasks of the file pathv names into out. */
static void
include(struct ctx *c, const struct yaml_node *pathv, struct vec *out)
{
	struct buf in = { 0 };
	const char *path, *saved = c->file;
	char real[PATH_MAX];
	const struct yaml_node *root;
	const struct incl *inc;
	struct incl *add;
	size_t i;
	int bad;

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
			include_named(c, e, inc, out);
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
			cfg_msg(MSG_ERROR, file, root,
				"a required file needs \"namespace\" (a name) and \"stages\" (a list)");
			continue;
		}
		for (j = 0; j < st->n; j++) {
			const struct yaml_node *e = st->child[j], *d, *nm;
			struct buf key = { 0 };
			d = e->kind == YAML_MAP && e->n == 2 ? e->child[1] : NULL;
			nm = d && d->kind == YAML_MAP ? yaml_get(d, "name") : NULL;
			if (!nm || nm->kind != YAML_SCALAR) {
				cfg_msg(MSG_ERROR, file, e,
					"each stage definition must be \"def:\" with a \"name\"");
				continue;
			}
			if (yaml_get(d, "call"))
				cfg_msg(MSG_ERROR, file, d,
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
	"exec", "github_status", "gitlab_status", "discord", "teams", "mattermost", "googlechat",
	NULL };

/* The keys each type reads. fake takes anything: it is what people write
 * while a real notifier is switched off, with its settings still there.
 * The commit status types post the run's start and end whatever happens:
 * on, summary and suppress mean nothing to them. */
#define NT_COMMON "type\0on\0summary\0timeout\0suppress\0"
#define NT_STATUS                                                                                  \
	"type\0timeout\0tls_proxy\0sha\0token\0api_url\0target_url\0description\0"                 \
	"per_task\0"
#define NT_CHAT NT_COMMON "tls_proxy\0url\0"
static const char *const nt_known[NT_NTYPES] = {
	[NT_FAKE] = "",
	[NT_SLACK] = NT_CHAT "channel\0username\0icon\0icon_url\0",
	[NT_HIPCHAT] = NT_COMMON "tls_proxy\0room_id\0token\0from\0base_url\0color\0",
	[NT_HIPCHAT2] = NT_COMMON "tls_proxy\0room_id\0token\0from\0base_url\0color\0",
	[NT_WEBHOOK] = NT_CHAT,
	[NT_EXEC] = NT_COMMON "command\0",
	[NT_GITHUB_STATUS] = NT_STATUS "repo\0context\0",
	[NT_GITLAB_STATUS] = NT_STATUS "project\0name\0",
	[NT_DISCORD] = NT_CHAT "username\0avatar_url\0",
	[NT_TEAMS] = NT_CHAT,
	[NT_MATTERMOST] = NT_CHAT "channel\0username\0icon\0icon_url\0",
	[NT_GOOGLECHAT] = NT_CHAT,
};
/* Settings without which a type cannot send anything (the commit status
 * types: see nt_status, which knows their defaults). */
static const char *const nt_needs[NT_NTYPES] = {
	[NT_FAKE] = "",
	[NT_SLACK] = "url\0",
	[NT_HIPCHAT] = "room_id\0token\0",
	[NT_HIPCHAT2] = "room_id\0token\0",
	[NT_WEBHOOK] = "url\0",
	[NT_EXEC] = "command\0",
	[NT_GITHUB_STATUS] = "",
	[NT_GITLAB_STATUS] = "",
	[NT_DISCORD] = "url\0",
	[NT_TEAMS] = "url\0",
	[NT_MATTERMOST] = "url\0",
	[NT_GOOGLECHAT] = "url\0",
};
/* Does the notifier post commit statuses (not messages)? */
static int
is_status(const struct notifier *nt)
{
	return nt->kind == NT_GITHUB_STATUS || nt->kind == NT_GITLAB_STATUS;
}

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
		char where[64];
		snprintf(where, sizeof where, "a %s notifier", nt->type);
		if (!known_key(c, k, where, nt_known[nt->kind]))
			return;
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
	} else if (!strcmp(key, "per_task")) {
		nt->per_task = bool_val(c, k, v);
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

	if (!tok || !room) /* nt_check switched such a notifier off */
		tok = tok ? tok : "", room = room ? room : "";
	switch (nt->kind) {
	case NT_DISCORD:
	case NT_TEAMS:
	case NT_MATTERMOST:
	case NT_GOOGLECHAT:
		nt->url = nt_get(nt, "url");
		nt->ctype = nt->kind == NT_GOOGLECHAT ? "application/json; charset=UTF-8"
						      : "application/json";
		break;
	case NT_GITHUB_STATUS:
	case NT_GITLAB_STATUS:
		break; /* nt_status built it */
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
			nt->kind == NT_HIPCHAT || nt->kind == NT_HIPCHAT2 ? "base_url"
				: nt->context                             ? "api_url"
									  : "url",
			nt->type, err);
		return;
	}
	xprintf(&b, strchr(u.host, ':') ? "[%s]:%s" : "%s:%s", u.host, u.port);
	nt->where = astrndup(b.data, b.len);
	buf_free(&b);
	url_free(&u);
	if (nt->kind == NT_HIPCHAT2) {
		xprintf(&b, "Authorization: Bearer %s", tok);
		nt->hdr[0] = astrndup(b.data, b.len);
		buf_free(&b);
		if (strpbrk(tok, "\r\n"))
			cerr(c, m, "the token of this hipchat2 notifier contains a line break");
	}
}

/* ---- commit status notifiers: settings and their CI defaults ------- */

/* git_run's flags: */
enum {
	GIT_QUIET = 1, /* what git printed is not logged */
	GIT_KEEP = 2,  /* a signal does not stop it (putting HEAD back) */
};
static int git_run(const char *const *argv, struct buf *out, double timeout, int how, char *why,
	size_t whylen);

/* A full commit SHA: 40 (SHA-1) or 64 (SHA-256) hex digits, lower-cased
 * in place. */
static int
is_sha(char *s)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF");

	if (s[n] || (n != 40 && n != 64))
		return 0;
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	return 1;
}

/* The commit of the work tree walter runs in; NULL with a reason. */
static char *
head_sha(char *why, size_t n)
{
	static const char *const argv[] = { "git", "rev-parse", "--verify", "-q", "HEAD", NULL };
	struct buf out = { 0 };
	char *r = NULL;

	if (git_run(argv, &out, 10, GIT_QUIET, why, n) == 0 && out.len) {
		out.data[strcspn(out.data, "\r\n")] = '\0';
		if (is_sha(out.data))
			r = astrdup(out.data);
	}
	if (!r && !*why)
		snprintf(why, n, "no commit checked out here");
	buf_free(&out);
	return r;
}

/* A setting as written (not empty), else the first of vars[] that is
 * set; its origin goes onto src ("token from $GITHUB_TOKEN"). NULL if
 * none. */
static const char *
status_setting(const struct notifier *nt, const char *key, const char *const *vars, struct buf *src)
{
	const char *v = nt_get(nt, key), *e;
	size_t i;

	if (v && *v)
		return v;
	for (i = 0; vars[i]; i++)
		if ((e = getenv(vars[i])) && *e) {
			xprintf(src, "%s%s from $%s", src->len ? ", " : "", key, vars[i]);
			return astrdup(e);
		}
	return NULL;
}

/* ", $A or $B" for a message. */
static void
put_vars(struct buf *b, const char *const *vars)
{
	size_t i;

	for (i = 0; vars[i]; i++)
		xprintf(b, "%s$%s", i ? " or " : ", or ", vars[i]);
}

/* "a github_status notifier needs \"token\": set it, or $GITHUB_TOKEN" */
static void
status_missing(struct ctx *c, struct notifier *nt, const struct yaml_node *m, const char *key,
	const char *const *vars, const char *more)
{
	struct buf b = { 0 };

	put_vars(&b, vars);
	cerr(c, m, "a %s notifier needs \"%s\": set it%s%s", nt->type, key, b.data ? b.data : "",
		more ? more : "");
	buf_free(&b);
	nt->off = 1;
}

/* github_status and gitlab_status: every setting from the file or the CI
 * environment, checked, and the request built once:
 *   POST {api_url}/repos/{repo}/statuses/{sha}       (GitHub)
 *   POST {api_url}/projects/{project}/statuses/{sha} (GitLab) */
static void
nt_status(struct ctx *c, struct notifier *nt, const struct yaml_node *m)
{
	static const char *const gh_repo[] = { "GITHUB_REPOSITORY", NULL };
	static const char *const gh_sha[] = { "GITHUB_SHA", "GIT_COMMIT", NULL };
	static const char *const gh_tok[] = { "GITHUB_TOKEN", NULL };
	static const char *const gh_api[] = { "GITHUB_API_URL", NULL };
	static const char *const gh_url[] = { "BUILD_URL", NULL };
	static const char *const gl_proj[] = { "CI_PROJECT_ID", NULL };
	static const char *const gl_sha[] = { "CI_COMMIT_SHA", NULL };
	static const char *const gl_api[] = { "CI_API_V4_URL", NULL };
	static const char *const gl_url[] = { "CI_JOB_URL", "BUILD_URL", NULL };
	static const char *const none[] = { NULL };
	int gl = nt->kind == NT_GITLAB_STATUS;
	const char *repo, *tok, *api, *slash = NULL;
	char *sha, why[256] = "";
	struct buf src = { 0 }, b = { 0 }, more = { 0 };
	size_t n;

	repo = status_setting(nt, gl ? "project" : "repo", gl ? gl_proj : gh_repo, &src);
	sha = (char *)status_setting(nt, "sha", gl ? gl_sha : gh_sha, &src);
	tok = status_setting(nt, "token", gl ? none : gh_tok, &src);
	api = status_setting(nt, "api_url", gl ? gl_api : gh_api, &src);
	nt->target = status_setting(nt, "target_url", gl ? gl_url : gh_url, &src);
	nt->context = nt_get(nt, gl ? "name" : "context");
	if (!nt->context || !*nt->context)
		nt->context = "walter";
	nt->desc = nt_get(nt, "description");
	if (nt->desc && !*nt->desc)
		nt->desc = NULL;
	if (!repo)
		status_missing(c, nt, m, gl ? "project" : "repo", gl ? gl_proj : gh_repo, NULL);
	if (!sha && (sha = head_sha(why, sizeof why)))
		xprintf(&src, "%ssha from git rev-parse HEAD", src.len ? ", " : "");
	if (!sha) {
		xprintf(&more, ", or run it in a git work tree (git rev-parse HEAD: %s)", why);
		status_missing(c, nt, m, "sha", gl ? gl_sha : gh_sha, more.data);
	} else if (!is_sha(sha = astrdup(sha))) {
		cerr(c, m, "\"sha\" of this %s notifier must be a full commit SHA (40 hex digits)",
			nt->type);
		nt->off = 1;
	}
	if (!tok)
		status_missing(c, nt, m, "token", gl ? none : gh_tok,
			gl ? " (a CI job token cannot post commit statuses)" : NULL);
	else if (strpbrk(tok, "\r\n"))
		cerr(c, m, "the token of this %s notifier contains a line break", nt->type),
			nt->off = 1;
	else
		secret_add(tok);
	if (repo && !gl &&
		(!(slash = strchr(repo, '/')) || slash == repo || !slash[1] ||
			strchr(slash + 1, '/'))) {
		cerr(c, m, "\"repo\" of this github_status notifier must be OWNER/NAME");
		nt->off = 1;
	}
	nt->sources = src.len ? astrndup(src.data, src.len) : NULL;
	if (!nt->off) {
		if (!api)
			api = gl ? "https://gitlab.com/api/v4" : "https://api.github.com";
		for (n = strlen(api); n && api[n - 1] == '/'; n--)
			;
		xput(&b, api, n);
		if (gl) {
			xputs(&b, "/projects/");
			if (url_put_segment(&b, repo, strlen(repo)) < 0)
				fatal("out of memory");
		} else {
			xputs(&b, "/repos/");
			if (url_put_segment(&b, repo, (size_t)(slash - repo)) < 0 ||
				buf_puts(&b, "/") < 0 ||
				url_put_segment(&b, slash + 1, strlen(slash + 1)) < 0)
				fatal("out of memory");
		}
		xprintf(&b, "/statuses/%s", sha);
		nt->url = astrndup(b.data, b.len);
		nt->ctype = "application/json";
		b.len = 0;
		xprintf(&b, gl ? "PRIVATE-TOKEN: %s" : "Authorization: Bearer %s", tok);
		nt->hdr[0] = astrndup(b.data, b.len);
		nt->hdr[1] = "User-Agent: walter/" WALTER_VERSION;
		if (!gl) {
			nt->hdr[2] = "Accept: application/vnd.github+json";
			nt->hdr[3] = "X-GitHub-Api-Version: 2022-11-28";
		}
	}
	buf_free(&src), buf_free(&b), buf_free(&more);
}

/* Per-type checks once every key is read. */
static void
nt_check(struct ctx *c, struct notifier *nt, const struct yaml_node *m, const struct kv *kv,
	size_t n)
{
	const char *need = nt_needs[nt->kind];
	const char *ch = nt_get(nt, "channel"), *tp = nt_get(nt, "tls_proxy");
	size_t j;

	for (; *need; need = word_next(need)) {
		const char *v = nt_get(nt, need);
		if (!v) {
			cerr(c, m, "a%s %s notifier needs \"%s\"", nt->kind == NT_EXEC ? "n" : "",
				nt->type, need);
			nt->off = 1;
		} else if (!*v) {
			for (j = 0; j < n && strcmp(kv[j].k->text, need); j++)
				;
			csoft(c, j < n ? kv[j].v : m,
				"\"%s\" of this %s notifier is empty (an unset variable?): it sends nothing",
				need, nt->type);
			nt->off = 1;
		}
	}
	if (nt->kind == NT_MATTERMOST) { /* a channel's handle, no '#' */
		nt->channel = ch && *ch ? ch : NULL;
	} else if (ch && *ch && ch[0] != '#' && ch[0] != '@') { /* @user: a direct message */
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
	if (nt->kind == NT_GITHUB_STATUS || nt->kind == NT_GITLAB_STATUS)
		nt_status(c, nt, m);
	if (!nt->off)
		nt_request(c, nt, m);
}

static void
nt_load(struct ctx *c, const struct yaml_node *m)
{
	struct notifier *nt;
	struct kv *kv;
	size_t i, n;
	int errors;
	const struct yaml_node *ty;

	if (m->kind != YAML_MAP) {
		cerr(c, m, "a notifier must be a mapping with a \"type\"");
		return;
	}
	if (!(ty = yaml_get(m, "type")) || ty->kind != YAML_SCALAR) {
		cerr(c, m,
			"a notifier needs a \"type\" (fake, slack, hipchat, hipchat2, webhook, exec, "
			"github_status, gitlab_status, discord, teams, mattermost, googlechat)");
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
	errors = cfg.errors;
	for (i = 0; i < n; i++)
		if (strcmp(kv[i].k->text, "type"))
			nt_key(c, nt, kv[i].k, kv[i].v);
	nt_check(c, nt, m, kv, n);
	nt->bad = cfg.errors != errors;
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

/* ---- the 1.x service block (run by -mode service) ----------------- */

/* Is s usable as a branch name in a refspec? (No option, no refspec or
 * revision syntax; git check-ref-format says the rest.) */
static int
branch_ok(const char *s)
{
	const char *p;

	if (!*s || *s == '-' || *s == '/' || strstr(s, ".."))
		return 0;
	for (p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr("~^:?*[\\", *p))
			return 0;
	return 1;
}

/* One setting of the service block: a string with $VARs substituted
 * (the values are secrets, as in notifiers, but the state file's path:
 * log lines name it). */
static const char *
svc_str(struct ctx *c, const struct yaml_node *k, const struct yaml_node *v)
{
	const char *s;

	if (is_null(v))
		return "";
	if (!(s = str_val(c, k, v)))
		return "";
	c->secret = strcmp(k->text, "update") != 0; /* a path is no credential */
	s = subst(c, v, s);
	c->secret = 0;
	return s;
}

/* Check one typed setting of the service block. */
static void
svc_key(struct ctx *c, const struct yaml_node *k, const struct yaml_node *v)
{
	const char *key = k->text, *s;
	char err[256];
	struct url u;

	if (!strcmp(key, "forks")) {
		svc.forks = bool_val(c, k, v);
		return;
	}
	s = svc_str(c, k, v);
	if (!strcmp(key, "token")) {
		svc.token = s, svc.token_line = v->line, svc.token_col = v->col;
		secret_add(s);
		if (strpbrk(s, "\r\n"))
			cerr(c, v, "the service's token contains a line break");
	} else if (!strcmp(key, "from")) {
		svc.from = s;
	} else if (!strcmp(key, "repo")) {
		svc.repo = s;
	} else if (!strcmp(key, "api_url") && *s) {
		if (url_parse(s, &u, err, sizeof err) < 0)
			cerr(c, v, "the service's api_url is not usable: %s", err);
		else
			url_free(&u);
		svc.api = s;
	} else if (!strcmp(key, "trunk") && *s) {
		if (!branch_ok(s))
			cerr(c, v, "\"trunk\" must be a branch name");
		svc.trunk = s;
	} else if (!strcmp(key, "branch") && *s) {
		if (strlen(v->text) != v->len)
			cerr(c, v, "\"branch\" contains a NUL byte");
		else if (re_compile(&svc.branch, s, err, sizeof err) < 0)
			cerr(c, v,
				"\"branch\" is not a usable regular expression (Go RE2 syntax): %s",
				err);
		else
			svc.has_branch = 1;
	} else if (!strcmp(key, "update") && *s) {
		svc.update = s, svc.uline = v->line, svc.ucol = v->col;
	} else if (!strcmp(key, "context") && *s) {
		svc.context = s;
	} else if (!strcmp(key, "target_url") && *s) {
		svc.target = s;
	} else if (!strcmp(key, "tls_proxy") && *s) {
		const char *colon = strrchr(s, ':');
		if (!colon || colon == s || !colon[1] ||
			strspn(colon + 1, "0123456789") != strlen(colon + 1))
			cerr(c, v, "\"tls_proxy\" must be host:port");
		svc.tls_proxy = s;
	}
}

/* service: type github or local, and its settings, checked now whatever
 * the mode (svc_ready checks what only a service run needs). */
static void
svc_load(struct ctx *c, const struct yaml_node *v)
{
	static const char known[] = "type\0token\0from\0repo\0api_url\0trunk\0branch\0"
				    "update\0context\0target_url\0forks\0tls_proxy\0";
	const struct yaml_node *ty, *k;
	struct kv *kv;
	size_t i, n;

	if (is_null(v))
		return;
	if (v->kind != YAML_MAP) {
		cerr(c, v, "\"service\" must be a mapping with a \"type\" (github or local)");
		return;
	}
	svc.present = 1, svc.file = c->file, svc.line = v->line, svc.col = v->col;
	svc.trunk = "master", svc.api = "https://api.github.com";
	svc.context = "continuous-integraion/walter"; /* sic: what 1.x posted */
	if (!(ty = yaml_get(v, "type")) || ty->kind != YAML_SCALAR)
		cerr(c, ty ? ty : v, "the service block needs a \"type\" (github or local)");
	else if (!strcmp(ty->text, "github"))
		svc.github = 1;
	else if (strcmp(ty->text, "local"))
		cerr(c, ty, "unknown service type \"%s\" (github or local)", ty->text);
	kv = pairs(c, v, &n);
	svc.names = amalloc((n + 1) * sizeof *svc.names);
	for (i = 0; i < n; i++) {
		const char *w = known_key(c, k = kv[i].k, "the service block", known);
		if (w)
			svc.names[svc.nnames++] = w;
		if (w && strcmp(w, "type"))
			svc_key(c, k, kv[i].v);
	}
	free(kv);
}

/* What a service run needs beyond what svc_load checked: the repository
 * and a token ($GITHUB_TOKEN by default). Errors go to cfg.errors. */
static void
svc_ready(void)
{
	struct yaml_node at = { .line = svc.line, .col = svc.col };
	const char *env = getenv("GITHUB_TOKEN");

	if (!svc.from || !*svc.from)
		cfg_msg(MSG_ERROR, svc.file, &at,
			"the service block needs \"from\" (the repository's owner)");
	if (!svc.repo || !*svc.repo)
		cfg_msg(MSG_ERROR, svc.file, &at,
			"the service block needs \"repo\" (the repository's name)");
	if (svc.token && *svc.token)
		;
	else if (env && *env)
		secret_add(env);
	else
		cfg_msg(MSG_ERROR, svc.file,
			svc.token_line ? &(struct yaml_node){ .line = svc.token_line,
						 .col = svc.token_col }
				       : &at,
			"the service block needs \"token\": set it, or $GITHUB_TOKEN");
	if (!strcmp(opt.config, "-"))
		cfg_msg(MSG_ERROR, svc.file, &at,
			"-mode service reads the pipeline of each checkout: -c - cannot be used");
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
	static const char known[] = "tasks\0cleanup\0";
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
	static const char known[] =
		"pipeline\0cleanup\0messenger\0notify\0service\0require\0env_file\0";
	const struct yaml_node *pl = NULL, *cl = NULL, *req, *ef;
	struct kv *kv;
	size_t i, n;

	if ((ef = yaml_get(root, "env_file")) && !is_null(ef))
		env_file(c, ef, &c->topenv);
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
		else if (!strcmp(k, "service"))
			svc_load(c, v);
		else if (strcmp(k, "require") && strcmp(k, "env_file"))
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
	static const char known[] = "build\0deploy\0notify\0messenger\0env_file\0";
	const struct yaml_node *b = NULL, *d = NULL, *ef;
	struct kv *kv;
	size_t i, n;

	if (root->kind == YAML_SEQ) {
		phase_load(c, &cfg.ph[0], "Build", root);
		phase_load(c, &cfg.ph[1], "Deploy", NULL);
		return;
	}
	if ((ef = yaml_get(root, "env_file")) && !is_null(ef))
		env_file(c, ef, &c->topenv);
	kv = pairs(c, root, &n);
	for (i = 0; i < n; i++) {
		const char *k = kv[i].k->text;
		if (!strcmp(k, "env_file"))
			continue;
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
		if (cfg.nt[i].kind != NT_FAKE && !is_status(&cfg.nt[i]) && !cfg.nt[i].off &&
			!cfg.nt[i].summary &&
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
		diag(1, err);
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
		cfg_msg(MSG_ERROR, c.file, root, "no pipeline, build or deploy section");
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
	free(c.docs), free(c.defs), free(c.stack), free(c.topenv.v), free(c.incl);
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

static void notify_load_error(void);

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
	if (errors) {
		reports_config_error();
		notify_load_error();
		exit(2);
	}
}

/* ==== 6. executor ================================================== */

/* Tasks start with vfork where the kernel has it (Linux): the parent
 * sleeps until the child has exec'd, with no copy of walter's page
 * tables, and learns how the child's exec went from the memory they
 * share, with no pipe. Elsewhere, or with -DWALTER_FORK, fork. */
#if defined(__linux__) && !defined(WALTER_FORK)
#define WALTER_VFORK 1
pid_t vfork(void); /* declared for _GNU_SOURCE only */
#endif

/* The handler of INT, TERM, HUP and CHLD. A vfork child runs on walter's
 * memory until its exec, and signals are not blocked around the vfork:
 * there (another pid) it does nothing; what the signal meant reaches
 * walter too (a terminal's ^C), or concerned no one (SIGCHLD). */
static void
on_signal(int sig)
{
	int e = errno;
	unsigned char c = (unsigned char)sig;

	if (sig != SIGCHLD && getpid() != R.self) /* a vfork child has no child */
		return;
	if (sig != SIGCHLD) {
		R.sig = sig;
		R.nsig++;
	} else {
		R.chld = 1;
	}
	if (!R.woken) { /* one byte wakes the loop: no more until it is read */
		R.woken = 1;
		(void)!write(R.selfpipe[1], &c, 1);
	}
	errno = e;
}

static void
on_pipe(int sig)
{
	(void)sig;
}

/* Empty the self-pipe: a later signal writes to it again. */
static void
self_drain(void)
{
	char c[64];

	R.woken = 0;
	while (read(R.selfpipe[0], c, sizeof c) == (ssize_t)sizeof c)
		;
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

#ifdef __linux__
int pipe2(int p[2], int flags); /* declared for _GNU_SOURCE only */
#endif

/* A close-on-exec pipe: one system call where pipe2 exists. */
static int
xpipe(int p[2])
{
#ifdef __linux__
	return pipe2(p, O_CLOEXEC);
#else
	if (pipe(p) < 0)
		return -1;
	fcntl(p[0], F_SETFD, FD_CLOEXEC); /* new: no other fd flags to keep */
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
	return 0;
#endif
}

/* A pipe for a child's output: walter's read end non-blocking, the
 * child's write end blocking (O_NONBLOCK in pipe2 would set both). */
static int
out_pipe(int p[2])
{
	if (xpipe(p) < 0)
		return -1;
	fcntl(p[0], F_SETFL, O_NONBLOCK); /* new: no other status flags to keep */
	return 0;
}

/* ---- the descriptors the loop watches ------------------------------- */

/* With epoll a wake-up costs what is ready; poll(), the fallback where
 * there is no epoll (or when it fails: out of watches), costs every
 * watched descriptor. Either way R.watch says what an fd is for. */
static void ev_ready(int fd, unsigned gen);

#ifdef WALTER_EPOLL
/* From EPOLL_AT watched fds on, epoll: a sequential pipeline watches a
 * few fds, for which poll() costs less than two epoll_ctl calls per
 * pipe; a fan-out of thousands needs the wake-up that costs what is
 * ready. Once on, epoll stays for the run; where it fails, poll(). */
enum { EPOLL_AT = 32 };

/* epoll_ctl for fd, its events and watch generation in the event; out of
 * watches (an ADD or MOD fails): poll() from now on, and -1. */
static int
ep_ctl(int op, int fd, short events, unsigned gen)
{
	struct epoll_event e;

	memset(&e, 0, sizeof e);
	e.events = events == POLLOUT ? EPOLLOUT : EPOLLIN;
	e.data.u64 = (uint64_t)gen << 32 | (uint32_t)fd;
	if (epoll_ctl(R.epfd, op, fd, &e) == 0 || op == EPOLL_CTL_DEL)
		return 0;
	close(R.epfd);
	R.epfd = -1, R.epoll_off = 1;
	return -1;
}

static void
ev_epoll(void)
{
	size_t fd;

	if ((R.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		R.epoll_off = 1;
		return;
	}
	for (fd = 0; fd < R.nwatch; fd++)
		if (R.watch[fd].events &&
			ep_ctl(EPOLL_CTL_ADD, (int)fd, R.watch[fd].events, R.watch[fd].gen) < 0)
			return;
}
#endif

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
		w->gen++, R.nwatched += events ? 1 : -1;
#ifdef WALTER_EPOLL
	if (R.epfd >= 0 && (w->events || events) && w->events != events)
		ep_ctl(!events              ? EPOLL_CTL_DEL
				: w->events ? EPOLL_CTL_MOD
					    : EPOLL_CTL_ADD,
			fd, events, w->gen);
#endif
	w->kind = events ? kind : WK_NONE;
	w->n = events ? n : NULL;
	w->events = events;
#ifdef WALTER_EPOLL
	if (R.epfd < 0 && R.nwatched > EPOLL_AT && !R.epoll_off)
		ev_epoll();
#endif
}

/* Forget fd's watch without a system call (see fd_drop). */
static void
unwatch(int fd)
{
	struct watch *w;

	if ((size_t)fd < R.nwatch && (w = &R.watch[fd])->events)
		w->gen++, w->kind = WK_NONE, w->n = NULL, w->events = 0, R.nwatched--;
}

/* Stop watching *fd, close it, mark it closed. The close ends an epoll
 * watch by itself (an EPOLL_CTL_DEL would be one more system call per
 * pipe): no other descriptor refers to the file, but for an instant in a
 * child between fork and exec, whose stale events the new gen drops. */
static void
fd_drop(int *fd)
{
	if (*fd < 0)
		return;
	unwatch(*fd);
	close(*fd);
	*fd = -1;
}

/* Out of fds or processes: may come back when a running task ends. */
static int
shortage(int e)
{
	return e == EMFILE || e == ENFILE || e == EAGAIN || e == ENOMEM;
}

/* Two output pipes, or none (all -1) and -1. */
static int
new_pipes(int out[2], int err[2])
{
	if (out_pipe(out) == 0 && out_pipe(err) == 0)
		return 0;
	if (out[0] >= 0)
		close(out[0]), close(out[1]);
	out[0] = out[1] = err[0] = err[1] = -1;
	return -1;
}

/* The pipes of a start: the output ones and, while a child's memory may
 * be a copy (R.vfork_shares), one for the exec's result. Out of fds,
 * the PATH watch's are let go, and it tries once more. */
static int
spawn_fds(int out[2], int err[2], int ep[2])
{
	int tries, e;

	for (tries = 0;; tries++) {
		if (new_pipes(out, err) == 0) {
			if (R.vfork_shares > 0 || xpipe(ep) == 0)
				return 0;
			e = errno;
			close(out[0]), close(out[1]), close(err[0]), close(err[1]);
			out[0] = out[1] = err[0] = err[1] = -1;
			errno = e;
		}
		e = errno;
		if (tries || !shortage(e) || (!R.pw.wds.len && R.pw.mnt < 0))
			return -1;
		if (e == EMFILE || e == ENFILE)
			pw_stop();
	}
}

/* Wait at most ms (-1: no limit) and hand each ready fd to ev_ready. */
static void
ev_wait(int ms)
{
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
	if (R.npoll < R.nwatch) { /* kept from turn to turn */
		R.npoll = R.nwatch;
		R.pf = xreallocarray(R.pf, R.npoll, sizeof *R.pf);
		R.pgen = xreallocarray(R.pgen, R.npoll, sizeof *R.pgen);
	}
	for (i = 0; i < R.nwatch; i++)
		if (R.watch[i].events) {
			R.pf[n].fd = (int)i, R.pf[n].events = R.watch[i].events,
			R.pf[n].revents = 0;
			R.pgen[n++] = R.watch[i].gen;
		}
	if (poll(R.pf, n, ms) > 0)
		for (i = 0; i < n; i++)
			if (R.pf[i].revents)
				ev_ready(R.pf[i].fd, R.pgen[i]);
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

/* Where there is no /proc/self/fd: the descriptors to try, 3 up to
 * this (RLIMIT_NOFILE, what sysconf(_SC_OPEN_MAX) says, without its
 * 1 KiB in the static binary), at most 4096. */
static long
fd_limit(void)
{
	struct rlimit rl;

	return getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 ? (long)rl.rlim_cur : 4096;
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
	for (fd = 3, max = fd_limit(); fd < max; fd++)
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
		for (fd = 3, max = fd_limit(); fd < max; fd++)
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
 * SIGPIPE back to its default, which walter ignores for itself. */
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
	pid_t pid, ppid, pgrp, sid;
	char state; /* 'Z' zombie, 'T' stopped... */
};

/* pid's parent, group and state; -1 when it is gone (or no /proc). */
static int
proc_stat(pid_t pid, struct pinfo *pi)
{
	char path[64], b[1024], *p;
	int fd, ppid, pgrp, sid;
	ssize_t r;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	r = read(fd, b, sizeof b - 1);
	close(fd);
	if (r <= 0)
		return -1;
	b[r] = '\0';
	if (!(p = strrchr(b, ')')) ||
		sscanf(p + 1, " %c %d %d %d", &pi->state, &ppid, &pgrp, &sid) != 4)
		return -1;
	pi->pid = pid, pi->ppid = (pid_t)ppid, pi->pgrp = (pid_t)pgrp, pi->sid = (pid_t)sid;
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
 * holding the read end of a pipe from walter. The process groups walter
 * starts are bits in a table both share (R.gmap, one bit per process
 * id, in memory mapped before the fork): walter sets a group's bit when
 * it starts the group and clears it once the group is empty again, with
 * no message and no wake-up; it writes 'Q' when it ends cleanly. If the
 * pipe closes without 'Q', walter died (SIGKILL, a crash): the guardian
 * kills every member of the groups in the table (in walter's session: a
 * group that emptied without walter seeing it may have given its id to
 * someone else's new session) and every process with this run's mark
 * (WALTER_TASK_ID), except what keep_running tasks left, then exits. It
 * is in a group of its own and ignores the terminal's signals, holds no
 * other fd (and /dev/null on 0-2), and walter reaps it at the end. */
/* Process ids the guardian's table holds: Linux's limit (PID_MAX_LIMIT
 * on 64-bit kernels; 32-bit ones stop at 32768), 512 KiB reserved. */
#define GMAP_IDS ((size_t)4 << 20)

/* Is group g in the guardian's table? */
static int
guard_has(pid_t g)
{
	return g > 0 && (size_t)g < GMAP_IDS && (R.gmap[g / 8] >> (g % 8) & 1);
}

static void __attribute__((noreturn)) guardian(int fd)
{
	struct pinfo *all;
	size_t i, n, found = 1;
	int nul, k;
	pid_t sid = getsid(0);
	long num;
	char c = 0;
	ssize_t r;

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
	while ((r = read(fd, &c, 1)) > 0 || (r < 0 && errno == EINTR))
		if (c == 'Q')
			_exit(0);
	if (access("/proc/self", F_OK) < 0) /* no /proc: as far as group ids tell */
		for (i = 1; i < GMAP_IDS; i++)
			if (guard_has((pid_t)i))
				kill(-(pid_t)i, SIGKILL);
	for (k = 0; k < 100 && found && proc_all(&all, &n) == 0; k++) { /* 2 s at most */
		for (found = 0, i = 0; i < n; i++)
			if ((guard_has(all[i].pgrp) && all[i].sid == sid) ||
				(num = proc_mark(all[i].pid)) == 0 ||
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

/* Start the guardian; without one a SIGKILL of walter leaves tasks. The
 * table is reserved, not committed: a page is touched only where a
 * group id falls. */
static void
guard_start(void)
{
	int p[2];
	pid_t pid;
	void *m;

	fflush(NULL); /* nothing buffered is written twice */
	m = mmap(NULL, GMAP_IDS / 8, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || xpipe(p) < 0 || (pid = fork()) < 0) {
		warn("cannot start the guardian (a SIGKILL of walter would leave tasks running):");
		if (m != MAP_FAILED)
			munmap(m, GMAP_IDS / 8);
		return;
	}
	R.gmap = m;
	if (pid == 0)
		guardian(p[0]);
	close(p[0]);
	R.guard = pid, R.gfd = p[1];
}

/* Group g started (on) or is empty again (off): its bit in the table. */
static void
guard_mark(pid_t g, int on)
{
	if (!R.gmap || g <= 0 || (size_t)g >= GMAP_IDS)
		return;
	if (on)
		R.gmap[g / 8] |= (unsigned char)(1u << (g % 8));
	else
		R.gmap[g / 8] &= (unsigned char)~(1u << (g % 8));
}

/* The run ended cleanly: the guardian's 'Q', then it exits. */
static void
guard_end(void)
{
	int st, ok = 1;

	if (R.gfd >= 0) {
		write_all(R.gfd, "Q", 1, &ok); /* an empty pipe: it never blocks */
		fd_drop(&R.gfd);
	}
	if (R.guard > 0) {
		while (waitpid(R.guard, &st, 0) < 0 && errno == EINTR)
			;
		R.guard = 0;
	}
}

/* No inherited descriptor reaches a child; INT, TERM, HUP and CHLD are
 * noted (R.sig, R.nsig) and wake the loop through the self-pipe. */
static void
signals_setup(void)
{
	struct sigaction sa;
	sigset_t none;

	R.self = getpid();
	close_inherited();
	if (xpipe(R.selfpipe) < 0)
		fatal("pipe:");
	nonblock(R.selfpipe[0]);
	nonblock(R.selfpipe[1]);
	ev_set(R.selfpipe[0], WK_SELF, NULL, POLLIN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* SIGPIPE does nothing (a write to a closed pipe fails with EPIPE),
	 * as when ignored, but as a caught signal its exec puts it back to
	 * the default in every task by itself: no call in the child for it */
	sa.sa_handler = on_pipe;
	sigaction(SIGPIPE, &sa, NULL);
	/* a mask inherited from whoever started walter would hide these and
	 * pass on to every task: tasks start with walter's, empty */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void
exec_setup(void)
{
	char *sh;

	signals_setup();
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

/* ---- direct exec ----------------------------------------------------- */

/* A command string that sh -c would only split into words and exec runs
 * without the shell, as GNU make does: one exec instead of two. The rule
 * (README "Commands"): no character the shell treats specially outside
 * plain quotes, no backslash, $ or backquote inside double quotes, a
 * first word that is not an assignment, a reserved word or a builtin of
 * dash, bash or busybox sh, and a program found on an absolute PATH.
 * Anything else, and every exec that fails, goes to sh -c, so errors (127
 * not found, 126 not executable) are the shell's own. */

/* Outside quotes, each of these makes sh do more than split words. */
static const char sh_special[] = "|&;<>()$`\\*?[]#~{}!^\n";

/* Reserved words and builtins: sh runs these itself (a builtin's
 * output may differ from the program of that name: echo, pwd, kill). */
static const char sh_words[] =
	"!\0.\0:\0[\0[[\0]]\0{\0}\0alias\0bg\0bind\0break\0builtin\0caller\0case\0cd\0"
	"chdir\0command\0compgen\0complete\0compopt\0continue\0coproc\0declare\0dirs\0"
	"disown\0do\0done\0echo\0elif\0else\0enable\0esac\0eval\0exec\0exit\0export\0"
	"false\0fc\0fg\0fi\0for\0function\0getopts\0hash\0help\0history\0if\0in\0jobs\0"
	"kill\0let\0local\0login\0logout\0mapfile\0popd\0printf\0pushd\0pwd\0read\0"
	"readarray\0readonly\0return\0select\0set\0shift\0shopt\0source\0suspend\0test\0"
	"then\0time\0times\0trap\0true\0type\0typeset\0ulimit\0umask\0unalias\0unset\0"
	"until\0wait\0while\0";

/* The words of cmd, unquoted, as a NULL-terminated argv; NULL when the
 * shell has more to do than split them. The argv lives in one buffer
 * that the next call reuses (R.words): a buffer allocated and freed at
 * every start made musl's allocator map and unmap a page each time, and
 * the unmap costs a TLB flush on the CPU where the vfork child ran
 * (about 20 us a stage on a 2-CPU VM, 1% of a short stage). */
static char **
cmd_words(const char *cmd)
{
	size_t len = strlen(cmd), max = len / 2 + 2, n = 0;
	size_t need = max + (len + 1 + sizeof(char *) - 1) / sizeof(char *);
	char **v, *d, q = 0;
	int in = 0;

	if (need > R.nwords) {
		free(R.words);
		R.words = xreallocarray(NULL, need, sizeof *R.words);
		R.nwords = need;
	}
	v = R.words, d = (char *)(v + max);

	for (; *cmd; cmd++) {
		char c = *cmd;
		if (q) {
			if (c == q)
				q = 0;
			else if (q == '"' && (c == '$' || c == '`' || c == '\\'))
				goto shell;
			else
				*d++ = c;
		} else if (c == ' ' || c == '\t') {
			if (in)
				*d++ = '\0', in = 0;
		} else if (strchr(sh_special, c)) {
			goto shell;
		} else {
			if (!in)
				v[n++] = d, in = 1;
			if (c == '\'' || c == '"')
				q = c;
			else
				*d++ = c;
		}
	}
	if (in)
		*d = '\0';
	v[n] = NULL;
	if (q || !n || !*v[0] || strchr(v[0], '='))
		goto shell;
	if (word_find(sh_words, v[0]))
		goto shell;
	return v;
shell:
	return NULL;
}

static void
dir_mark(const char *dir, struct dirmark *m)
{
	struct stat sb;

	R.pw.stat++;
	memset(m, 0, sizeof *m);
	if (stat(dir, &sb) == 0)
		m->ino = sb.st_ino ? sb.st_ino : 1, m->mt = sb.st_mtim;
}

static void
exe_free(struct exe *e)
{
	free(e->path), free(e->name), free(e->file), free(e->mark);
	memset(e, 0, sizeof *e);
}

/* ---- PATH lookups without stats (pw_*) ---------------------------- */

/* Is w (n bytes) in the NUL-separated list b? */
static int
set_has(const struct buf *b, const char *w, size_t n)
{
	size_t i, l;

	for (i = 0; i < b->len; i += l + 1) {
		l = strlen(b->data + i);
		if (l == n && !memcmp(b->data + i, w, n))
			return 1;
	}
	return 0;
}

static void
set_add(struct buf *b, const char *w, size_t n)
{
	if (!set_has(b, w, n))
		xput(b, w, n), xput(b, "", 1);
}

/* Set by a dnotify signal (pw_signal): something in a watched directory
 * changed. */
static volatile sig_atomic_t pw_changed;

/* Drop every watch: each lookup is checked by stat once more. Closing a
 * directory's fd ends its dnotify watch at once (no grace period). */
static void
pw_drop(void)
{
	size_t i;
	int fd;

	for (i = 0; i + sizeof fd <= R.pw.wds.len; i += sizeof fd) {
		memcpy(&fd, R.pw.wds.data + i, sizeof fd);
		close(fd);
	}
	pw_changed = 0;
	R.pw.stat = 0; /* armed again only after PW_AFTER more stats */
	R.pw.gen++;
	R.pw.dirs.len = R.pw.armed.len = R.pw.failed.len = R.pw.wds.len = 0;
}

/* Stats only from now on: no dnotify here, or the fds are needed. */
static void
pw_stop(void)
{
	pw_drop();
	if (R.pw.mnt >= 0)
		close(R.pw.mnt), R.pw.mnt = -1;
	R.pw.off = 1;
}

#ifdef __linux__
/* dnotify (fcntl F_NOTIFY), Linux's ABI, which _XOPEN_SOURCE hides */
#ifndef F_NOTIFY
#define F_SETSIG     10
#define F_NOTIFY     1026
#define DN_CREATE    0x4
#define DN_DELETE    0x8
#define DN_RENAME    0x10
#define DN_ATTRIB    0x20
#define DN_MULTISHOT 0x80000000
#endif
#define PW_SIG (SIGRTMIN + 2) /* the watches' signal */
enum {
	PW_MASK = (int)(DN_CREATE | DN_DELETE | DN_RENAME | DN_ATTRIB | DN_MULTISHOT),
	/* stats before the watches (pw_arm): arming and freeing the 17
	 * watches of the benchmark's PATH took 0.5 to 0.9 ms, a stat at a
	 * start about 4.7 us (cold caches) */
	PW_AFTER = 128
};

/* Filesystems whose every change passes through this kernel, so that
 * dnotify sees it: not NFS, SMB, FUSE, 9p and the like, where another
 * machine or a daemon changes a directory unseen. */
static int
fs_local(unsigned long type)
{
	static const uint32_t local[] = {
		0xEF53,     /* ext2, ext3, ext4 */
		0x58465342, /* xfs */
		0x9123683E, /* btrfs */
		0x01021994, /* tmpfs */
		0x858458F6, /* ramfs */
		0x794C7630, /* overlayfs */
		0xF2F52010, /* f2fs */
		0x2FC12FC1, /* zfs */
		0xCA451A4E, /* bcachefs */
		0x73717368, /* squashfs */
		0xE0F5E1E2, /* erofs */
	};
	size_t i;

	for (i = 0; i < sizeof local / sizeof *local; i++)
		if ((uint32_t)type == local[i])
			return 1;
	return 0;
}

/* A dnotify signal (or SIGIO: its queue overflowed): something in a
 * watched directory changed. The changing process queues it itself, so
 * it is delivered before walter sees that process end. */
static void
pw_signal(int sig)
{
	(void)sig;
	pw_changed = 1;
}

/* How many directory fds the watches may hold: 64, or an eighth of the
 * fd limit if that is less. */
static size_t
pw_budget(void)
{
	static size_t n;
	struct rlimit rl;

	if (!n)
		n = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
				rl.rlim_cur / 8 < 64
			? (size_t)rl.rlim_cur / 8
			: 64;
	return n;
}

/* Watch directory dir (no symlink on its way): 0, or -1. */
static int
pw_watch(const char *dir)
{
	struct statfs fs;
	size_t l = strlen(dir);
	int fd;

	if (set_has(&R.pw.dirs, dir, l))
		return 0;
	if (R.pw.wds.len / sizeof fd >= pw_budget())
		return -1; /* the fds are kept for the tasks: stats */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	if (fstatfs(fd, &fs) < 0 || !fs_local((unsigned long)fs.f_type) ||
		fcntl(fd, F_SETSIG, PW_SIG) < 0 || fcntl(fd, F_NOTIFY, PW_MASK) < 0) {
		close(fd);
		return -1;
	}
	set_add(&R.pw.dirs, dir, l);
	xput(&R.pw.wds, &fd, sizeof fd);
	return 0;
}

/* Watch every directory the kernel goes through to resolve the PATH entry
 * dir (len bytes), each one before the walk looks at the entry in it that
 * it takes: a later change anywhere on the way (a symlink put in place of another, a
 * directory made, renamed or removed) is an event. As the kernel walks:
 * ".." is the parent of where the walk is, a symlink's target goes on
 * from the symlink's directory (or from / when absolute). 0, or -1 when
 * part of the way cannot be watched. */
static int
pw_walk(const char *dir, size_t len)
{
	char cur[PATH_MAX], rest[PATH_MAX], link[PATH_MAX];
	size_t cl = 1, n, up;
	const char *r;
	struct stat sb;
	ssize_t k;
	int links = 0;

	if (len >= sizeof rest)
		return -1;
	memcpy(rest, dir, len);
	rest[len] = '\0';
	cur[0] = '/', cur[1] = '\0';
	for (r = rest;;) {
		while (*r == '/')
			r++;
		if (!*r)
			return pw_watch(cur);
		n = strcspn(r, "/");
		if (n <= 2 && !strncmp(r, "..", n)) { /* "." or ".." */
			while (n == 2 && cl > 1 && cur[cl - 1] != '/')
				cl--;
			cl -= n == 2 && cl > 1;
			cur[cl] = '\0', r += n;
			continue;
		}
		if (pw_watch(cur) < 0 || cl + 1 + n >= sizeof cur)
			return -1;
		up = cl;
		if (cl > 1)
			cur[cl++] = '/';
		memcpy(cur + cl, r, n);
		cur[cl += n] = '\0';
		r += n;
		if (lstat(cur, &sb) < 0) /* missing: its parent sees it come */
			return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
		if (S_ISDIR(sb.st_mode))
			continue;
		if (!S_ISLNK(sb.st_mode))
			return 0; /* a file: nothing is found through it */
		len = strlen(r);
		if (++links > 40 || (k = readlink(cur, link, sizeof link)) <= 0 ||
			(size_t)k + 1 + len >= sizeof link)
			return -1;
		link[k] = '/';
		memcpy(link + k + 1, r, len + 1);
		memcpy(rest, link, (size_t)k + 1 + len + 1);
		cl = link[0] == '/' ? 1 : up;
		cur[cl] = '\0';
		r = rest;
	}
}

/* Watch the PATH entry dir (len bytes) as pw_walk does, once: 0, or -1
 * (its lookups are checked by stat). The watches come before the stats
 * they spare, so a change between them is an event. Only once the run
 * has stat'd PW_AFTER entries: arming and freeing the watches costs
 * about that much, so a short run never pays for them and a long one
 * pays at most twice what the better choice, known in hindsight, would
 * have. */
static int
pw_arm(const char *dir, size_t len)
{
	int r;

	if (R.pw.off || R.pw.stat < PW_AFTER || set_has(&R.pw.failed, dir, len))
		return -1;
	if (set_has(&R.pw.armed, dir, len))
		return 0;
	if (R.pw.mnt < 0 && (R.pw.mnt = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)) < 0) {
		pw_stop();
		return -1;
	}
	if (!R.pw.sig) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = pw_signal;
		sa.sa_flags = SA_RESTART;
		sigfillset(&sa.sa_mask);
		if (sigaction(PW_SIG, &sa, NULL) < 0 || sigaction(SIGIO, &sa, NULL) < 0) {
			pw_stop();
			return -1;
		}
		R.pw.sig = 1;
	}
	r = pw_walk(dir, len);
	set_add(r ? &R.pw.failed : &R.pw.armed, dir, len);
	return r;
}

/* Nothing that may matter changed since the watches were set: 1. A
 * change drops the watches; the mount table is looked at once a turn. */
static int
pw_quiet(void)
{
	struct pollfd p;

	if (!R.pw.wds.len)
		return 0;
	if (pw_changed) {
		pw_drop();
		return 0;
	}
	if (R.pw.turn == R.turn)
		return 1;
	p.fd = R.pw.mnt, p.events = POLLPRI, p.revents = 0;
	if (poll(&p, 1, 0) < 0 || p.revents || pw_changed) {
		pw_drop();
		return 0;
	}
	R.pw.turn = R.turn;
	return 1;
}
#else
static int
pw_arm(const char *dir, size_t len)
{
	(void)dir, (void)len;
	return -1;
}

static int
pw_quiet(void)
{
	return 0;
}
#endif

/* Is the remembered lookup still what a search of PATH would give? With
 * every entry watched and no event since the marks were last seen, it
 * is without a stat; else each entry is watched anew and stat'd. */
static int
exe_valid(struct exe *e)
{
	const char *p = e->path;
	char dir[PATH_MAX];
	struct dirmark m;
	size_t i, len;
	int ok = 1, watched = 1;

	if (e->watched && pw_quiet() && e->gen == R.pw.gen)
		return 1;
	for (i = 0; ok && i < e->ndirs; i++, p += len + 1) {
		const char *q = e->path;
		size_t k, l;
		if ((len = strcspn(p, ":")) >= sizeof dir)
			return 0;                   /* never remembered: exe_find stats the same */
		for (k = 0; k < i; k++, q += l + 1) /* twice in PATH: checked once */
			if ((l = strcspn(q, ":")) == len && !memcmp(q, p, len))
				break;
		if (k < i)
			continue;
		watched &= pw_arm(p, len) == 0;
		memcpy(dir, p, len);
		dir[len] = '\0';
		dir_mark(dir, &m);
		ok = m.ino == e->mark[i].ino && m.mt.tv_sec == e->mark[i].mt.tv_sec &&
			m.mt.tv_nsec == e->mark[i].mt.tv_nsec;
	}
	e->watched = watched, e->gen = R.pw.gen;
	return ok;
}

/* The value of name in the task's environment: its env, else walter's;
 * NULL if unset. */
static const char *
task_getenv(const struct node *n, const char *name)
{
	size_t i, l = strlen(name);

	for (i = 0; n->env && n->env[i]; i++)
		if (!strncmp(n->env[i], name, l) && n->env[i][l] == '=')
			return n->env[i] + l + 1;
	return getenv(name);
}

/* The file sh would exec for name under path (the first regular,
 * executable one; sh skips directories and tries on after a file it may
 * not run), malloc'd; name itself when it holds a '/'. NULL when it is
 * not found or an empty or relative entry comes first (that depends on
 * the task's directory: the shell decides). Lookups are remembered for
 * the run while the entries before the file look the same. */
static char *
exe_find(const char *name, const char *path)
{
	struct exe *e, found = { 0 };
	struct buf b = { 0 };
	struct stat sb;
	const char *p;
	size_t i, len;
	int keep = 1;

	if (strchr(name, '/'))
		return xstrdup(name);
	for (i = 0; i < R.nexe; i++) {
		e = &R.exe[i];
		if (e->name && !strcmp(e->name, name) && !strcmp(e->path, path)) {
			/* checked once a turn: 500 starts at once check once */
			if (e->turn == R.turn || exe_valid(e))
				return e->turn = R.turn, xstrdup(e->file);
			exe_free(e);
			break;
		}
	}
	found.watched = 1;
	for (p = path; *p == '/'; p += len + 1) {
		len = strcspn(p, ":");
		found.watched &= pw_arm(p, len) == 0;
		b.len = 0;
		xput(&b, p, len);
		xput(&b, "/", 1);
		xputs(&b, name);
		if (stat(b.data, &sb) == 0) {
			if (S_ISREG(sb.st_mode) && access(b.data, X_OK) == 0) {
				found.file = b.data;
				break;
			}
			keep = 0; /* a chmod +x there would not change its mark */
		}
		found.mark = xreallocarray(found.mark, found.ndirs + 1, sizeof *found.mark);
		b.data[len] = '\0';
		dir_mark(b.data, &found.mark[found.ndirs++]);
		if (!p[len])
			break;
	}
	if (!found.file || !keep) {
		free(found.mark);
		if (!found.file)
			buf_free(&b);
		return found.file;
	}
	for (i = 0; i < R.nexe && R.exe[i].name; i++) /* a free slot, */
		;
	if (!R.exe)
		R.exe = xreallocarray(NULL, EXE_CACHE, sizeof *R.exe);
	if (i == R.nexe && R.nexe < EXE_CACHE)
		R.nexe++;
	else if (i == R.nexe) /* or the oldest */
		i = R.exe_next++ % EXE_CACHE, exe_free(&R.exe[i]);
	e = &R.exe[i];
	*e = found;
	e->turn = R.turn, e->gen = R.pw.gen;
	e->file = xstrdup(found.file);
	e->path = xstrdup(path), e->name = xstrdup(name);
	return found.file;
}

/* The PWD a direct exec exports, as dash does: the inherited one when it
 * names the directory the command runs in, else that directory's real
 * path. Returns "PWD=..." to put in the environment, or NULL when the
 * inherited one is right; *own says the caller frees it. */
static const char *
exec_pwd(const struct node *n, int *own)
{
	const char *dir = n->dir && *n->dir ? n->dir : ".", *pwd = task_getenv(n, "PWD");
	int here = dir[0] == '.' && !dir[1] && pwd == getenv("PWD"); /* the same every time */
	char real[PATH_MAX];
	struct stat a, b;
	struct buf s = { 0 };

	*own = 0;
	if (here && R.pwd_known)
		return R.pwd;
	if (pwd && pwd[0] == '/' && stat(pwd, &a) == 0 && stat(dir, &b) == 0 &&
		a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		R.pwd_known |= here;
		return NULL;
	}
	if (!realpath(dir, real))
		return NULL; /* the spawn will say why */
	xputs(&s, "PWD=");
	xputs(&s, real);
	if (here)
		return R.pwd_known = 1, R.pwd = s.data;
	*own = 1;
	return s.data;
}

/* ---- spawning ------------------------------------------------------- */

/* "WALTER_TASK_ID=RUN.NUM" into b (room for MARK, R.runid and a number):
 * once per task start, without printf. */
static char *
mark_text(char *b, size_t size, size_t num)
{
	char digits[24], *d = digits + sizeof digits;
	size_t l = sizeof MARK, r = strlen(R.runid);

	*--d = '\0';
	do
		*--d = (char)('0' + num % 10);
	while ((num /= 10) && d > digits);
	if (l + r + 1 + (size_t)(digits + sizeof digits - d) > size)
		return memcpy(b, MARK "=", l + 1); /* cannot be: R.runid is short */
	memcpy(b, MARK "=", l);
	memcpy(b + l, R.runid, r);
	b[l + r] = '.';
	memcpy(b + l + r + 1, d, (size_t)(digits + sizeof digits - d));
	return b;
}

/* Environment of a child: walter's, the task's env, special variables,
 * pwd ("PWD=...") in place of any PWD when not NULL, and the task's mark
 * (the array is R.envv, reused by the next call). */
static char **
child_env(struct node *n, const char *pwd)
{
	static char mark[96];
	size_t ne = 0, nt = 0, ns = 0, i, j, k = 0;
	char **env;

	while (environ[ne])
		ne++;
	while (n->env && n->env[nt])
		nt++;
	for (i = 0; R.spec_val && i < cfg.nspecials; i++)
		ns += R.spec_val[i] != NULL;
	if (ne + nt + ns + 3 > R.nenvv) { /* kept: no malloc per task */
		R.nenvv = ne + nt + ns + 3;
		R.envv = xreallocarray(R.envv, R.nenvv, sizeof *R.envv);
	}
	env = R.envv;
	for (i = 0; i < ne; i++) {
		const char *v = environ[i];
		size_t l = nt ? strcspn(v, "=") : 0;
		for (j = 0; j < nt; j++)
			if (!strncmp(n->env[j], v, l + 1))
				break;
		if (j == nt && !(v[0] == MARK[0] && is_mark(v)) &&
			!(pwd && v[0] == 'P' && !strncmp(v, "PWD=", 4)))
			env[k++] = environ[i];
	}
	for (j = 0; j < nt; j++)
		if (!is_mark(n->env[j]) && !(pwd && !strncmp(n->env[j], "PWD=", 4)))
			env[k++] = n->env[j];
	for (i = 0; R.spec_val && i < cfg.nspecials; i++)
		if (R.spec_val[i])
			env[k++] = R.spec_val[i];
	if (pwd)
		env[k++] = (char *)pwd;
	env[k++] = mark_text(mark, sizeof mark, n->num);
	env[k] = NULL;
	return env;
}

/* The task's process exists: record it, watch its output. */
static void
spawned(struct node *n, pid_t pid, const int out[2], const int err[2], struct proc *p)
{
	p->pid = pid, p->fd[0] = out[0], p->fd[1] = err[0];
	p->wr[0] = out[1], p->wr[1] = err[1];
	/* Held, the write ends save a quiet task's hang-up wake-up; but each
	 * spawn copies walter's whole fd table in the kernel (dup_fd): with
	 * many tasks running they would double that, and wake-ups are
	 * shared anyway. */
	if (R.running >= 16)
		close(out[1]), close(err[1]), p->wr[0] = p->wr[1] = -1;
	ev_set(out[0], WK_OUT, n, POLLIN);
	ev_set(err[0], WK_ERR, n, POLLIN);
	ev_set(p->in, WK_IN, n, POLLOUT);
	pm_put(&R.pids, pid, n);
	if (!n->keep)
		guard_mark(pid, 1);
	R.running++;
}

/* fork for git and service mode's builds, with INT, TERM and HUP blocked
 * across it: the child sets them back to their defaults before it
 * unblocks them (child_signals), so a signal walter passes on before the
 * child's exec kills it, where walter's handler in the copy would have
 * eaten it. Returns what fork returned. */
static pid_t
fork_child(void)
{
	sigset_t s, old;
	pid_t pid;

	sigemptyset(&s);
	sigaddset(&s, SIGINT), sigaddset(&s, SIGTERM), sigaddset(&s, SIGHUP);
	sigprocmask(SIG_BLOCK, &s, &old);
	if ((pid = fork()) == 0) {
		signal(SIGINT, SIG_DFL), signal(SIGTERM, SIG_DFL), signal(SIGHUP, SIG_DFL);
		child_signals();
		return 0;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return pid;
}

/* What to start: argv from the file path, stdin from in. A direct exec
 * (sh set) runs sh -c COMMAND instead when the exec fails, so that the
 * error, or the run of a script without a #! line, is the shell's. */
struct launch {
	char *const *argv; /* the arguments */
	const char *path;  /* the file to exec */
	char *const *sh;   /* { "sh", "-c", COMMAND, NULL }, or NULL */
	char **env;        /* the environment */
	int in;            /* stdin */
};
/* What starting a task's process came to. */
enum spawn_result {
	SPAWN_OK,       /* it runs */
	SPAWN_NOEXEC,   /* it could not exec or change directory (fork path:
			 * the child exists, exits 127 and is reaped as usual) */
	SPAWN_FAILED,   /* nothing started */
	SPAWN_SHORTAGE, /* nothing started for lack of fds or processes,
			 * which may come back when a running task ends */
};

/* How the child's start went: what it was doing (SE_*) and errno. */
struct spawn_err {
	int what, err;
};
enum { SE_NONE = -1, SE_CHDIR, SE_EXEC, SE_DUP, SE_EXECING };

/* The child's side of spawn: own process group (SIGPIPE, caught by
 * walter, is back to its default after the exec), pipes on 0-2, the
 * task's directory, exec. Nothing more while walter waits: each call
 * here costs the run more than its own time (a PR_SET_PDEATHSIG and its
 * getppid check were 1.3% of a 300-stage shell-line run, alternated
 * runs); if walter dies, the guardian kills the task's group and all
 * that carries the run's mark. Under a vfork that shares walter's memory no
 * signal of walter's can come before the exec (walter waits), and
 * walter's handler does nothing in a process of another pid; otherwise
 * (copy: walter goes on, and may stop the task at once) signals came
 * blocked: the caught ones go back to their defaults before they are
 * unblocked, so a TERM that came meanwhile ends the child. A failure
 * goes into *se (shared memory under vfork) and down ep (when there is
 * one), then exit 127. Only async-signal-safe calls, nothing returned
 * to. */
static void __attribute__((noreturn)) spawn_child(const struct node *n, const struct launch *l,
	int out, int err, int ep, volatile struct spawn_err *se, int blocked)
{
	struct spawn_err e;
	sigset_t none;

	if (blocked) {
		signal(SIGINT, SIG_DFL), signal(SIGTERM, SIG_DFL), signal(SIGHUP, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	setpgid(0, 0);
	e.what = SE_DUP;
	if (dup2(l->in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		goto fail;
	e.what = SE_CHDIR;
	if (n->dir && *n->dir && chdir(n->dir) < 0)
		goto fail;
	e.what = SE_EXEC;
	se->what = SE_EXECING; /* what the parent sees if the exec works */
	execve(l->path, l->argv, l->env);
	if (l->sh)
		execve(R.sh, l->sh, l->env);
fail:
	e.err = errno;
	se->err = e.err, se->what = e.what;
	if (ep >= 0)
		(void)!write(ep, &e, sizeof e);
	_exit(127);
}

/* Start l in its own process group. Under a real vfork the child's
 * writes to se are seen when vfork returns; where the child's memory is
 * a copy (fork, or qemu-user, whose vfork is a fork), se says nothing
 * and a close-on-exec pipe brings the failure instead. The first spawn
 * has the pipe and learns which it is (R.vfork_shares). Reasons go into
 * why. */
static enum spawn_result
spawn_fork(struct node *n, const struct launch *l, struct proc *p, char *why, size_t whylen)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, ep[2] = { -1, -1 };
	const char *path = l->sh ? R.sh : l->path;
	volatile struct spawn_err se = { SE_NONE, 0 };
	struct spawn_err got = { SE_NONE, 0 };
	pid_t pid;
	sigset_t all, old;
	int e, blocked = R.vfork_shares != 1;

	/* What the loop would do after the start comes before it: vfork
	 * returns at the child's exec, and work then ran beside the child,
	 * on its CPU as often as not, where it delayed the child's start by
	 * as much (the log lines) */
	log_flush();
	if (spawn_fds(out, err, ep) < 0) {
		e = errno;
		snprintf(why, whylen, "cannot create pipes: %s", strerror(e));
		goto fail;
	}
	if (blocked) {
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, &old);
	}
#ifdef WALTER_VFORK
	pid = vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork): the point */
#else
	pid = fork();
#endif
	if (pid == 0) /* NOLINTNEXTLINE(clang-analyzer-unix.Vfork): it only execs or exits */
		spawn_child(n, l, out[1], err[1], ep[1], &se, blocked);
	e = errno;
	if (blocked)
		sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		snprintf(why, whylen, "cannot fork: %s", strerror(e));
		goto fail;
	}
	if (se.what == SE_NONE)    /* the child may not have run yet: no race */
		setpgid(pid, pid); /* with a quick kill (under vfork it has) */
	if (se.what != SE_NONE) {
		R.vfork_shares = 1;
		got.what = se.what, got.err = se.err;
	}
	if (ep[0] >= 0) {
		close(ep[1]);
		if (got.what == SE_NONE) { /* a copy: the pipe says it */
			R.vfork_shares = -1;
			while (read(ep[0], &got, sizeof got) < 0 && errno == EINTR)
				;
		}
		close(ep[0]);
	}
	spawned(n, pid, out, err, p);
	if (got.what == SE_CHDIR || got.what == SE_EXEC || got.what == SE_DUP) {
		if (got.what == SE_CHDIR)
			snprintf(why, whylen, "cannot change directory to %s: %s", n->dir,
				strerror(got.err));
		else
			snprintf(why, whylen, "cannot run %s: %s", path, strerror(got.err));
		return SPAWN_NOEXEC;
	}
	return SPAWN_OK;
fail:
	if (out[0] >= 0)
		close(out[0]), close(out[1]);
	if (err[0] >= 0)
		close(err[0]), close(err[1]);
	if (ep[0] >= 0)
		close(ep[0]), close(ep[1]);
	return shortage(e) ? SPAWN_SHORTAGE : SPAWN_FAILED;
}

/* ---- output --------------------------------------------------------- */

/* A tail line's block, no longer needed, kept for another line. */
static void
tail_keep(char *t)
{
	memcpy(t, &R.tails, sizeof R.tails);
	R.tails = t;
}

/* Keep the line among the last TAIL_LINES; the oldest line's buffer is
 * reused, so a chatty task costs no allocation per line. */
static void
tail_add(struct task_rt *rt, const char *s, size_t n)
{
	enum { TAIL_LEN = 200 };
	char *t;
	int i;

	if (n > TAIL_LEN) { /* never inside a character: back to its first byte */
		n = TAIL_LEN;
		for (i = 0; i < 3 && n && ((unsigned char)s[n] & 0xc0) == 0x80; i++)
			n--;
	}
	if (rt->ntail == TAIL_LINES) {
		t = rt->tail[0];
		memmove(rt->tail, rt->tail + 1, (TAIL_LINES - 1) * sizeof *rt->tail);
		rt->ntail--;
	} else if ((t = R.tails)) { /* a finished task's, kept */
		memcpy(&R.tails, t, sizeof R.tails);
	} else {
		t = xmalloc(TAIL_LEN + 1 < sizeof(char *) ? sizeof(char *) : TAIL_LEN + 1);
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

/* One line of child output, secrets masked: log it (stamped with the
 * clock drain read), keep it where needed. */
static void
out_text(struct node *n, const char *s, size_t len)
{
	log_task_line(n->name, s, len);
	tail_add(n->rt, s, len);
	if ((n->need & CAP_COMB) && !n->rt->cond) {
		if (!n->cap[2])
			n->cap[2] = cap_new();
		if (cap_write(n->cap[2], s, len) < 0 || cap_write(n->cap[2], "\n", 1) < 0)
			task_fail_io(n, "combined");
	}
}

/* The rest of a line on stream s (its end, or the unterminated last
 * line): masked, then out. */
static void
out_line(struct node *n, int s, const char *p, size_t len)
{
	size_t *cov = &n->rt->p.cov[s];

	p = mask_from(p, &len, *cov);
	*cov = 0;
	out_text(n, p, len);
}

/* The unfinished line of stream s reached LINE_MAX_LOG: log it as a line
 * of its own. With secrets to hide, the bytes that may begin one stay
 * for the next piece (mask_cut), so a secret is never logged in two
 * halves. */
static void
out_cut(struct node *n, int s)
{
	struct proc *p = &n->rt->p;
	struct buf *part = &p->part[s];
	size_t h;

	if (!sec.n) {
		out_text(n, part->data, part->len);
		part->len = 0;
		return;
	}
	if (!(h = mask_cut(part->data, part->len, &p->cov[s])))
		return; /* a secret longer than a piece may be beginning: read on */
	out_text(n, sec.out.data, sec.out.len);
	memmove(part->data, part->data + h, part->len - h);
	part->len -= h;
}

/* The index of the first zero byte of w, given m = (w - ones) & ~w &
 * high != 0 (the lowest flag of m is exact; higher ones may be false). */
static size_t
zero_at(uint64_t m, uint64_t w)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	(void)w;
	return (size_t)__builtin_ctzll(m) >> 3;
#else
	unsigned char b[8];
	size_t k;

	(void)m;
	memcpy(b, &w, 8);
	for (k = 0; b[k]; k++)
		;
	return k;
#endif
}

/* Copy s.. to d up to and including the first '\n' before end, finding
 * the newline on the way (one pass instead of memchr then memcpy): eight
 * bytes at a time for the first 32, then sixteen (long lines). Both may
 * be read or written up to 15 bytes past the line: the caller has room
 * there. Returns the bytes copied, 0 when no newline comes before end. */
static size_t
copy_line(char *d, const char *s, const char *end)
{
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u,
		       nls = 0x0a0a0a0a0a0a0a0au;
	const char *p = s, *e8 = end - s > 32 ? s + 32 : end;
	uint64_t x, y, mx, my;
	size_t k;

	for (; p < e8; p += 8, d += 8) {
		memcpy(&x, p, 8);
		memcpy(d, &x, 8);
		x ^= nls; /* a newline is now a zero byte */
		if ((mx = (x - ones) & ~x & high)) {
			k = zero_at(mx, x);
			return p + k < end ? (size_t)(p + k + 1 - s) : 0;
		}
	}
	for (; p < end; p += 16, d += 16) {
		memcpy(&x, p, 8);
		memcpy(&y, p + 8, 8);
		memcpy(d, &x, 8);
		memcpy(d + 8, &y, 8);
		x ^= nls, y ^= nls;
		mx = (x - ones) & ~x & high;
		my = (y - ones) & ~y & high;
		if (!(mx | my))
			continue;
		k = mx ? zero_at(mx, x) : 8 + zero_at(my, y);
		return p + k < end ? (size_t)(p + k + 1 - s) : 0;
	}
	return 0;
}

/* Room in the log buffer for n bytes and the slack out_lines writes
 * into; returns where the next byte goes, *lim the last place a line may
 * start with n more to come, *full where the buffer should be written. */
static char *
log_room(size_t n, char **lim, char **full)
{
	if (buf_grow(&lg.out, n + 40) < 0)
		fatal("out of memory");
	*lim = lg.out.data + lg.out.cap - 41;
	*full = lg.out.data + 65536;
	return lg.out.data + lg.out.len;
}

/* The fast path of out_data (INFO lines shown, no secrets to mask): every
 * whole line of p..end into the log with the task's prefix, in one pass
 * per line (p..end+16 is readable). The summary's tail and the combined
 * capture are taken once per read, not per line. Returns where the
 * unfinished last line starts (end if none). */
static const char *
out_lines(struct node *n, const char *p, const char *end)
{
	enum { RING = 16 }; /* a power of two >= TAIL_LINES */
	const char *start = p, *pre, *at[RING];
	size_t pl, k, i, lines = 0;
	char *d, *lim, *full;

	task_prefix(n->name);
	pre = lg.pre.data, pl = lg.pre.len;
	d = log_room(pl + (size_t)(end - p), &lim, &full);
	for (;; lines++) {
		/* room for the rest of the read with a prefix per line would be
		 * too much for many short lines: room for one more line */
		if (d + pl + (end - p) > lim) {
			lg.out.len = (size_t)(d - lg.out.data);
			d = log_room(pl + (size_t)(end - p), &lim, &full);
		}
		memcpy(d, pre, 32); /* one fixed-size copy for most prefixes */
		for (i = 32; i < pl; i += 8)
			memcpy(d + i, pre + i, 8);
		if (!(k = copy_line(d + pl, p, end)))
			break;
		at[lines % RING] = p; /* where the last lines start, for the tail */
		d += pl + k;
		p += k;
		if (d >= full) {
			lg.out.len = (size_t)(d - lg.out.data);
			log_flush();
			d = lg.out.data + lg.out.len;
		}
	}
	lg.out.len = (size_t)(d - lg.out.data);
	*d = '\0';
	if (!lines)
		return p;
	if ((n->need & CAP_COMB) && !n->rt->cond) {
		if (!n->cap[2])
			n->cap[2] = cap_new();
		if (cap_write(n->cap[2], start, (size_t)(p - start)) < 0)
			task_fail_io(n, "combined");
	}
	for (i = lines > TAIL_LINES ? lines - TAIL_LINES : 0; i < lines; i++) {
		const char *b = at[i % RING], *e = i + 1 < lines ? at[(i + 1) % RING] : p;
		tail_add(n->rt, b, (size_t)(e - b - 1));
	}
	return p;
}

/* Output of a task's stream s: kept where needed, logged line by line. */
static void
out_data(struct node *n, int s, const char *p, size_t len)
{
	struct buf *part = &n->rt->p.part[s];
	unsigned bit = s ? CAP_ERR : CAP_OUT;
	const char *nl, *end = p + len;

	if ((n->need & bit) && !n->rt->cond) {
		if (!n->cap[s])
			n->cap[s] = cap_new();
		if (cap_write(n->cap[s], p, len) < 0)
			task_fail_io(n, s ? "stderr" : "stdout");
	}
	while (p < end) {
		size_t take;
		if (!part->len && !sec.n && L_INFO >= opt.threshold && !log_plain_copy() &&
			(p = out_lines(n, p, end)) == end)
			break;
		if (!(nl = memchr(p, '\n', (size_t)(end - p)))) {
			/* up to LINE_MAX_LOG, or on while out_cut holds it all */
			size_t left = (size_t)(end - p);
			take = part->len < LINE_MAX_LOG ? LINE_MAX_LOG - part->len : left;
			if (take > left)
				take = left;
			xput(part, p, take);
			p += take;
			if (part->len >= LINE_MAX_LOG) /* very long line: split */
				out_cut(n, s);
			continue;
		}
		take = (size_t)(nl - p);
		if (part->len) {
			xput(part, p, take);
			out_line(n, s, part->data, part->len);
			part->len = 0;
		} else {
			out_line(n, s, p, take);
		}
		p = nl + 1;
	}
}

/* Read what the pipe of stream s has now. Returns 0 at EOF or error (fd
 * closed). Once the task's process is reaped this is the last read:
 * everything it wrote is taken (the write ends walter held are closed
 * first, so EOF can come; what it left running may still hold the pipe
 * and write on: stop at what is there now, and at 1 MiB), the
 * unterminated last line is logged and the pipe closed. */
static int
drain(struct node *n, int s)
{
	static char chunk[65536 + 16]; /* out_lines reads up to 15 bytes past */
	struct proc *p = &n->rt->p;
	ssize_t r;
	int reads = 0, last = !p->pid;

	log_clock(); /* one clock read per batch of lines, not one per line */
	for (;;) {   /* reaped: to EOF or, walter or a daemon holding a write end, EAGAIN */
		r = read(p->fd[s], chunk, sizeof chunk - 16);
		if (r > 0) {
			out_data(n, s, chunk, (size_t)r);
			if (!last && (size_t)r < sizeof chunk - 16)
				return 1;
			if (last && ++reads == 16)
				break;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN && !last)
			return 1;
		break;
	}
	if (p->part[s].len)
		out_line(n, s, p->part[s].data, p->part[s].len);
	buf_free(&p->part[s]);
	p->cov[s] = 0;
	if (last) {
		fd_drop(&p->wr[s]);
		fd_drop(&p->fd[s]);
	} else {
		fd_drop(&p->fd[s]);
	}
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

/* ---- git, for service mode and the commit status notifiers ---------- */

/* Read what fd has into b (at most max bytes kept); 0 at EOF or on an
 * error (then fd is closed and set to -1). */
static int
slurp(int *fd, struct buf *b, size_t max)
{
	char chunk[4096];
	ssize_t r;

	for (;;) {
		r = read(*fd, chunk, sizeof chunk);
		if (r > 0) {
			if (b->len < max)
				xput(b, chunk, (size_t)r < max - b->len ? (size_t)r : max - b->len);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return 1;
		close(*fd);
		*fd = -1;
		return 0;
	}
}

/* Log what git printed, one "[git]" line each. */
static void
git_log(enum level lv, const struct buf *b)
{
	const char *p = b->data, *e;

	while (p && *p) {
		e = p + strcspn(p, "\n");
		if (e > p)
			log_line(lv, "git", p, (size_t)(e - p));
		p = *e ? e + 1 : e;
	}
}

/* Run argv (argv[0] is "git", found in PATH; no shell) with stdin
 * /dev/null for at most timeout seconds. Unless how has GIT_KEEP, a
 * signal to walter (R.nsig) before it keeps it from starting, one while
 * it runs leaves it R.grace seconds more, then stops it (TERM). Its
 * stdout goes into out when out is given (1 MiB at most); what else it
 * printed is logged as "[git]" lines when it is done: ERROR if it
 * failed, else DEBUG; nothing with GIT_QUIET. Returns its exit status,
 * or -1; unless 0, why says what went wrong (git's last line). */
static int
git_run(const char *const *argv, struct buf *out, double timeout, int how, char *why, size_t whylen)
{
	int op[2] = { -1, -1 }, ep[2] = { -1, -1 }, st = 0, r = -1, stop = 0, term = 0;
	struct buf err = { 0 }, *o = out ? out : &err;
	double end = now() + timeout;
	char *path = path_lookup("git"), *last;
	pid_t pid;

	*why = '\0';
	if (!path) {
		snprintf(why, whylen, "git is not installed (not found in PATH)");
		return -1;
	}
	if (R.nsig && !(how & GIT_KEEP)) {
		snprintf(why, whylen, "git %s not run: walter got signal %d", argv[1], (int)R.sig);
		goto out;
	}
	if (xpipe(op) < 0 || xpipe(ep) < 0 || (pid = fork_child()) < 0) {
		snprintf(why, whylen, "cannot run git: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0 && dup2(nul, 0) >= 0 && dup2(op[1], 1) >= 0 && dup2(ep[1], 2) >= 0)
			execv(path, (char *const *)argv);
		_exit(127);
	}
	close(op[1]), close(ep[1]);
	op[1] = ep[1] = -1;
	nonblock(op[0]), nonblock(ep[0]);
	while (op[0] >= 0 || ep[0] >= 0) {
		struct pollfd pf[3];
		nfds_t n = 0;
		double left = end - now();
		if (left <= 0 && !stop) {
			kill(pid, term ? SIGTERM : SIGKILL);
			stop = 1;
			if (term)
				snprintf(why, whylen, "git %s stopped: walter got signal %d",
					argv[1], (int)R.sig);
			else
				snprintf(why, whylen, "git %s gave no answer within %gs: killed",
					argv[1], timeout);
		}
		if (left <= 0)
			break;
		if (op[0] >= 0)
			pf[n].fd = op[0], pf[n].events = POLLIN, pf[n++].revents = 0;
		if (ep[0] >= 0)
			pf[n].fd = ep[0], pf[n].events = POLLIN, pf[n++].revents = 0;
		if (R.selfpipe[0] >= 0)
			pf[n].fd = R.selfpipe[0], pf[n].events = POLLIN, pf[n++].revents = 0;
		if (poll(pf, n, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			break;
		if (op[0] >= 0)
			slurp(&op[0], o, 1 << 20);
		if (ep[0] >= 0)
			slurp(&ep[0], &err, 8192);
		if (R.selfpipe[0] >= 0)
			self_drain();
		/* A signal: TERM after the grace, not at once. git makes a
		 * lock file (.git/index.lock) before it sets up the handler
		 * that removes it on a signal: a TERM in between leaves it
		 * behind, and every later git command here fails. */
		if (R.nsig && !(how & GIT_KEEP) && !term) {
			term = 1;
			if (end > now() + R.grace)
				end = now() + R.grace;
		}
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!stop && WIFEXITED(st))
		r = WEXITSTATUS(st);
	else if (!stop)
		snprintf(why, whylen, "git %s was killed by signal %d", argv[1], WTERMSIG(st));
	if (r > 0 && err.len) { /* git's last line says why */
		while (err.len && err.data[err.len - 1] == '\n')
			err.data[--err.len] = '\0';
		last = strrchr(err.data, '\n');
		snprintf(why, whylen, "%s", last ? last + 1 : err.data);
	} else if (r > 0) {
		snprintf(why, whylen, "git %s: exit status %d", argv[1], r);
	}
	if (!(how & GIT_QUIET))
		git_log(r == 0 ? L_DEBUG : L_ERROR, &err);
out:
	if (op[0] >= 0)
		close(op[0]);
	if (ep[0] >= 0)
		close(ep[0]);
	if (op[1] >= 0)
		close(op[1]);
	if (ep[1] >= 0)
		close(ep[1]);
	buf_free(&err);
	free(path);
	return r;
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
static void notify_task_begin(struct node *n);
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

static void abort_active(void);

/* Why failed task n failed: its reason, or how its command ended. */
static const char *
fail_reason(const struct node *n, char *b, size_t len)
{
	return n->why ? n->why : exit_text(n->code, b, len);
}

static void
log_status(struct node *n)
{
	char d[32], e[64];

	fmt_dur(n->t1 - n->t0, d, sizeof d);
	switch (n->st) {
	case S_OK: /* every task's line: no printf */
		if (L_INFO >= opt.threshold) {
			lg.msg.len = 0;
			xputs(&lg.msg, "End task (");
			xputs(&lg.msg, d);
			xput(&lg.msg, ")", 1);
			log_line(L_INFO, n->name, lg.msg.data, lg.msg.len);
		}
		break;
	case S_FAILED:
		logmsg(L_ERROR, n->name, "Task failed: %s (%s)", fail_reason(n, e, sizeof e), d);
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

/* Why task n came to its final status, beyond its exit status: a failure
 * that is not one (could not start, timed out, wait_for gave up), what
 * aborted it, why it was skipped. NULL when the exit status says it. */
static char *
task_why(const struct node *n)
{
	const char *r = n->rt && n->rt->why[0] ? n->rt->why : NULL;
	char b[300];

	switch (n->st) {
	case S_ABORTED:
		r = R.why[0] ? R.why : "the run was aborted";
		break;
	case S_SKIPPED:
		r = R.cancel && R.why[0] ? R.why : "a previous task failed";
		break;
	case S_CONDFALSE:
		snprintf(b, sizeof b, "only_if failed: exit status %d", n->code);
		r = b;
		break;
	default:
		break;
	}
	return r ? xstrdup(r) : NULL;
}

/* The run is being aborted (a signal, -timeout, a 2.x failure): stop
 * what runs, start nothing; tasks that end now say why (task_why). */
static void __attribute__((format(printf, 1, 2))) cancel_run(const char *fmt, ...)
{
	va_list ap;

	R.cancel = 1;
	va_start(ap, fmt);
	vsnprintf(R.why, sizeof R.why, fmt, ap);
	va_end(ap);
	abort_active();
}

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
		for (i = 0; i < 2; i++)
			if (p->wr[i] >= 0)
				close(p->wr[i]);
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
		if ((n->st == S_FAILED || n->st == S_ABORTED) && rt->ntail) {
			n->tail = xreallocarray(NULL, rt->ntail, sizeof *n->tail);
			memcpy(n->tail, rt->tail, rt->ntail * sizeof *n->tail);
			n->ntail = rt->ntail;
			rt->ntail = 0;
		}
		/* the tail's blocks and one task_rt are kept for the next
		 * task: freed, musl gave their page back and mapped it again */
		for (i = 0; i < rt->ntail; i++)
			tail_keep(rt->tail[i]);
		if (R.spare)
			free(rt);
		else
			R.spare = rt;
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

	char e[64];

	if (st == S_FAILED && command_failed(rt) && n->attempts <= n->retry && !R.cancel) {
		logmsg(L_WARN, n->name, "attempt %d failed (%s), retrying in %gs", n->attempts,
			rt->why[0] ? rt->why : exit_text(n->code, e, sizeof e), n->retry_delay);
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
	n->why = task_why(n);
	ci_close(n);
	log_status(n);
	if (st == S_FAILED && ci.kind == CI_GITHUB) {
		char why[300];
		ci_error(n, fail_reason(n, why, sizeof why), rt ? rt->tail : NULL,
			rt ? rt->ntail : 0);
	}
	set_specials(n);
	notify_task(n); /* before task_release: it may post the output */
	if (st == S_FAILED && !R.first_failed)
		R.first_failed = n;
	task_release(n);
	if (st == S_FAILED && cfg.format == FMT_BUILD_DEPLOY && !opt.force && !R.cancel)
		cancel_run("\"%s\" failed", n->name);
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
				R.more = xgrow(R.more, &R.cmore, R.nmore + 1, sizeof *R.more);
				R.more[R.nmore++] = g;
				g->more = 1;
			}
			return 0;
		}
		g->idx++;
		if (k->st != S_PENDING) { /* "not selected" before the run: ended */
			g->ndone += k->st != S_RUNNING;
			continue;
		}
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

/* An argument as sh would need it written: as is when plain, else in
 * single quotes. */
static void
put_shell_word(struct buf *b, const char *a)
{
	static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				    "0123456789_@%+=:,./-";
	const char *p;

	if (*a && !a[strspn(a, plain)]) {
		xputs(b, a);
		return;
	}
	xput(b, "'", 1);
	for (p = a; *p; p++)
		if (*p == '\'')
			xputs(b, "'\\''");
		else
			xput(b, p, 1);
	xput(b, "'", 1);
}

/* -x: "[name] + COMMAND" (each line of a multi-line command with its
 * own "+ ", cut at 64 KiB as output lines are), masked, before the
 * command or the only_if (cond) starts; at DEBUG level without -x. */
static void
log_command(struct node *n, int cond)
{
	enum level lv = opt.xtrace ? L_INFO : L_DEBUG;
	struct buf b = { 0 };
	const char *cmd = cond ? n->only_if : n->command, *p, *e;
	size_t i;

	if (lv < opt.threshold)
		return;
	if (cmd) {
		for (p = cmd; *p; p = *e ? e + 1 : e) {
			e = p + strcspn(p, "\n");
			b.len = 0;
			xputs(&b, cond ? "only_if + " : "+ ");
			xput(&b, p, (size_t)(e - p));
			log_line(lv, n->name, b.data, b.len < LINE_MAX_LOG ? b.len : LINE_MAX_LOG);
		}
	} else {
		xputs(&b, "+ ");
		if (n->script) {
			xputs(&b, "sh ");
			put_shell_word(&b, n->script);
		} else {
			for (i = 0; n->argv[i]; i++) {
				if (i)
					xput(&b, " ", 1);
				put_shell_word(&b, n->argv[i]);
			}
		}
		log_line(lv, n->name, b.data, b.len < LINE_MAX_LOG ? b.len : LINE_MAX_LOG);
	}
	buf_free(&b);
}

static void task_wait(struct node *n);

/* An empty stdin: /dev/null, or where there is none (a bootstrap chroot)
 * a pipe already closed at the other end. -1 with errno. */
static int
empty_stdin(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), p[2];

	if (fd >= 0 || errno == EMFILE || errno == ENFILE || xpipe(p) < 0)
		return fd;
	close(p[1]);
	return p[0];
}

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
	if (total == 0 || n->rt->cond) { /* one empty stdin for the run */
		if (R.null < 0)
			R.null = empty_stdin();
		return R.null;
	}
	if (xpipe(pp) < 0)
		return -1;
	nonblock(pp[1]);
	p->in = pp[1], p->isrc = 0, p->off = 0;
	*fd = pp[0];
	return pp[0];
}

/* A command string run directly (6. executor, direct exec): its words
 * into l->argv (malloc'd, as l->path is), l->sh set, and the PWD to
 * export into *pwd (*own: malloc'd). 0: it goes to the shell. */
static int
direct(struct node *n, struct launch *l, const char **pwd, int *own)
{
	const char *path = task_getenv(n, "PATH");
	char **w;

	if (n->shell || opt.shell == SHELL_ALWAYS || !path || !(w = cmd_words(l->sh[2])))
		return 0;
	if (!(l->path = exe_find(w[0], path)))
		return 0;
	l->argv = w;
	*pwd = exec_pwd(n, own);
	return 1;
}

/* Start a process for the task's only_if (cond) or its command. */
static int
task_spawn(struct node *n, int cond)
{
	struct task_rt *rt = n->rt;
	char *sh[4] = { "sh", "-c", NULL, NULL }, *script[3] = { "sh", NULL, NULL };
	struct launch l = { sh, NULL, NULL, NULL, -1 };
	const char *pwd = NULL;
	char *path = NULL;
	enum spawn_result r;
	int pipe_in, own = 0, is_direct = 0;

	rt->cond = cond;
	if (cond || n->command) {
		sh[2] = (char *)(cond ? n->only_if : n->command);
		l.sh = sh;
		if (!(is_direct = direct(n, &l, &pwd, &own)))
			l.sh = NULL, l.path = R.sh;
	} else if (n->script) {
		script[1] = (char *)n->script_at;
		l.argv = script, l.path = R.sh;
	} else {
		l.argv = n->argv;
		if (!(l.path = path = path_lookup(n->argv[0]))) {
			snprintf(rt->why, sizeof rt->why, "command not found: %s", n->argv[0]);
			return -1;
		}
	}
	if ((l.in = stdin_for(n, &pipe_in)) < 0) {
		r = errno == EMFILE || errno == ENFILE ? SPAWN_SHORTAGE : SPAWN_FAILED;
		snprintf(rt->why, sizeof rt->why, "cannot set up stdin: %s", strerror(errno));
	} else {
		l.env = child_env(n, pwd);
		r = spawn_fork(n, &l, &rt->p, rt->why, sizeof rt->why);
		if (l.in != R.null)
			close(l.in);
	}
	free(path);
	if (is_direct)
		free((char *)l.path);
	if (own)
		free((char *)pwd);
	if ((r == SPAWN_FAILED || r == SPAWN_SHORTAGE) && rt->p.in >= 0)
		close(rt->p.in), rt->p.in = -1;
	if (r == SPAWN_SHORTAGE && R.running > 0) {
		/* out of fds or processes: try again when a running task ends */
		rt->why[0] = '\0';
		rt->deferred = 1;
		rt->ph = T_QUEUED;
		R.queue = xgrow(R.queue, &R.cqueue, R.nqueue + 1, sizeof *R.queue);
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
	if (n->attempts++ == 0) {
		ci_open(n);
		log_line(L_INFO, n->name, "Start task", 10);
	}
	if (!n->command && !n->argv && !n->script) {
		task_result(n, S_OK);
		return;
	}
	log_command(n, 0);
	if (n->script && stat(n->script_at, &sb) < 0) {
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
	log_command(n, 1);
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
	n->rt = rt = R.spare ? R.spare : xmalloc(sizeof *rt);
	R.spare = NULL;
	memset(rt, 0, sizeof *rt);
	rt->p.fd[0] = rt->p.fd[1] = rt->p.wr[0] = rt->p.wr[1] = rt->p.in = rt->pr.fd = -1;
	n->st = S_RUNNING;
	n->t0 = now();
	if (n->input)
		leaves(n->input, collect_src, n);
	act_add(n);
	notify_task_begin(n);
	if (opt.jobs && R.running >= opt.jobs) {
		rt->ph = T_QUEUED;
		R.queue = xgrow(R.queue, &R.cqueue, R.nqueue + 1, sizeof *R.queue);
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

/* The process that led group g (task n's) was reaped: g is forgotten
 * once the group is empty, so that its id, which the kernel may then
 * reuse, is never signalled; a group with members left lingers until
 * they are gone (orphan_reaped). Whether it is empty is asked at the end
 * of the loop's turn (groups_settle), off the path from one task's end
 * to the next one's start. */
static void
group_ended(pid_t g, struct node *n)
{
	if (n->keep)
		return; /* not the guardian's, not killed at the end */
	R.linger = xgrow(R.linger, &R.clinger, R.nlinger + 1, sizeof *R.linger);
	R.linger[R.nlinger].g = g, R.linger[R.nlinger++].n = n;
}

/* The groups that ended since the last call: forgotten when empty, the
 * others linger. */
static void
groups_settle(void)
{
	size_t i = R.nsettled;

	while (i < R.nlinger)
		if (group_empty(R.linger[i].g)) {
			guard_mark(R.linger[i].g, 0);
			R.linger[i] = R.linger[--R.nlinger];
		} else {
			i++;
		}
	R.nsettled = R.nlinger;
}

/* An orphan (a process a task left, adopted as subreaper) was reaped:
 * it may have been the last of a lingering group. */
static void
orphan_reaped(void)
{
	R.nsettled = 0; /* all of them again */
	groups_settle();
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
	int st, any = R.chld;

	R.chld = 0; /* one that comes from here on is seen next turn */
	while (any && (pid = waitpid(-1, &st, WNOHANG | WUNTRACED)) > 0) {
		struct node *n;
		struct proc *p;
		int s;
		if (WIFSTOPPED(st)) {
			stopped(pid, WSTOPSIG(st));
			continue;
		}
		/* What ended may have changed PATH: the lookups of the starts
		 * that follow in this turn are checked again (a task can start
		 * and end within one turn: walter is not woken in between) */
		R.turn++;
		if (notify_reaped(pid, st))
			continue; /* the notification worker: its status is not ours */
		if (pid == R.guard) {
			R.guard = 0;
			fd_drop(&R.gfd);
			logmsg(L_WARN, NULL,
				"the guardian ended early: a SIGKILL of walter would leave tasks running");
			continue;
		}
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
		/* all it wrote is in the pipes now: the last read (drain
		 * closes them; a daemon that holds them gets EPIPE from here on) */
		for (s = 0; s < 2; s++)
			if (p->fd[s] >= 0)
				drain(n, s);
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
			cancel_run("the run took longer than -timeout %gs", opt.timeout);
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
		cancel_run("the cleanup took longer than -cleanup-timeout %s",
			fmt_dur(opt.cleanup_timeout, d, sizeof d));
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
	char d[32], b[32];

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
	cancel_run("received %s", sig_name(R.sig, b, sizeof b));
}

/* The next burst of each parallel group that has entries left to start. */
static void
more_start(void)
{
	size_t i, n = R.nmore, cap = R.cmore;
	struct node **g;

	R.burst = PAR_BURST;
	if (!n)
		return;
	/* the groups that get more now refill the other array */
	g = R.more, R.more = R.more2, R.cmore = R.cmore2, R.nmore = 0;
	R.more2 = NULL, R.cmore2 = 0;
	for (i = 0; i < n; i++) {
		g[i]->more = 0;
		if (g[i]->st == S_RUNNING && par_advance(g[i]))
			parent_step(g[i]);
	}
	R.more2 = g, R.cmore2 = cap;
}

/* A descriptor the loop watches is ready (ev_wait). */
static void
ev_ready(int fd, unsigned gen)
{
	struct watch *w = (size_t)fd < R.nwatch ? &R.watch[fd] : NULL;
	struct node *n;

	if (!w || !w->events || w->gen != gen)
		return; /* unwatched (and maybe reused) since the event */
	n = w->n;
	switch (w->kind) {
	case WK_SELF:
		self_drain();
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
	t = now();
	if (prog_due() < HUGE_VAL && (!next || prog_due() < next))
		next = prog_due(); /* the status line's next frame */
	if (R.nmore)
		ms = 0; /* entries left to start: only look at what is ready */
	else if (!next)
		ms = -1;
	else if (next - t > 1e6)
		ms = 1000000000;
	else if ((ms = next <= t ? 0 : (int)((next - t) * 1000)) < (next - t) * 1000)
		ms++; /* round up: never wake before the deadline */
	ev_wait(ms);
	if (R.woken) /* the wait ended with EINTR: the byte is read here */
		self_drain();
	R.turn++; /* PATH lookups are checked again after a wait */
	reap();
	on_walter_signal();
	more_start();
	groups_settle();
	prog_tick();
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
 * where they do not (no subreaper), anywhere with this run's mark or in
 * a lingering group (in walter's session: without a subreaper walter may
 * not see a group empty, and its id may lead someone else's session
 * since). Each
 * is told to a task by its mark, else by a lingering group it is in,
 * else by its parent; what keep_running tasks left and what the worker
 * runs are classed apart. -1 without /proc. */
static int
leftovers(struct left **out, size_t *n)
{
	struct pinfo *d, *all;
	struct pidmap at = { 0 }; /* pid -> its entry in out, plus 1 */
	size_t nd, nall, i, j, k;
	long num;

	*out = NULL, *n = 0;
	if (descendants(&d, &nd) < 0)
		return -1;
	if (!R.subreaper && proc_all(&all, &nall) == 0) {
		for (j = 0; j < nall; j++) {
			for (i = 0; i < nd && d[i].pid != all[j].pid; i++)
				;
			for (k = 0; i == nd && k < R.nlinger &&
				(R.linger[k].g != all[j].pgrp || all[j].sid != getsid(0));
				k++)
				;
			if (i == nd && (k < R.nlinger || proc_mark(all[j].pid) >= 0)) {
				d = xreallocarray(d, nd + 1, sizeof *d);
				d[nd++] = all[j];
			}
		}
		free(all);
	}
	*out = xreallocarray(NULL, nd ? nd : 1, sizeof **out);
	for (i = 0; i < nd; i++) {
		struct left *l = &(*out)[i], *up = NULL;
		if ((k = (size_t)pm_get(&at, d[i].ppid)))
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

	groups_settle();
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
	R.nlinger = R.nsettled = 0;
}

/* ---- selection: NAME... and -from ------------------------------------ */

/* ", N not selected" for the summaries when NAME... or -from left
 * tasks out, else "" (so a full run's summary reads as it always did). */
static const char *
notsel_text(const size_t count[S_NSTATUS], char *b, size_t n)
{
	*b = '\0';
	if (count[S_NOTSEL])
		snprintf(b, n, ", %zu not selected", count[S_NOTSEL]);
	return b;
}

/* The names from the phase's list down to n, outermost first, the
 * wrappers of a D1 stage with children once (as task_path does); *k is
 * how many. The caller frees the array. */
static const char **
node_path(const struct node *n, size_t *k)
{
	const struct node *p;
	const char **v, *last = NULL, *t;
	size_t depth = 0, i;

	for (p = n; p->parent; p = p->parent)
		depth++;
	v = xreallocarray(NULL, depth + 1, sizeof *v);
	for (*k = 0, p = n; p->parent; p = p->parent)
		if (!last || strcmp(last, p->name))
			v[(*k)++] = last = p->name;
	for (i = 0; i < *k / 2; i++)
		t = v[i], v[i] = v[*k - 1 - i], v[*k - 1 - i] = t;
	return v;
}

/* Does sel name n: its name, or a path "group/name" that ends n's path?
 * (Compared name by name from the end, so a name may hold a '/'.) */
static int
sel_matches(const struct node *n, const char *sel)
{
	const char **v;
	size_t k, i, len = strlen(sel);
	int ok = 0;

	if (!n->parent)
		return 0; /* a phase's list */
	if (!strcmp(n->name, sel))
		return 1;
	if (!strchr(sel, '/'))
		return 0;
	v = node_path(n, &k);
	for (i = k; i > 0; i--) {
		size_t m = strlen(v[i - 1]);
		if (m > len || strncmp(sel + len - m, v[i - 1], m))
			break;
		if (!(len -= m)) {
			ok = 1;
			break;
		}
		if (sel[len - 1] != '/' || len == 1)
			break;
		len--;
	}
	free(v);
	return ok;
}

static void
sel_mark(struct node *n)
{
	size_t i;

	n->sel = 1;
	for (i = 0; i < n->nkids; i++)
		sel_mark(n->kids[i]);
}

/* Mark what each of the names selects under n; hit[j] |= bit when name
 * j matched there. */
static void
sel_names(struct node *n, char *hit, int bit)
{
	size_t i;
	int j, any = 0;

	for (j = 0; j < opt.nnames; j++)
		if (sel_matches(n, opt.names[j]))
			hit[j] |= (char)bit, any = 1;
	if (any)
		sel_mark(n);
	for (i = 0; i < n->nkids; i++)
		sel_names(n->kids[i], hit, bit);
}

/* Does any node under n match sel? */
static int
sel_any(const struct node *n, const char *sel)
{
	size_t i;

	if (sel_matches(n, sel))
		return 1;
	for (i = 0; i < n->nkids; i++)
		if (sel_any(n->kids[i], sel))
			return 1;
	return 0;
}

/* -from: the first node named sel in document order, and everything
 * after it; *on says the start was passed. Returns 1 once found. */
static int
sel_from(struct node *n, const char *sel, int *on)
{
	size_t i;
	int found = 0;

	if (!*on && sel_matches(n, sel))
		*on = found = 1;
	if (*on && n->kind == N_TASK)
		n->sel = 1;
	for (i = 0; i < n->nkids; i++)
		found |= sel_from(n->kids[i], sel, on);
	return found;
}

/* Everything under n that was not selected becomes "not selected"
 * (groups too, when nothing under them was); 1 if nothing was. */
static int
sel_apply(struct node *n)
{
	size_t i;
	int none = 1;

	if (n->sel && n->kind == N_TASK)
		return 0;
	if (n->kind == N_TASK) {
		n->st = S_NOTSEL;
		if (n->input) /* it will not read its input's output */
			leaves(n->input, release_one, n);
		return 1;
	}
	for (i = 0; i < n->nkids; i++)
		none &= sel_apply(n->kids[i]);
	if (none && n->parent)
		n->st = S_NOTSEL;
	return none;
}

/* The closest name or path to sel among the nodes under n (for a
 * did-you-mean); *bd is the distance to beat. */
static void
sel_closest(const struct node *n, const char *sel, const char **best, size_t *bd, struct buf *b)
{
	size_t i, k, d;

	if (n->parent) {
		const char **v = node_path(n, &k);
		if ((d = edit_distance(sel, n->name)) < *bd)
			*bd = d, *best = n->name;
		b->len = 0;
		for (i = 0; i < k; i++)
			xprintf(b, "%s%s", i ? "/" : "", v[i]);
		free(v);
		if (k > 1 && (d = edit_distance(sel, b->data)) < *bd)
			*bd = d, *best = astrndup(b->data, b->len);
	}
	for (i = 0; i < n->nkids; i++)
		sel_closest(n->kids[i], sel, best, bd, b);
}

static void
sel_unknown(const char *what, const char *sel)
{
	const char *best = NULL;
	size_t bd = 3, i;
	struct buf b = { 0 };

	for (i = 0; i < 2; i++)
		if (cfg.ph[i].label) {
			sel_closest(cfg.ph[i].main, sel, &best, &bd, &b);
			sel_closest(cfg.ph[i].cleanup, sel, &best, &bd, &b);
		}
	buf_free(&b);
	if (best)
		warn("%sno task \"%s\" in %s (did you mean \"%s\"?)", what, sel, opt.config, best);
	else
		warn("%sno task \"%s\" in %s (-list shows them)", what, sel, opt.config);
}

/* Where -from's task is when it is not in a main list that runs. */
static void
from_missing(void)
{
	int i;

	for (i = 0; i < 2; i++)
		if (cfg.ph[i].label && sel_any(cfg.ph[i].main, opt.from)) {
			warn("-from: task \"%s\" is in the %s phase, which these flags do not run (add -%s)",
				opt.from, i ? "deploy" : "build", i ? "deploy" : "build");
			return;
		}
	for (i = 0; i < 2; i++)
		if (cfg.ph[i].label && sel_any(cfg.ph[i].cleanup, opt.from)) {
			warn("-from: \"%s\" is a cleanup task (cleanup lists always run)",
				opt.from);
			return;
		}
	sel_unknown("-from: ", opt.from);
}

/* NAME... and -from: mark what runs (the cleanup lists always run) and,
 * without -build or -deploy, pick the phases that hold the names. Exits
 * 2 on a name that names nothing or a phase the flags leave out. */
static void
select_tasks(int *first, int *last)
{
	char *hit = xmalloc((size_t)opt.nnames + 1);
	int i, j, lo = 2, hi = -1, bad = 0, on = 0, from_ph = -1;
	int phflags = cfg.format == FMT_BUILD_DEPLOY && (opt.build || opt.deploy);

	memset(hit, 0, (size_t)opt.nnames + 1);
	for (i = 0; i < 2; i++)
		if (cfg.ph[i].label) {
			sel_names(cfg.ph[i].main, hit, 1 << i);
			sel_names(cfg.ph[i].cleanup, hit, 1 << i);
		}
	for (j = 0; j < opt.nnames; j++) {
		if (!hit[j]) {
			sel_unknown("", opt.names[j]);
			bad = 1;
		}
		for (i = 0; i < 2; i++) {
			if (!(hit[j] & (1 << i)))
				continue;
			if (phflags && (i < *first || i > *last)) {
				warn("task \"%s\" is in the %s phase, which these flags do not run (add -%s)",
					opt.names[j], i ? "deploy" : "build",
					i ? "deploy" : "build");
				bad = 1;
			}
			lo = i < lo ? i : lo, hi = i > hi ? i : hi;
		}
	}
	free(hit);
	for (i = phflags ? *first : 0; opt.from && i <= (phflags ? *last : 1); i++)
		if (cfg.ph[i].label && from_ph < 0 && sel_from(cfg.ph[i].main, opt.from, &on))
			from_ph = i;
		else if (cfg.ph[i].label && from_ph >= 0)
			sel_mark(cfg.ph[i].main);
	if (opt.from && from_ph < 0) {
		from_missing();
		bad = 1;
	} else if (opt.from) {
		lo = from_ph < lo ? from_ph : lo, hi = from_ph > hi ? from_ph : hi;
	}
	if (bad)
		exit(2);
	if (!phflags && cfg.format == FMT_BUILD_DEPLOY)
		*first = lo, *last = hi;
	for (i = *first; i <= *last; i++)
		sel_apply(cfg.ph[i].main);
}

/* How many tasks the phases first..last may run (the status line's total). */
static size_t
tasks_under(const struct node *n)
{
	size_t i, k = n->kind == N_TASK && n->st != S_NOTSEL;

	for (i = 0; i < n->nkids; i++)
		k += tasks_under(n->kids[i]);
	return k;
}

static size_t
run_total(int first, int last)
{
	size_t k = 0;
	int i;

	for (i = first; i <= last; i++)
		k += tasks_under(cfg.ph[i].main) + tasks_under(cfg.ph[i].cleanup);
	return k;
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

/* "Build failed", "Pipeline cleanup aborted" (a second signal stopped
 * it), "Deploy succeeded", with how long the list took. */
static void
list_end(const char *label, const char *list, int failed, double t0)
{
	const char *how = failed ? "failed" : R.cancel ? "aborted" : "succeeded";
	char d[32];

	logmsg(failed              ? L_ERROR
			: R.cancel ? L_WARN
				   : L_INFO,
		NULL, "%s%s %s (%s)", label, list, how, fmt_dur(now() - t0, d, sizeof d));
}

/* Run the selected phases in order: main list, then its cleanup always;
 * a failed build stops before deploy. Returns 1 if anything failed. */
static int
run_phases(int first, int last)
{
	int i, failed = 0, f;

	for (i = first; i <= last && !failed && !R.nsig && !R.timed_out; i++) {
		struct phase *ph = &cfg.ph[i];
		double t = now();
		logmsg(L_INFO, NULL, "%s started", ph->label);
		f = run_list(ph->main, 0);
		list_end(ph->label, "", f, t);
		failed |= f;
		if (R.nsig > 1) {
			logmsg(L_WARN, NULL, "%s cleanup skipped (second signal)", ph->label);
			continue;
		}
		t = now();
		logmsg(L_INFO, NULL, "%s cleanup started", ph->label);
		f = run_list(ph->cleanup, 1);
		list_end(ph->label, " cleanup", f, t);
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

/* This machine's name, for events and reports (looked up once). */
static const char *
host_name(void)
{
	if (!N.host[0] && gethostname(N.host, sizeof N.host - 1) < 0)
		snprintf(N.host, sizeof N.host, "localhost");
	return N.host;
}

/* The word of a status in the event and the reports; a task that was
 * never reached counts as skipped. */
static const char *
st_word(enum status st)
{
	return st == S_CONDFALSE ? "condition_false"
		: st == S_NOTSEL ? "not_selected"
				 : bit_word(st_bit(st));
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

/* The last OUT_CAP bytes of a capture, from a line start when cut, with
 * secrets masked: the masking sees the bytes before the cut too, so a
 * secret cut in two is hidden all the same. */
static void
cap_tail(struct capture *c, struct buf *out)
{
	size_t pre = c && sec.n ? sec.longest : 0, from, len;
	off_t off = c && c->size > OUT_CAP ? c->size - OUT_CAP : 0;
	struct buf raw = { 0 };
	const char *m;
	ssize_t r;
	char *nl;

	if (!c || !c->size)
		return;
	if ((off_t)pre > off)
		pre = (size_t)off;
	if (buf_grow(&raw, OUT_CAP + pre) < 0)
		fatal("out of memory");
	if ((r = cap_read(c, off - (off_t)pre, raw.data, (size_t)(c->size - off) + pre)) <= 0 ||
		(size_t)r <= pre)
		goto out;
	from = pre;
	if (off && (nl = memchr(raw.data + pre, '\n', (size_t)r - pre)) && nl < raw.data + r - 1)
		from = (size_t)(nl + 1 - raw.data);
	m = mask_tail(raw.data, (size_t)r, from, &len);
	if (off)
		xputs(out, "...\n");
	xput(out, m, len);
out:
	buf_free(&raw);
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
	jstr_m(b, n->name, strlen(n->name));
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
	jfield(b, "host", host_name());
	jfield(b, "phase", phase);
	xprintf(b, ",\"cleanup\":%s", cleanup ? "true" : "false");
	jfield_m(b, "name", n->name);
	xputs(b, ",\"path\":");
	task_path(n, b);
	jfield(b, "status", st_word(n->st));
	if (n->code >= 0 && n->st != S_CONDFALSE && n->st != S_SKIPPED)
		xprintf(b, ",\"exit_code\":%d", n->code);
	else
		xputs(b, ",\"exit_code\":null");
	xprintf(b, ",\"attempts\":%d,\"duration\":%.3f", n->attempts, n->t1 - n->t0);
	jfield(b, "start", rfc3339(n->t0, t0, sizeof t0));
	jfield(b, "end", rfc3339(n->t1, t1, sizeof t1));
	result_text(n, &t);
	jfield_m(b, "text", t.data);
	jfield_m(b, "reason", n->why);
	if (n->report_full && !(suppress & SUP_STDOUT)) {
		t.len = 0, cap_tail(n->cap[0], &t); /* masked */
		xputs(b, ",\"stdout\":");
		jstr(b, t.len ? t.data : "", t.len);
	}
	if (n->report_full && !(suppress & SUP_STDERR)) {
		t.len = 0, cap_tail(n->cap[1], &t);
		xputs(b, ",\"stderr\":");
		jstr(b, t.len ? t.data : "", t.len);
	}
	xputs(b, "}\n");
	buf_free(&t);
}

/* s[0..*n) cut to at most max bytes for a receiver that takes no more:
 * its first line, "...", and its end, cut between characters. Returns s
 * when it fits, else the text in c. */
static const char *
clip(const char *s, size_t *n, size_t max, struct buf *c)
{
	size_t head, start;

	if (*n <= max)
		return s;
	for (head = 0; head < *n && head < max / 4 && s[head] != '\n'; head++)
		;
	while (head && ((unsigned char)s[head] & 0xC0) == 0x80)
		head--;
	start = *n - (max - head - 5);
	while (start < *n && ((unsigned char)s[start] & 0xC0) == 0x80)
		start++;
	c->len = 0;
	xput(c, s, head);
	xputs(c, "\n...\n");
	xput(c, s + start, *n - start);
	*n = c->len;
	return c->data;
}

/* Colours of today's chat services for good/danger/warning (Slack's). */
static const char *
hex_color(const char *color)
{
	return !strcmp(color, "good")      ? "#2eb886"
		: !strcmp(color, "danger") ? "#a30200"
					   : "#daa038";
}

/* discord, teams, mattermost, googlechat: one JSON message each (README). */
static void
chat_body_new(
	const struct notifier *nt, const char *text, size_t len, const char *color, struct buf *b)
{
	struct buf c = { 0 };

	xputs(b, "{");
	switch (nt->kind) {
	case NT_DISCORD: /* a result as an embed with its colour, output as text */
		jfield(b, "username", nt_get(nt, "username"));
		jfield(b, "avatar_url", nt_get(nt, "avatar_url"));
		xputs(b, b->len > 1 ? "," : "");
		if (color) {
			text = clip(text, &len, 4000, &c);
			xputs(b, "\"embeds\":[{\"description\":");
			jstr(b, text, len);
			xprintf(b, ",\"color\":%ld}]", strtol(hex_color(color) + 1, NULL, 16));
		} else {
			text = clip(text, &len, 2000, &c);
			xputs(b, "\"content\":");
			jstr(b, text, len);
		}
		xputs(b, ",\"allowed_mentions\":{\"parse\":[]}");
		break;
	case NT_TEAMS: /* an Adaptive Card, as Workflows and incoming webhooks take */
		text = clip(text, &len, 20000, &c);
		xputs(b,
			"\"type\":\"message\",\"attachments\":[{\"contentType\":"
			"\"application/vnd.microsoft.card.adaptive\",\"contentUrl\":null,"
			"\"content\":{\"$schema\":\"http://adaptivecards.io/schemas/adaptive-card.json\","
			"\"type\":\"AdaptiveCard\",\"version\":\"1.4\",\"body\":[{\"type\":\"TextBlock\","
			"\"text\":");
		jstr(b, text, len);
		xputs(b, ",\"wrap\":true");
		if (color)
			xprintf(b, ",\"color\":\"%s\"",
				!strcmp(color, "good")             ? "Good"
					: !strcmp(color, "danger") ? "Attention"
								   : "Warning");
		else
			xputs(b, ",\"fontType\":\"Monospace\"");
		xputs(b, "}]}}]");
		break;
	case NT_MATTERMOST: /* Slack's JSON; the channel without '#' */
		text = clip(text, &len, 16000, &c);
		jfield(b, "channel", nt->channel);
		jfield(b, "username", nt_get(nt, "username"));
		jfield(b, "icon_emoji", nt_get(nt, "icon"));
		jfield(b, "icon_url", nt_get(nt, "icon_url"));
		xputs(b, b->len > 1 ? ",\"attachments\":[{" : "\"attachments\":[{");
		if (color)
			xprintf(b, "\"color\":\"%s\",", hex_color(color));
		xputs(b, "\"fallback\":");
		jstr(b, text, strcspn(text, "\n") < len ? strcspn(text, "\n") : len);
		xputs(b, ",\"text\":");
		jstr(b, text, len);
		xputs(b, "}]");
		break;
	default: /* googlechat */
		text = clip(text, &len, 4000, &c);
		xputs(b, "\"text\":");
		jstr(b, text, len);
		break;
	}
	xputs(b, "}\n");
	buf_free(&c);
}

/* The body of one chat message; color NULL for output messages. */
static void
chat_body(const struct notifier *nt, const char *text, size_t len, const char *color, struct buf *b)
{
	const char *from = nt_get(nt, "from"), *col = nt_get(nt, "color");
	struct buf j = { 0 };

	if (nt->kind >= NT_DISCORD) {
		chat_body_new(nt, text, len, color, b);
		return;
	}

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

/* ---- commit statuses (walter side; the service's too) ----------------- */

/* The state words of GitHub and GitLab per enum cstate. GitLab cannot go
 * from running to skipped: a task skipped by its condition is a success
 * with a description that says so, on both. */
static const char *const cs_word[2][6] = {
	{ "pending", "success", "failure", "error", "error", "success" },
	{ "running", "success", "failed", "failed", "canceled", "success" },
};

/* Append s[0..n) cut to at most max characters (UTF-8; "..." marks a
 * cut): GitHub refuses a description longer than 140. */
static void
put_cut(struct buf *b, const char *s, size_t n, size_t max)
{
	size_t i, chars = 0, at3 = 0;

	for (i = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xC0) == 0x80)
			continue;
		if (chars == max - 3)
			at3 = i;
		if (chars++ == max) {
			xput(b, s, at3);
			xputs(b, "...");
			return;
		}
	}
	xput(b, s, n);
}

/* The JSON body of a commit status: GitHub {state, context, target_url,
 * description}, GitLab {state, name, target_url, description}; empty
 * values left out; what walter says is masked and cut to 140. */
static void
status_body(int gitlab, enum cstate cs, const char *context, const char *desc, const char *target,
	struct buf *b)
{
	struct buf d = { 0 }, c = { 0 };
	size_t n = strlen(desc);
	const char *m = hide(desc, &n);

	put_cut(&d, m, n, 140);
	n = strlen(context);
	m = hide(context, &n);
	xput(&c, m, n);
	xputs(b, "{");
	jfield(b, "state", cs_word[gitlab][cs]);
	jfield(b, gitlab ? "name" : "context", c.data);
	jfield(b, "target_url", target);
	jfield(b, "description", d.data);
	xputs(b, "}\n");
	buf_free(&d), buf_free(&c);
}

/* What the status of a task says, and its state. */
static enum cstate
task_desc(const struct node *n, struct buf *d)
{
	char t[32], *why = n->rt && n->rt->why[0] ? n->rt->why : NULL;

	fmt_dur(n->t1 - n->t0, t, sizeof t);
	switch (n->st) {
	case S_OK:
		xprintf(d, "Succeeded (%s)", t);
		return CS_OK;
	case S_FAILED:
		if (why)
			xprintf(d, "Failed: %s (%s)", why, t);
		else if (n->code > 128)
			xprintf(d, "Failed: killed by signal %d (%s)", n->code - 128, t);
		else
			xprintf(d, "Failed: exit status %d (%s)", n->code, t);
		return CS_FAIL;
	case S_ABORTED:
		xprintf(d, "Aborted (%s)", t);
		return CS_ABORT;
	case S_CONDFALSE:
		xputs(d, "Skipped (condition)");
		return CS_SKIP;
	default:
		xputs(d, "Running");
		return CS_START;
	}
}

/* What the status of the run says at its end, and its state. */
static enum cstate
run_desc(int failed, double t0, struct buf *d)
{
	char t[32];
	size_t i, nf = 0;

	fmt_dur(now() - t0, t, sizeof t);
	if (R.nsig) {
		xprintf(d, "%s aborted by signal %d (%s)", opt.config, (int)R.sig, t);
		return CS_ABORT;
	}
	if (R.timed_out) {
		xprintf(d, "%s: -timeout expired (%s)", opt.config, t);
		return CS_ABORT;
	}
	if (!failed) {
		xprintf(d, "%s succeeded (%s)", opt.config, t);
		return CS_OK;
	}
	xprintf(d, "%s failed (%s)", opt.config, t);
	for (i = 0; i < cfg.ntasks && d->len < 200; i++)
		if (cfg.tasks[i]->st == S_FAILED)
			xprintf(d, "%s%s", nf++ ? ", " : ": ", cfg.tasks[i]->name);
	return CS_FAIL;
}

static void enqueue(size_t nt, const char *label, const struct buf *body, int summary);

/* Queue a commit status for each status notifier; for task n (not NULL)
 * only to those with per_task, in the context "context/NAME". */
static void
status_queue(enum cstate cs, const struct node *n, const char *desc)
{
	struct buf b = { 0 }, c = { 0 };
	size_t i;

	for (i = 0; N.ev >= 0 && i < cfg.nnt; i++) {
		const struct notifier *nt = &cfg.nt[i];
		if (!is_status(nt) || nt->off || (n && !nt->per_task))
			continue;
		c.len = b.len = 0;
		if (n)
			xprintf(&c, "%s/%s", nt->context, n->name);
		else
			xputs(&c, nt->context);
		status_body(nt->kind == NT_GITLAB_STATUS, cs, c.data, nt->desc ? nt->desc : desc,
			nt->target, &b);
		enqueue(i, n ? n->name : "", &b, !n); /* the run's status is never dropped */
	}
	buf_free(&b), buf_free(&c);
}

/* How long a rate-limited answer asks to wait, in seconds from now t:
 * its Retry-After, else until X-RateLimit-Reset when X-RateLimit-Remaining
 * is 0. -1 when rs is no such answer (only a 403 or a 429 is). */
static long long
rate_wait(const struct http_response *rs, long long t)
{
	const char *ra = http_header(rs, "Retry-After"), *rem, *reset;
	long long w;
	char *end;

	if (rs->status != 403 && rs->status != 429)
		return -1;
	if (ra && (w = http_retry_after(ra, t)) >= 0)
		return w;
	rem = http_header(rs, "X-RateLimit-Remaining");
	reset = http_header(rs, "X-RateLimit-Reset");
	if (!rem || !reset || strtoll(rem, &end, 10) != 0 || end == rem || *end)
		return -1;
	errno = 0;
	w = strtoll(reset, &end, 10);
	if (errno || end == reset || *end || w < 0)
		return -1;
	return w > t ? w - t : 0;
}

/* The "message" (or "error") of an API's JSON answer, for a log line;
 * "" if there is none. */
static void
api_message(const struct buf *body, char *out, size_t n)
{
	char err[128];
	struct yaml_doc *doc;
	const struct yaml_node *r, *m = NULL;

	*out = '\0';
	if (!body->len || body->len > (1 << 20) ||
		!(doc = yaml_parse(body->data, body->len, "answer", err, sizeof err)))
		return;
	r = yaml_count(doc) ? yaml_root(doc, 0) : NULL;
	if (r && !(m = yaml_get(r, "message")))
		m = yaml_get(r, "error");
	if (m && m->kind == YAML_SCALAR)
		snprintf(out, n, " (%.200s)", m->text);
	yaml_free(doc);
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

/* Sleep s seconds (signals do not cut it short). */
static void
snooze(double s)
{
	struct timespec ts, rem;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &rem) < 0 && errno == EINTR)
		ts = rem;
}

/* POST one message. A rate-limited answer (403 or 429 with Retry-After,
 * or no requests left until X-RateLimit-Reset) is waited for once when
 * the wait ends within the notifier's timeout, which covers the whole. */
static void
deliver_http(size_t i, const char *label, const struct buf *body)
{
	const struct notifier *nt = &cfg.nt[i];
	struct http_request rq;
	struct http_response rs;
	char err[512], msg[256] = "";
	double t = now(), left;
	long long wait = -1;
	int r, tries;

	memset(&rq, 0, sizeof rq);
	rq.method = "POST", rq.url = nt->url, rq.content_type = nt->ctype;
	rq.headers = nt->hdr[0] ? nt->hdr : NULL;
	rq.body = body->data, rq.body_len = body->len;
	rq.tls_proxy = nt->tls_proxy;
	rq.want_headers = 1;
	for (tries = 0;; tries++) {
		left = tries ? nt->timeout - (now() - t) : nt->timeout;
		rq.timeout_ms = left > 0.001 ? (int)(left * 1000) : 1;
		rq.connect_timeout_ms = rq.timeout_ms < 5000 ? rq.timeout_ms : 5000;
		r = http_send(&rq, &rs, err, sizeof err);
		if (r < 0 || tries || (wait = rate_wait(&rs, (long long)time(NULL))) < 0 ||
			now() - t + (double)wait >= nt->timeout - 0.1)
			break;
		wlog(L_WARN, label, "%s (%s) answered HTTP %d (rate limit): sending again in %llds",
			nt->type, nt->where, rs.status, wait);
		http_response_free(&rs);
		snooze((double)wait);
	}
	if (r < 0) {
		wlog(L_ERROR, label, "Failed to notify to %s: %s", nt->type, err);
		if (now() - t >= nt->timeout - 0.05) {
			W.down[i] = 1;
			wlog(L_ERROR, label,
				"%s (%s) did not answer in time: its later messages are dropped",
				nt->type, nt->where);
		}
	} else if (rs.status >= 200 && rs.status <= 299) {
		wlog(L_DEBUG, label, "Notify to %s (%s)", nt->type, nt->where);
	} else {
		if (is_status(nt))
			api_message(&rs.body, msg, sizeof msg);
		if (is_status(nt) && rs.status == 422) /* GitHub: an unknown commit, say */
			wlog(L_WARN, label, "%s (%s) refused the status: HTTP 422%s", nt->type,
				nt->where, msg);
		else
			wlog(L_ERROR, label, "Failed to notify to %s: %s answered HTTP %d%s%s",
				nt->type, nt->where, rs.status, msg,
				rate_wait(&rs, (long long)time(NULL)) >= 0 ? " (rate limit)" : "");
	}
	http_response_free(&rs);
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

/* The exec notifier's child: the event on stdin, stdout and stderr into
 * the pipe exec_wait reads, then the shell; why it could not, down ep. */
static void __attribute__((noreturn)) exec_child(char **argv, int in, int out, int ep)
{
	int e;

	child_signals();
	if (dup2(in, 0) >= 0 && dup2(out, 1) >= 0 && dup2(out, 2) >= 0)
		execve(R.sh, argv, environ);
	e = errno;
	(void)!write(ep, &e, sizeof e);
	_exit(127);
}

static void
deliver_exec(size_t i, const char *label, const struct buf *body)
{
	const struct notifier *nt = &cfg.nt[i];
	char *argv[] = { "sh", "-c", (char *)nt->command, NULL };
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, ep[2] = { -1, -1 }, st = 0, e = 0, late;
	struct buf output = { 0 };
	pid_t pid = -1;

	/* vfork, as for tasks: a fork copied the worker's page tables for
	 * every event (under ASan, its shadow's too), and the events of a
	 * quick run waited in line behind each other's starts. The worker's
	 * one handler (SIGCHLD's) only writes a wake-up byte: harmless if it
	 * runs in the child before the exec. */
	if (xpipe(in) == 0 && xpipe(out) == 0 && xpipe(ep) == 0)
#ifdef WALTER_VFORK
		pid = vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork) */
#else
		pid = fork();
#endif
	if (pid == 0) /* NOLINTNEXTLINE(clang-analyzer-unix.Vfork): it only execs or exits */
		exec_child(argv, in[0], out[1], ep[1]);
	if (pid < 0) {
		wlog(L_ERROR, label, "Failed to notify to exec: cannot start it: %s",
			strerror(errno));
		goto out;
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
	host_name();
	log_flush();
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
	guard_mark(pid, 1);
	close(ev[0]), close(lp[1]);
	nonblock(ev[1]);
	nonblock(lp[0]);
	N.pid = pid, N.ev = ev[1], N.log = lp[0];
	ev_set(N.log, WK_NLOG, NULL, POLLIN);
	for (i = 0; i < cfg.nnt; i++)
		if (is_status(&cfg.nt[i]) && !cfg.nt[i].off && cfg.nt[i].per_task)
			N.per_task = 1;
}

/* The run starts: the "start" event, a pending (GitHub) or running
 * (GitLab) status on the commit. */
static void
notify_begin(void)
{
	struct buf d = { 0 };

	xprintf(&d, "Running %s", opt.config);
	status_queue(CS_START, NULL, d.data);
	buf_free(&d);
}

/* Task n starts (it may still turn out skipped by its condition): a
 * pending status of its own for per_task status notifiers. */
static void
notify_task_begin(struct node *n)
{
	if (N.per_task && N.ev >= 0)
		status_queue(CS_START, n, "Running");
}

/* The file did not load: before exit 2, tell the commit (GitHub error,
 * GitLab failed, with the first error as description) through each
 * status notifier whose own settings were fine. Nothing else runs, so
 * it is sent from here, one request each. */
static void
notify_load_error(void)
{
	struct http_request rq;
	struct http_response rs;
	struct buf b = { 0 };
	char err[512];
	size_t i;

	if (opt.check || opt.plan || (!strcmp(opt.mode, "service") && svc.github))
		return;
	secrets_from_env();
	for (i = 0; i < cfg.nnt; i++) {
		const struct notifier *nt = &cfg.nt[i];
		if (!is_status(nt) || nt->off || nt->bad || !nt->url || !nt->where)
			continue;
		b.len = 0;
		status_body(nt->kind == NT_GITLAB_STATUS, CS_CONFIG, nt->context,
			nt->desc                     ? nt->desc
				: cfg.first_error[0] ? cfg.first_error
						     : "configuration error",
			nt->target, &b);
		memset(&rq, 0, sizeof rq);
		rq.method = "POST", rq.url = nt->url, rq.content_type = nt->ctype;
		rq.headers = nt->hdr, rq.body = b.data, rq.body_len = b.len;
		rq.tls_proxy = nt->tls_proxy, rq.timeout_ms = (int)(nt->timeout * 1000);
		rq.connect_timeout_ms = rq.timeout_ms < 5000 ? rq.timeout_ms : 5000;
		if (http_send(&rq, &rs, err, sizeof err) < 0)
			warn("%s: the error status was not posted: %s", nt->type, err);
		else if (rs.status / 100 != 2)
			warn("%s: the error status was not posted: %s answered HTTP %d", nt->type,
				nt->where, rs.status);
		http_response_free(&rs);
	}
	buf_free(&b);
}

/* Does notifier nt post per-task messages about n? */
static int
nt_wants(const struct notifier *nt, const struct node *n)
{
	return nt->kind != NT_FAKE && !is_status(nt) && !nt->off && !nt->summary &&
		(nt->on & st_bit(n->st)) && !n->suppress_all && !(cfg.message_mode && !n->message);
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

	if (N.per_task && n->st != S_SKIPPED) { /* skipped: it never started */
		enum cstate cs = task_desc(n, &b);
		status_queue(cs, n, b.data);
	}
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
	char d[32], s0[64], s1[64], ns[48];

	count_status(count);
	xprintf(&t,
		"[%s] %s: %zu succeeded, %zu failed, %zu skipped, %zu aborted, %zu condition false%s (%s)",
		opt.config,
		bit == ON_SUCCESS           ? "Succeeded"
			: bit == ON_FAILURE ? "Failed"
					    : "Aborted",
		count[S_OK], count[S_FAILED], count[S_SKIPPED], count[S_ABORTED],
		count[S_CONDFALSE], notsel_text(count, ns, sizeof ns),
		fmt_dur(now() - t0, d, sizeof d));
	summary_failed(&t, &f);
	xputs(&e, "{");
	jfield(&e, "event", "summary");
	jfield(&e, "version", WALTER_VERSION);
	jfield(&e, "file", opt.config);
	jfield(&e, "host", host_name());
	jfield(&e, "status", bit_word(bit));
	xprintf(&e, ",\"duration\":%.3f", now() - t0);
	jfield(&e, "start", rfc3339(t0, s0, sizeof s0));
	jfield(&e, "end", rfc3339(now(), s1, sizeof s1));
	xprintf(&e,
		",\"counts\":{\"success\":%zu,\"failure\":%zu,\"skipped\":%zu,\"aborted\":%zu,"
		"\"condition_false\":%zu",
		count[S_OK], count[S_FAILED], count[S_SKIPPED], count[S_ABORTED],
		count[S_CONDFALSE]);
	if (count[S_NOTSEL])
		xprintf(&e, ",\"not_selected\":%zu", count[S_NOTSEL]);
	xputs(&e, "}");
	jfield_m(&e, "text", t.data);
	xprintf(&e, ",\"failed\":%s}\n", f.data);
	for (i = 0; N.ev >= 0 && i < cfg.nnt; i++) {
		const struct notifier *nt = &cfg.nt[i];
		if (nt->kind == NT_FAKE || is_status(nt) || nt->off || !nt->summary ||
			!(nt->on & bit))
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
	{
		struct buf d = { 0 };
		enum cstate cs = run_desc(failed, t0, &d);
		status_queue(cs, NULL, d.data);
		buf_free(&d);
	}
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
		"aborted", "condition false", "not selected" };
	return w[st];
}

/* The end of the log: every task's status and duration, then the last
 * lines of the first failed task. */
static void
summary(double t0)
{
	size_t i, count[S_NSTATUS] = { 0 }, ran = 0;
	char d[32];

	char ns[48];

	ran = count_status(count);
	notsel_text(count, ns, sizeof ns);
	logmsg(count[S_FAILED] ? L_ERROR : L_INFO, NULL,
		"Summary: %zu task%s: %zu succeeded, %zu failed, %zu skipped, %zu aborted, %zu condition false%s (%s)",
		ran, ran == 1 ? "" : "s", count[S_OK], count[S_FAILED], count[S_SKIPPED],
		count[S_ABORTED], count[S_CONDFALSE], ns, fmt_dur(now() - t0, d, sizeof d));
	for (i = 0; i < cfg.ntasks; i++) {
		struct node *n = cfg.tasks[i];
		enum level lv = n->st == S_FAILED            ? L_ERROR
			: n->st == S_OK || n->st == S_NOTSEL ? L_INFO
							     : L_WARN;
		if (n->st == S_PENDING)
			continue;
		if (lv < opt.threshold)
			continue;
		lg.msg.len = 0; /* "  %-15s %s (%s)", one per task: no printf */
		xput(&lg.msg, "                 ", 2);
		xputs(&lg.msg, status_word(n->st));
		xput(&lg.msg, "                 ", lg.msg.len < 18 ? 18 - lg.msg.len : 1);
		xputs(&lg.msg, n->name);
		if (n->st != S_NOTSEL) {
			xput(&lg.msg, " (", 2);
			xputs(&lg.msg, fmt_dur(n->t1 - n->t0, d, sizeof d));
			xput(&lg.msg, ")", 1);
		}
		log_line(lv, NULL, lg.msg.data, lg.msg.len);
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

/* " [what value]" */
static void
plan_note(struct buf *b, const char *what, const char *value)
{
	xputs(b, "  [");
	xputs(b, what);
	xputs(b, value);
	xput(b, "]", 1);
}

/* One node and what is under it, as lines of b; appended directly, not
 * printf'd: -plan of 20,000 tasks spent most of its time in printf. */
static void
plan_node(struct buf *b, const struct node *n, int depth)
{
	static const char *const kw[] = { "task", "serial", "parallel" };
	const char *cmd = n->command;
	size_t i, l;
	int d;

	for (d = 0; d < depth; d++)
		xput(b, "  ", 2);
	xputs(b, kw[n->kind]);
	xput(b, " \"", 2);
	xputs(b, n->name);
	xput(b, "\"", 1);
	if (n->kind == N_TASK) {
		if (cmd) {
			char **w = n->shell || opt.shell == SHELL_ALWAYS ? NULL : cmd_words(cmd);
			xputs(b, w ? ": " : ": sh -c "); /* a simple command runs directly */
			xput(b, cmd, l = strcspn(cmd, "\n"));
			if (cmd[l] && cmd[l + 1])
				xputs(b, " ...");
		} else if (n->script) {
			xputs(b, ": sh ");
			xputs(b, n->script);
		} else if (n->argv) {
			for (i = 0; n->argv[i]; i++) {
				xputs(b, i ? " " : ": ");
				xputs(b, n->argv[i]);
			}
		} else {
			xputs(b, ": (no command)");
		}
		if (n->dir)
			plan_note(b, "directory ", n->dir);
		if (n->only_if)
			plan_note(b, "only_if ", n->only_if);
		if (n->wait.set)
			xputs(b, "  [wait_for]");
		if (n->timeout > 0) {
			xputs(b, "  [timeout ");
			xputg(b, n->timeout);
			xputs(b, "s]");
		}
		if (n->retry) {
			xputs(b, "  [retry ");
			xputl(b, n->retry);
			xput(b, "]", 1);
		}
		if (n->input) {
			xputs(b, "  [stdin from \"");
			xputs(b, n->input->name);
			xputs(b, "\"]");
		}
	}
	if (n->st == S_NOTSEL)
		xputs(b, "  (not selected)");
	xputs(b, "  (");
	xputs(b, n->file);
	xput(b, ":", 1);
	xputl(b, n->line);
	xput(b, ":", 1);
	xputl(b, n->col);
	xputs(b, ")\n");
	for (i = 0; i < n->nkids; i++)
		plan_node(b, n->kids[i], depth + 1);
}

/* -plan: the resolved tree and what would run; nothing runs. */
static void
plan(int first, int last)
{
	struct buf b = { 0 };
	int i, ok = 1;
	size_t k, len;
	const char *out;

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
		xprintf(&b, "%s", nt->n ? "]" : "");
		if (nt->sources) /* names of variables, never values */
			xprintf(&b, " (%s)", nt->sources);
		xprintf(&b, "  (%s:%d:%d)\n", nt->file, nt->line, nt->col);
	}
	if (svc.present) {
		xprintf(&b, "Service\n  %s", svc.github ? "github" : "local");
		for (k = 0; k < svc.nnames; k++)
			xprintf(&b, "%s%s", k ? ", " : " [", svc.names[k]);
		xprintf(&b, "%s%s  (%s:%d:%d)\n", svc.nnames ? "]" : "",
			!svc.github                           ? " (runs locally)"
				: strcmp(opt.mode, "service") ? " (polls with -mode service)"
							      : " (polls)",
			svc.file, svc.line, svc.col);
	}
	len = b.len; /* substituted directories may hold secrets */
	out = hide(b.data ? b.data : "", &len);
	write_all(1, out, len, &ok);
	buf_free(&b);
}

/* ---- -json and -junit --------------------------------------------------- */

/* Both reports speak the event's language (README): the status words of
 * st_word, lowercase phases, RFC 3339 UTC times, a reason when walter
 * knows one, names and texts masked. Their files were opened before the
 * pipeline file was read (reports_open). */

/* Open -json and -junit for writing now ("-": stdout): exit 2 when one
 * cannot be. */
static void
reports_open(void)
{
	const char *path[2] = { opt.json, opt.junit };
	int *fd[2] = { &rep.json, &rep.junit }, i;

	for (i = 0; i < 2; i++)
		if (path[i] &&
			(*fd[i] = !strcmp(path[i], "-")
					? 1
					: open(path[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
						  0644)) < 0)
			fatal("%s: cannot write %s:", i ? "-junit" : "-json", path[i]);
}

/* Write a report into its open file (and close it, stdout excepted); -1
 * after an ERROR line when it could not be written. */
static int
report_write(int *fd, const char *path, const struct buf *b)
{
	int ok = 1, e;

	write_all(*fd, b->data ? b->data : "", b->len, &ok);
	e = errno;
	if (*fd != 1 && close(*fd) < 0 && ok)
		ok = 0, e = errno;
	*fd = -1;
	if (ok)
		return 0;
	logmsg(L_ERROR, NULL, "cannot write %s: %s",
		strcmp(path, "-") ? path : "the report to stdout", strerror(e));
	log_flush();
	return -1;
}

/* "text" as a JSON field, masked. */
static void
jfield_said(struct buf *b, const char *key, const char *text, size_t n)
{
	xprintf(b, ",\"%s\":", key);
	jstr_m(b, text, n);
}

/* Why task n ended as it did, for the reports: the reason, else how its
 * command ended; NULL for a success. */
static const char *
report_why(const struct node *n, char *b, size_t len)
{
	if (n->st == S_PENDING)
		return "not run";
	if (n->st == S_NOTSEL)
		return "not selected";
	if (n->why || n->st != S_FAILED)
		return n->why;
	return n->code >= 0 ? exit_text(n->code, b, len) : "failed";
}

/* Write a report to path ("-": stdout); failures are logged. */
static void
write_report(const char *path, struct buf *b)
{
	int ok = 1,
	    fd = !strcmp(path, "-") ? 1
				    : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd == 1) { /* -json -: stdout */
		write_all(1, b->data, b->len, &ok);
		if (!ok)
			logmsg(L_ERROR, NULL, "cannot write the report to stdout: %s",
				strerror(errno));
		return;
	}
	if (fd < 0) {
		logmsg(L_ERROR, NULL, "cannot write %s: %s", path, strerror(errno));
		return;
	}
	write_all(fd, b->data, b->len, &ok);
	if (close(fd) < 0 || !ok)
		logmsg(L_ERROR, NULL, "cannot write %s: %s", path, strerror(errno));
}

/* ---- -list ------------------------------------------------------------- */

/* A task's path joined with '/', as NAME... takes it. */
static void
path_text(const struct node *n, struct buf *b)
{
	size_t i, k;
	const char **v = node_path(n, &k);

	for (i = 0; i < k; i++)
		xprintf(b, "%s%s", i ? "/" : "", v[i]);
	free(v);
}

struct listing {
	struct buf *b;       /* the output */
	size_t width;        /* of the path column */
	const char *ph, *at; /* phase and list of the last heading */
};

static void
list_width(struct node *n, struct walk *w)
{
	struct listing *l = w->arg;
	struct buf p = { 0 };

	path_text(n, &p);
	if (p.len > l->width)
		l->width = p.len;
	buf_free(&p);
}

static void
list_task(struct node *n, struct walk *w)
{
	struct listing *l = w->arg;
	struct buf p = { 0 };

	if (l->at != w->list || l->ph != w->phase) {
		l->at = w->list, l->ph = w->phase;
		xprintf(l->b, "%s%s\n", w->phase, w->list[0] == 'c' ? " cleanup" : "");
	}
	path_text(n, &p);
	if (n->desc)
		xprintf(l->b, "  %-*s  %.*s\n", (int)l->width, p.data, (int)strcspn(n->desc, "\n"),
			n->desc);
	else
		xprintf(l->b, "  %s\n", p.data);
	buf_free(&p);
}

static void
list_json(struct node *n, struct walk *w)
{
	struct buf *b = w->arg;
	const char **v;
	char phase[16];
	size_t i, k;

	for (i = 0; i < sizeof phase - 1 && w->phase[i]; i++)
		phase[i] = (char)tolower((unsigned char)w->phase[i]);
	phase[i] = '\0';
	xputs(b, b->data[b->len - 1] == '[' ? "\n  {\"name\":" : ",\n  {\"name\":");
	jstr(b, n->name, strlen(n->name));
	xputs(b, ",\"path\":[");
	v = node_path(n, &k);
	for (i = 0; i < k; i++) {
		xputs(b, i ? "," : "");
		jstr(b, v[i], strlen(v[i]));
	}
	free(v);
	xprintf(b, "],\"phase\":\"%s\",\"list\":\"%s\",\"description\":", phase, w->list);
	if (n->desc)
		jstr(b, n->desc, strlen(n->desc));
	else
		xputs(b, "null");
	xputs(b, ",\"file\":");
	jstr(b, n->file, strlen(n->file));
	xprintf(b, ",\"line\":%d}", n->line);
}

/* -list: every task with its path (what NAME... takes) and description,
 * by phase and list; with -json the same as JSON. Runs nothing. */
static void
list_tasks(void)
{
	struct buf b = { 0 };
	struct listing l = { &b, 0, NULL, NULL };
	struct walk w = { NULL, NULL, list_width, &l };
	int last = cfg.ph[1].label ? 1 : 0, ok = 1;

	if (opt.json) {
		w.fn = list_json, w.arg = &b;
		xputs(&b, "{\"version\":\"" WALTER_VERSION "\",\"file\":");
		jstr(&b, opt.config, strlen(opt.config));
		xprintf(&b, ",\"format\":\"%s\",\"tasks\":[",
			cfg.format == FMT_BUILD_DEPLOY ? "build/deploy" : "pipeline");
		walk_tasks(0, last, &w);
		xputs(&b, "\n]}\n");
		write_report(opt.json, &b);
	} else {
		walk_tasks(0, last, &w);
		w.fn = list_task;
		walk_tasks(0, last, &w);
		write_all(1, b.data ? b.data : "", b.len, &ok);
	}
	buf_free(&b);
}

/* ---- -json and -junit: the tasks ---------------------------------------- */

static void
json_task(struct node *n, struct walk *w)
{
	struct buf *b = w->arg;
	char t0[64], t1[64], e[64];
	const char *why = report_why(n, e, sizeof e);
	int cleanup;
	const char *phase = task_phase(n, &cleanup);
	size_t i;

	xputs(b, b->data[b->len - 1] == '[' ? "\n  {\"name\":" : ",\n  {\"name\":");
	jstr_m(b, n->name, strlen(n->name));
	xputs(b, ",\"path\":");
	task_path(n, b);
	xprintf(b, ",\"phase\":\"%s\",\"cleanup\":%s,\"file\":", phase, cleanup ? "true" : "false");
	jstr(b, n->file, strlen(n->file));
	xprintf(b, ",\"line\":%d,\"status\":\"%s\"", n->line, st_word(n->st));
	if (n->code >= 0 && n->st != S_CONDFALSE && n->st != S_SKIPPED)
		xprintf(b, ",\"exit_code\":%d", n->code);
	else
		xputs(b, ",\"exit_code\":null");
	xprintf(b, ",\"attempts\":%d", n->attempts);
	if (n->st != S_PENDING && n->st != S_NOTSEL)
		xprintf(b, ",\"start\":\"%s\",\"end\":\"%s\",\"duration\":%.3f",
			rfc3339(n->t0, t0, sizeof t0), rfc3339(n->t1, t1, sizeof t1),
			n->t1 - n->t0);
	if (why)
		jfield_said(b, "reason", why, strlen(why));
	if (n->ntail) {
		xputs(b, ",\"last_lines\":[");
		for (i = 0; i < n->ntail; i++) {
			if (i)
				xput(b, ",", 1);
			jstr(b, n->tail[i], strlen(n->tail[i])); /* masked when logged */
		}
		xput(b, "]", 1);
	}
	xput(b, "}", 1);
}

/* The run's result word and reason. */
static const char *
run_result(int failed, int code, struct buf *why)
{
	char e[64];

	if (code == 2 && rep.errors.len) {
		xputs(why, "configuration error: ");
		xput(why, rep.errors.data, strcspn(rep.errors.data, "\n"));
		return "failure";
	}
	if (R.nsig || R.timed_out) {
		xputs(why, R.why);
		return "aborted";
	}
	if (!failed)
		return "success";
	if (R.first_failed) {
		const struct node *f = R.first_failed;
		xprintf(why, "\"%s\" failed: %s", f->name,
			f->why ? f->why : exit_text(f->code, e, sizeof e));
	}
	return "failure";
}

/* The -json report; rep.errors instead of tasks after a configuration
 * error (code 2). */
static int
report_json(int first, int last, int failed, int code)
{
	struct buf b = { 0 }, why = { 0 };
	struct walk w = { NULL, NULL, json_task, &b };
	size_t i, count[S_NSTATUS];
	char t0[64], t1[64];
	const char *status = run_result(failed, code, &why), *p;
	int r;

	count_status(count);
	xputs(&b, "{\"version\":\"" WALTER_VERSION "\",\"file\":");
	jstr(&b, opt.config, strlen(opt.config));
	if (cfg.format)
		xprintf(&b, ",\"format\":\"%s\"",
			cfg.format == FMT_BUILD_DEPLOY ? "build/deploy" : "pipeline");
	jfield(&b, "host", host_name());
	xprintf(&b,
		",\"status\":\"%s\",\"exit_code\":%d,\"start\":\"%s\",\"end\":\"%s\",\"duration\":%.3f",
		status, code, rfc3339(R.t0, t0, sizeof t0), rfc3339(now(), t1, sizeof t1),
		now() - R.t0);
	if (why.len)
		jfield_said(&b, "reason", why.data, why.len);
	if (code == 2) {
		xputs(&b, ",\"errors\":[");
		for (p = rep.errors.data; p && *p; p += strcspn(p, "\n") + 1) {
			if (p != rep.errors.data)
				xput(&b, ",", 1);
			jstr(&b, p, strcspn(p, "\n")); /* masked when said */
		}
		xput(&b, "]", 1);
	}
	xprintf(&b,
		",\"counts\":{\"success\":%zu,\"failure\":%zu,\"skipped\":%zu,\"aborted\":%zu,"
		"\"condition_false\":%zu",
		count[S_OK], count[S_FAILED], count[S_SKIPPED] + count[S_PENDING], count[S_ABORTED],
		count[S_CONDFALSE]);
	if (count[S_NOTSEL])
		xprintf(&b, ",\"not_selected\":%zu", count[S_NOTSEL]);
	xputs(&b, "},\"tasks\":[");
	if (code != 2)
		walk_tasks(first, last, &w);
	xputs(&b, "\n],\"notifiers\":[");
	for (i = 0; code != 2 && i < cfg.nnt; i++) {
		xputs(&b, i ? ",{\"type\":" : "{\"type\":");
		jstr(&b, cfg.nt[i].type, strlen(cfg.nt[i].type));
		xprintf(&b, ",\"line\":%d,\"off\":%s}", cfg.nt[i].line,
			cfg.nt[i].off ? "true" : "false");
	}
	xputs(&b, "]}\n");
	r = report_write(&rep.json, opt.json, &b);
	buf_free(&b), buf_free(&why);
	return r;
}

/* A masked attribute value. */
static void
xml_attr_said(struct buf *b, const char *s, size_t n)
{
	s = hide(s, &n);
	xml_attr(b, s, n);
}

/* One test case per task reached: a failure or an abort is a <failure>
 * (the reason, the last lines), skipped and condition false <skipped>. */
static void
junit_task(struct node *n, struct walk *w)
{
	struct buf *b = w->arg;
	char e[64];
	const char *why = report_why(n, e, sizeof e);
	int cleanup;
	const char *phase = task_phase(n, &cleanup);
	size_t i;

	if (n->st == S_PENDING)
		return;
	xputs(b, "    <testcase name=\"");
	xml_attr_said(b, n->name, strlen(n->name));
	xprintf(b, "\" classname=\"%s.%s\" time=\"%.3f\"", phase, cleanup ? "cleanup" : "tasks",
		n->t1 - n->t0);
	if (n->st == S_OK) {
		xputs(b, "/>\n");
		return;
	}
	if (n->st == S_FAILED || n->st == S_ABORTED) {
		xprintf(b, ">\n      <failure type=\"%s\" message=\"", st_word(n->st));
		if (n->st == S_ABORTED)
			xputs(b, "aborted: ");
		xml_attr_said(b, why, strlen(why));
		xputs(b, "\">");
		for (i = 0; i < n->ntail; i++) {
			xml_text(b, n->tail[i], strlen(n->tail[i])); /* masked when logged */
			xput(b, "\n", 1);
		}
		xputs(b, "</failure>\n    </testcase>\n");
		return;
	}
	xprintf(b, ">\n      <skipped type=\"%s\" message=\"", st_word(n->st));
	xml_attr_said(b, why ? why : "skipped", strlen(why ? why : "skipped"));
	xputs(b, "\"/>\n    </testcase>\n");
}

/* The -junit report, valid against Jenkins' xunit schema (junit-10.xsd);
 * after a configuration error (code 2), one test case with the error. */
static int
report_junit(int first, int last, int code)
{
	struct buf b = { 0 }, cases = { 0 };
	struct walk w = { NULL, NULL, junit_task, &cases };
	size_t count[S_NSTATUS], ran = count_status(count), failures, skipped, errors = 0;
	char t0[64];
	int r;

	failures = count[S_FAILED] + count[S_ABORTED];
	skipped = count[S_SKIPPED] + count[S_CONDFALSE] + count[S_NOTSEL];
	if (code == 2) {
		size_t n = strcspn(rep.errors.data ? rep.errors.data : "", "\n");
		ran = errors = 1, failures = skipped = 0;
		xputs(&cases, "    <testcase name=\"");
		xml_attr_said(&cases, opt.config, strlen(opt.config));
		xputs(&cases,
			"\" classname=\"walter.configuration\" time=\"0.000\">\n"
			"      <error type=\"configuration\" message=\"");
		xml_attr(&cases, n ? rep.errors.data : "configuration error",
			n ? n : strlen("configuration error"));
		xputs(&cases, "\">");
		xml_text(&cases, rep.errors.data ? rep.errors.data : "", rep.errors.len);
		xputs(&cases, "</error>\n    </testcase>\n");
	} else {
		walk_tasks(first, last, &w);
	}
	xprintf(&b,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuites name=\"walter\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.3f\">\n"
		"  <testsuite name=\"",
		ran, failures, errors, now() - R.t0);
	xml_attr_said(&b, opt.config, strlen(opt.config));
	xprintf(&b,
		"\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\" timestamp=\"%s\" hostname=\"",
		ran, failures, errors, skipped, now() - R.t0, rfc3339(R.t0, t0, sizeof t0));
	xml_attr(&b, host_name(), strlen(host_name()));
	xputs(&b,
		"\">\n    <properties><property name=\"walter.version\" value=\"" WALTER_VERSION
		"\"/></properties>\n");
	xput(&b, cases.data ? cases.data : "", cases.len);
	xputs(&b, "  </testsuite>\n</testsuites>\n");
	r = report_write(&rep.junit, opt.junit, &b);
	buf_free(&b), buf_free(&cases);
	return r;
}

/* Write the reports that were asked for; returns the exit status, at
 * least 1 when one could not be written. JUnit first: the JSON report
 * holds the exit status. */
static int
reports_write(int first, int last, int failed, int code)
{
	if (rep.junit >= 0 && report_junit(first, last, code) < 0 && !code)
		code = 1;
	if (rep.json >= 0 && report_json(first, last, failed, code) < 0 && !code)
		code = 1;
	return code;
}

/* A configuration error (or any fatal error) while the file is loaded:
 * the reports say so, so the CI shows why. */
static void
reports_config_error(void)
{
	if (!rep.loading)
		return;
	rep.loading = 0;
	if (!R.t0)
		R.t0 = now();
	reports_write(0, -1, 1, 2);
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

/* ==== 10. service mode ============================================== */

/* -mode service with a 1.x "service: {type: github}" block: one poll per
 * invocation (cron runs it), as walter 1.x did, without its bugs
 * (REFERENCE 5 and Q23):
 *  1. lock <state>.lock (fcntl; held: exit 2 naming the holder's pid);
 *  2. read the state; ask the API for the trunk's head commit and every
 *     open pull request (all pages: Link rel="next", same host only);
 *  3. queue what is new: the trunk if its SHA moved, each open pull
 *     request whose head SHA is not the one last built (a force-push
 *     too), whose branch matches, and which is not from a fork unless
 *     forks: true; closed pull requests are forgotten;
 *  4. per item: a pending status; git fetch; git checkout --detach -f
 *     SHA; the pipeline of that checkout run by a child walter (-mode
 *     local, its own process group, signals passed on); the final status
 *     (error when git or the file failed); the state written for it;
 *  5. the original HEAD checked out again; unlock.
 * The token travels in HTTP headers only (curl reads them on its stdin):
 * never in an argv, the log (it is a secret) or the state file. Exit
 * status: 0 all built and succeeded (or nothing new), 1 something failed,
 * 2 the lock, the settings, git or the API stopped the poll. */

enum { SVC_PAGES = 50, SVC_WAIT_MAX = 900, SVC_BODY_MAX = 16 << 20 };

/* A build the poll found to do: the trunk or a pull request. */
struct item {
	long pr;      /* pull request number; 0 for the trunk */
	char sha[65]; /* the commit to build */
	char *ref;    /* its branch (malloc'd) */
	char *owner;  /* pull request: its head repository, "" if deleted */
	int fork;     /* pull request from another repository */
};

/* What the state file remembers of a pull request. */
struct saved {
	long pr;
	char sha[65];
	char status[16]; /* "success", "failure", "error" */
};

/* One poll. */
struct service {
	char *exe;          /* walter itself, for the builds */
	const char *argv0;  /* as it was called */
	char *state;        /* the state file, absolute */
	int lockfd;         /* <state>.lock, locked; -1 */
	char *head;         /* to check out at the end: a branch or a SHA */
	int detached;       /* head is a SHA */
	char trunk_sha[65]; /* last trunk commit built, "" none */
	char *trunk_branch; /* its branch in the state */
	struct saved *sv;   /* pull requests built */
	size_t nsv;         /* how many */
	struct item *it;    /* what to build, in order */
	size_t nit;         /* how many */
	int failed;         /* an item failed */
	int read;           /* the state was read: write it back at the end */
	double t0;          /* when the poll started (monotonic) */
	const char *hdr[5]; /* the API's request headers */
	char accept[96];    /* hdr[2] */
	char *auth;         /* "Authorization: Bearer ..." */
};

/* Wait s seconds; -1 when a signal came first. */
static int
svc_sleep(double s)
{
	double end = now() + s;

	while (!R.nsig) { /* one came before: the poll stops */
		struct pollfd pf = { R.selfpipe[0], POLLIN, 0 };
		double left = end - now();
		if (left <= 0)
			return 0;
		if (poll(&pf, 1, (int)(left * 1000) + 1) > 0)
			self_drain();
	}
	return -1;
}

/* "GET /repos/o/r/pulls (api.github.com:443)" for log lines. */
static void
req_name(const char *method, const char *url, char *b, size_t n)
{
	struct url u;
	char err[64];

	if (url_parse(url, &u, err, sizeof err) < 0) {
		snprintf(b, n, "%s", method);
		return;
	}
	snprintf(b, n, "%s %.300s (%s:%s)", method, u.path, u.host, u.port);
	url_free(&u);
}

/* One API request with the service's headers. A rate-limited answer is
 * waited for (three times at most, 15 minutes each at most); a GET
 * follows a redirect within the same host (a renamed repository). 0 when
 * an answer came (any status, in rs; the caller frees it), -1 after
 * logging why. */
static int
gh_req(struct service *sv, const char *method, const char *url, const char *accept,
	const struct buf *body, struct http_response *rs)
{
	struct http_request rq;
	char err[512], what[400], *next = NULL, loc[2048];
	const char *h;
	long long w;
	int waits = 0, hops = 0, r = -1, k;

	snprintf(sv->accept, sizeof sv->accept, "Accept: %s", accept);
	memset(&rq, 0, sizeof rq);
	rq.method = method, rq.url = url, rq.headers = sv->hdr;
	rq.content_type = body ? "application/json" : NULL;
	rq.body = body ? body->data : NULL, rq.body_len = body ? body->len : 0;
	rq.tls_proxy = svc.tls_proxy, rq.timeout_ms = 30000, rq.max_body = SVC_BODY_MAX;
	rq.want_headers = 1;
	for (;;) {
		req_name(method, rq.url, what, sizeof what);
		if (http_send(&rq, rs, err, sizeof err) < 0) {
			logmsg(L_ERROR, "service", "%s: %s", what, err);
			break;
		}
		if (R.nsig)
			break;
		h = http_header(rs, "Location");
		if (!body && rs->status / 100 == 3 && h && hops++ < 3) {
			char *prev = next;
			snprintf(loc, sizeof loc, "<%s>; rel=\"next\"", h);
			k = http_link_next(loc, rq.url, &next, err, sizeof err);
			free(prev); /* rq.url, maybe */
			if (k <= 0) {
				next = NULL;
				logmsg(L_ERROR, "service", "%s: a redirect refused: %s", what,
					k ? err : "no Location");
				break;
			}
			logmsg(L_INFO, "service", "%s: moved (HTTP %d): following it", what,
				rs->status);
			rq.url = next;
			http_response_free(rs);
			continue;
		}
		if ((w = rate_wait(rs, (long long)time(NULL))) < 0 || waits++ >= 3) {
			r = 0;
			break;
		}
		if (w > SVC_WAIT_MAX) {
			time_t t = time(NULL) + (time_t)w;
			struct tm tm;
			gmtime_r(&t, &tm);
			logmsg(L_ERROR, "service",
				"%s: rate limit (HTTP %d): no requests until %04d-%02d-%02dT%02d:%02d:%02dZ, more than 15 minutes away: stopped",
				what, rs->status, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
				tm.tm_hour, tm.tm_min, tm.tm_sec);
			break;
		}
		logmsg(L_WARN, "service", "%s: rate limit (HTTP %d): waiting %llds", what,
			rs->status, w);
		log_flush();
		http_response_free(rs);
		if (svc_sleep((double)w) < 0)
			break;
	}
	free(next);
	if (r < 0)
		http_response_free(rs);
	return r;
}

/* GET url; 0 with a 200 answer in rs (the caller frees it), -1 after
 * logging why (401, 404 and the like: at once). */
static int
gh_get(struct service *sv, const char *url, const char *accept, struct http_response *rs)
{
	char what[400], msg[256];

	if (gh_req(sv, "GET", url, accept, NULL, rs) < 0)
		return -1;
	if (rs->status == 200)
		return 0;
	req_name("GET", url, what, sizeof what);
	api_message(&rs->body, msg, sizeof msg);
	logmsg(L_ERROR, "service", "%s: HTTP %d%s", what, rs->status, msg);
	http_response_free(rs);
	return -1;
}

/* {api}/repos/{from}/{repo}/ with both names escaped, then tail. */
static char *
repo_url(const char *tail)
{
	struct buf b = { 0 };

	xputs(&b, svc.api);
	while (b.len && b.data[b.len - 1] == '/')
		b.data[--b.len] = '\0';
	xputs(&b, "/repos/");
	if (url_put_segment(&b, svc.from, strlen(svc.from)) < 0 || buf_puts(&b, "/") < 0 ||
		url_put_segment(&b, svc.repo, strlen(svc.repo)) < 0 || buf_puts(&b, tail) < 0)
		fatal("out of memory");
	return b.data;
}

/* Post a commit status; a failure is logged and changes nothing else
 * (422, an unknown commit say, is a warning). */
static void
svc_status(struct service *sv, const char *sha, enum cstate cs, const char *desc)
{
	struct http_response rs;
	struct buf b = { 0 }, t = { 0 };
	char *url, msg[256];

	xprintf(&t, "/statuses/%s", sha);
	url = repo_url(t.data);
	status_body(0, cs, svc.context, desc, svc.target, &b);
	if (gh_req(sv, "POST", url, "application/vnd.github+json", &b, &rs) == 0) {
		api_message(&rs.body, msg, sizeof msg);
		if (rs.status / 100 == 2)
			logmsg(L_DEBUG, "service", "status %s on %.7s", cs_word[0][cs], sha);
		else
			logmsg(rs.status == 422 ? L_WARN : L_ERROR, "service",
				"the %s status on %.7s was refused: HTTP %d%s", cs_word[0][cs], sha,
				rs.status, msg);
		http_response_free(&rs);
	}
	free(url), buf_free(&b), buf_free(&t);
}

/* ---- the state file ------------------------------------------------- */

static struct saved *
saved_find(struct service *sv, long pr)
{
	size_t i;

	for (i = 0; i < sv->nsv; i++)
		if (sv->sv[i].pr == pr)
			return &sv->sv[i];
	return NULL;
}

/* A scalar's text if n is a string scalar, else NULL. */
static const char *
sval(const struct yaml_node *n)
{
	return n && n->kind == YAML_SCALAR && !is_null(n) ? n->text : NULL;
}

/* Read the state of the last polls; a missing or empty file is a first
 * poll. -1 (logged) when it cannot be read or is not a state file. */
static int
state_read(struct service *sv)
{
	struct buf in = { 0 };
	struct yaml_doc *doc;
	const struct yaml_node *r, *v, *t, *p;
	char err[512];
	size_t i;
	int ret = -1;

	if (read_file(sv->state, &in) < 0) {
		if (errno == ENOENT)
			return 0;
		logmsg(L_ERROR, "service", "cannot read the state file %s: %s", sv->state,
			strerror(errno));
		return -1;
	}
	if (!in.len) {
		buf_free(&in);
		return 0;
	}
	if (!(doc = yaml_parse(in.data, in.len, sv->state, err, sizeof err))) {
		logmsg(L_ERROR, "service", "the state file is damaged: %s", err);
		buf_free(&in);
		return -1;
	}
	r = yaml_count(doc) ? yaml_root(doc, 0) : NULL;
	v = yaml_get(r, "walter");
	if (!v && yaml_get(r, "time")) {
		logmsg(L_WARN, "service",
			"%s is the state of walter 1.x: starting afresh (the trunk and every open pull request are built)",
			sv->state);
		ret = 0;
		goto out;
	}
	if (!sval(v) || strcmp(v->text, "2")) {
		logmsg(L_ERROR, "service", "%s is not a walter state file (no \"walter\": 2)",
			sv->state);
		goto out;
	}
	if ((v = yaml_get(r, "status")) && sval(v) && !strcmp(v->text, "inprogress"))
		logmsg(L_WARN, "service",
			"the last poll did not finish (its state says inprogress and its lock is free): it crashed or was killed");
	t = yaml_get(r, "trunk");
	if (sval(v = yaml_get(t, "sha")) && strlen(v->text) < sizeof sv->trunk_sha)
		snprintf(sv->trunk_sha, sizeof sv->trunk_sha, "%s", v->text);
	if (sval(v = yaml_get(t, "branch")))
		sv->trunk_branch = xstrdup(v->text);
	p = yaml_get(r, "pulls");
	for (i = 0; p && p->kind == YAML_MAP && i + 1 < p->n; i += 2) {
		const char *num = sval(p->child[i]), *sha = sval(yaml_get(p->child[i + 1], "sha"));
		const char *st = sval(yaml_get(p->child[i + 1], "status"));
		char *end;
		long pr = num ? strtol(num, &end, 10) : 0;
		if (!num || *end || pr <= 0 || !sha || strlen(sha) >= sizeof sv->sv->sha)
			continue;
		sv->sv = xreallocarray(sv->sv, sv->nsv + 1, sizeof *sv->sv);
		sv->sv[sv->nsv].pr = pr;
		snprintf(sv->sv[sv->nsv].sha, sizeof sv->sv->sha, "%s", sha);
		snprintf(sv->sv[sv->nsv++].status, sizeof sv->sv->status, "%s", st ? st : "");
	}
	ret = 0;
out:
	yaml_free(doc);
	buf_free(&in);
	return ret;
}

/* Write the state: a temp file beside it, fsync, rename, fsync of the
 * directory, so a crash leaves the old state or the new, never half. */
static int
state_write(struct service *sv, const char *status)
{
	struct buf b = { 0 }, tmp = { 0 };
	char t[64], *slash;
	size_t i;
	int fd, ok = 1;

	xprintf(&b, "{\"walter\":2,\"time\":\"%s\",\"status\":\"%s\",\"succeeded\":%s,\"trunk\":{",
		rfc3339(sv->t0, t, sizeof t), status, sv->failed ? "false" : "true");
	jfield(&b, "branch", svc.trunk);
	jfield(&b, "sha", sv->trunk_sha);
	xputs(&b, "},\"pulls\":{");
	for (i = 0; i < sv->nsv; i++) {
		xprintf(&b, "%s\"%ld\":{", i ? "," : "", sv->sv[i].pr);
		jfield(&b, "sha", sv->sv[i].sha);
		jfield(&b, "status", sv->sv[i].status);
		xputs(&b, "}");
	}
	xputs(&b, "}}\n");
	xprintf(&tmp, "%s.tmp", sv->state);
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd >= 0) {
		write_all(fd, b.data, b.len, &ok);
		ok = ok && fsync(fd) == 0;
		ok = close(fd) == 0 && ok;
	}
	if (fd < 0 || !ok || rename(tmp.data, sv->state) < 0) {
		logmsg(L_ERROR, "service", "cannot write the state file %s: %s", sv->state,
			strerror(errno));
		unlink(tmp.data);
		buf_free(&b), buf_free(&tmp);
		return -1;
	}
	slash = strrchr(tmp.data, '/'); /* the rename itself is durable */
	*slash = '\0';
	if ((fd = open(*tmp.data ? tmp.data : "/", O_RDONLY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	buf_free(&b), buf_free(&tmp);
	return 0;
}

/* Lock <state>.lock for this poll: fcntl, so a crash frees it. The file
 * is opened once: closing any descriptor of it would drop the lock. */
static int
svc_lock(struct service *sv)
{
	struct buf p = { 0 };
	struct flock fl;
	char pid[32];
	int fd, ok = 1;

	xprintf(&p, "%s.lock", sv->state);
	fd = open(p.data, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK, fl.l_whence = SEEK_SET;
	if (fd < 0) {
		logmsg(L_ERROR, "service", "cannot open %s: %s", p.data, strerror(errno));
	} else if (fcntl(fd, F_SETLK, &fl) < 0) {
		int e = errno;
		if ((e == EACCES || e == EAGAIN) && fcntl(fd, F_GETLK, &fl) == 0 &&
			fl.l_type != F_UNLCK)
			logmsg(L_ERROR, "service",
				"another poll (pid %ld) holds %s: nothing done this time",
				(long)fl.l_pid, p.data);
		else
			logmsg(L_ERROR, "service", "cannot lock %s: %s", p.data, strerror(e));
		close(fd);
		fd = -1;
	} else {
		snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
		if (ftruncate(fd, 0) == 0)
			write_all(fd, pid, strlen(pid), &ok);
	}
	buf_free(&p);
	sv->lockfd = fd;
	return fd < 0 ? -1 : 0;
}

/* ---- git and the work tree ------------------------------------------ */

/* git ARGS..., output logged; 0 or -1 with why logged as an error. */
static int
svc_git(const char *const *argv, struct buf *out, double timeout, int how, char *why, size_t n)
{
	int r = git_run(argv, out, timeout, how, why, n);

	if (r != 0)
		logmsg(L_ERROR, "service", "git %s: %s", argv[1], why);
	return r == 0 ? 0 : -1;
}

/* The first line of a command's output, as a malloc'd string. */
static char *
first_line(struct buf *b)
{
	if (!b->len)
		return xstrdup("");
	b->data[strcspn(b->data, "\r\n")] = '\0';
	return xstrdup(b->data);
}

/* The state file's absolute path (the default is in the git directory,
 * out of any checkout's reach); a warning when it is inside the work
 * tree. Then where HEAD is, to come back to, and a clean work tree:
 * checkout -f would throw local changes away. */
static int
svc_tree(struct service *sv)
{
	static const char *const top[] = { "git", "rev-parse", "--show-toplevel", NULL };
	static const char *const gd[] = { "git", "rev-parse", "--absolute-git-dir", NULL };
	static const char *const sym[] = { "git", "symbolic-ref", "-q", "HEAD", NULL };
	static const char *const hd[] = { "git", "rev-parse", "--verify", "HEAD", NULL };
	static const char *const dirty[] = { "git", "status", "--porcelain", "--untracked-files=no",
		NULL };
	struct buf o = { 0 }, p = { 0 };
	char why[512], cwd[PATH_MAX], real[PATH_MAX], *t = NULL, *slash;
	int r = -1;

	if (svc_git(top, &o, 60, 0, why, sizeof why) < 0)
		goto out;
	t = first_line(&o);
	o.len = 0;
	if (!getcwd(cwd, sizeof cwd)) {
		logmsg(L_ERROR, "service", "getcwd: %s", strerror(errno));
		goto out;
	}
	if (svc.update && svc.update[0] == '/') {
		xputs(&p, svc.update);
	} else if (svc.update) {
		xprintf(&p, "%s/%s", cwd, svc.update);
	} else {
		if (svc_git(gd, &o, 60, 0, why, sizeof why) < 0)
			goto out;
		char *g = first_line(&o);
		xprintf(&p, "%s/walter-service.json", g);
		free(g);
		o.len = 0;
	}
	sv->state = xstrdup(p.data);
	slash = strrchr(p.data, '/');
	*slash = '\0';
	if (svc.update && realpath(*p.data ? p.data : "/", real) &&
		(!strcmp(real, t) || (!strncmp(real, t, strlen(t)) && real[strlen(t)] == '/')))
		cfg_msg(MSG_WARN, svc.file,
			&(struct yaml_node){ .line = svc.uline, .col = svc.ucol },
			"the state file (update) is inside the work tree: a checkout or the pipeline can change or remove it; put it outside (the default is in the git directory)");
	if (git_run(sym, &o, 60, GIT_QUIET, why, sizeof why) == 0 && o.len > 11 &&
		!strncmp(o.data, "refs/heads/", 11)) {
		char *ref = first_line(&o);
		sv->head = xstrdup(ref + 11);
		free(ref);
	} else {
		o.len = 0;
		if (R.nsig || svc_git(hd, &o, 60, 0, why, sizeof why) < 0) /* not detached */
			goto out;
		sv->head = first_line(&o);
		sv->detached = 1;
	}
	o.len = 0;
	if (svc_git(dirty, &o, 60, 0, why, sizeof why) < 0)
		goto out;
	if (o.len) {
		logmsg(L_ERROR, "service",
			"the work tree %s has changes that checking out other commits would throw away: commit or stash them",
			t);
		goto out;
	}
	r = 0;
out:
	free(t), buf_free(&o), buf_free(&p);
	return r;
}

/* ---- what to build ---------------------------------------------------- */

static void
item_add(struct service *sv, long pr, const char *sha, const char *ref, const char *owner, int fork)
{
	struct item *it;

	sv->it = xreallocarray(sv->it, sv->nit + 1, sizeof *sv->it);
	it = &sv->it[sv->nit++];
	it->pr = pr, it->fork = fork;
	snprintf(it->sha, sizeof it->sha, "%s", sha);
	it->ref = xstrdup(ref);
	it->owner = xstrdup(owner ? owner : "");
}

static void
items_free(struct item *it, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(it[i].ref), free(it[i].owner);
	free(it);
}

/* One pull request of an API page into open (number, head SHA and
 * branch, from a fork or not); 0 if it is not usable. */
static int
pull_read(const struct yaml_node *p, struct item *open)
{
	const struct yaml_node *head = yaml_get(p, "head"), *hr = yaml_get(head, "repo");
	const struct yaml_node *br = yaml_get(yaml_get(p, "base"), "repo");
	const char *num = sval(yaml_get(p, "number")), *sha = sval(yaml_get(head, "sha"));
	const char *ref = sval(yaml_get(head, "ref")), *st = sval(yaml_get(p, "state"));
	const char *hn = sval(yaml_get(hr, "full_name")), *bn = sval(yaml_get(br, "full_name"));
	char *end, buf[65];

	if (!num || !sha || !ref || strlen(sha) >= sizeof buf || (st && strcmp(st, "open")))
		return 0;
	open->pr = strtol(num, &end, 10);
	snprintf(buf, sizeof buf, "%s", sha);
	if (*end || open->pr <= 0 || !is_sha(buf))
		return 0;
	snprintf(open->sha, sizeof open->sha, "%s", buf);
	open->ref = xstrdup(ref);
	open->owner = xstrdup(hn ? hn : "");
	/* a deleted head repository (null) is a fork whose owner is gone */
	open->fork = !hn || !bn || strcasecmp(hn, bn);
	return 1;
}

/* Every open pull request, page after page (Link rel="next", on the same
 * scheme, host and port only; at most SVC_PAGES). -1 after logging why. */
static int
gh_pulls(struct service *sv, struct item **out, size_t *nout)
{
	struct http_response rs;
	struct yaml_doc *doc;
	const struct yaml_node *r;
	char err[512], *url = repo_url("/pulls?state=open&per_page=100"), *next;
	size_t i, page;
	int k;

	*out = NULL, *nout = 0;
	for (page = 1; url; page++) {
		if (page > SVC_PAGES) {
			logmsg(L_ERROR, "service",
				"more than %d pages of open pull requests: stopped (nothing built)",
				SVC_PAGES);
			goto err;
		}
		if (gh_get(sv, url, "application/vnd.github+json", &rs) < 0)
			goto err;
		if (!(doc = yaml_parse(
			      rs.body.data, rs.body.len, "pull requests", err, sizeof err)) ||
			!yaml_count(doc) || (r = yaml_root(doc, 0))->kind != YAML_SEQ) {
			logmsg(L_ERROR, "service",
				"page %zu of pull requests is not a JSON list%s%s", page,
				doc ? "" : ": ", doc ? "" : err);
			yaml_free(doc);
			http_response_free(&rs);
			goto err;
		}
		for (i = 0; i < r->n; i++) {
			*out = xreallocarray(*out, *nout + 1, sizeof **out);
			if (pull_read(r->child[i], &(*out)[*nout]))
				++*nout;
		}
		yaml_free(doc);
		k = http_link_next(http_header(&rs, "Link"), url, &next, err, sizeof err);
		http_response_free(&rs);
		free(url);
		url = k > 0 ? next : NULL;
		if (k < 0) {
			logmsg(L_ERROR, "service", "page %zu of pull requests: %s: refused", page,
				err);
			goto err;
		}
	}
	logmsg(L_DEBUG, "service", "%zu open pull requests on %zu page%s", *nout, page - 1,
		page == 2 ? "" : "s");
	return 0;
err:
	free(url);
	items_free(*out, *nout);
	*out = NULL, *nout = 0;
	return -1;
}

static int
by_pr(const void *a, const void *b)
{
	long x = ((const struct item *)a)->pr, y = ((const struct item *)b)->pr;

	return (x > y) - (x < y);
}

/* Step 3: the trunk if it moved, then each open pull request, in number
 * order, not built at its head SHA yet; closed ones are forgotten. */
static void
svc_queue(struct service *sv, const char *trunk, struct item *open, size_t nopen)
{
	size_t i, j;

	if (strcmp(sv->trunk_sha, trunk) || !sv->trunk_branch ||
		strcmp(sv->trunk_branch, svc.trunk))
		item_add(sv, 0, trunk, svc.trunk, NULL, 0);
	qsort(open, nopen, sizeof *open, by_pr);
	for (i = 0; i < nopen; i++) {
		const struct item *p = &open[i];
		const struct saved *s = saved_find(sv, p->pr);
		if (s && !strcmp(s->sha, p->sha))
			continue;
		if (svc.has_branch && !re_match(&svc.branch, p->ref)) {
			logmsg(L_DEBUG, "service",
				"pull request #%ld: its branch does not match \"branch\": not built",
				p->pr);
			continue;
		}
		if (p->fork && !svc.forks) {
			logmsg(L_INFO, "service",
				"pull request #%ld comes from a fork (%s): not built (forks: true builds them, with your environment and token)",
				p->pr, *p->owner ? p->owner : "a deleted repository");
			continue;
		}
		item_add(sv, p->pr, p->sha, p->ref, p->owner, p->fork);
	}
	for (i = j = 0; i < sv->nsv; i++) { /* forget what is closed */
		size_t k;
		for (k = 0; k < nopen && open[k].pr != sv->sv[i].pr; k++)
			;
		if (k < nopen)
			sv->sv[j++] = sv->sv[i];
		else
			logmsg(L_DEBUG, "service", "pull request #%ld is closed: forgotten",
				sv->sv[i].pr);
	}
	sv->nsv = j;
}

/* ---- one build -------------------------------------------------------- */

/* Run the pipeline of the checkout: walter -mode local -c FILE and the
 * flags this run was given, in its own process group, stdin /dev/null;
 * walter's signals are passed on to it, one that came before it started
 * too. Returns its exit status (128+N for signal N), -1 if it could not
 * start (why says so). */
static int
run_child(struct service *sv, char *why, size_t n)
{
	char **argv = xreallocarray(NULL, opt.nfwd + (size_t)opt.nnames + 8, sizeof *argv);
	unsigned long seen = 0;
	size_t k = 0, i;
	int st = 0, ep[2], e;
	pid_t pid, w;

	argv[k++] = (char *)sv->argv0;
	argv[k++] = "-mode", argv[k++] = "local";
	argv[k++] = "-c", argv[k++] = (char *)opt.config;
	for (i = 0; i < opt.nfwd; i++)
		argv[k++] = opt.fwd[i];
	if (opt.nnames) /* NAME...: each build runs those */
		argv[k++] = "--";
	for (i = 0; i < (size_t)opt.nnames; i++)
		argv[k++] = opt.names[i];
	argv[k] = NULL;
	log_flush();
	if (xpipe(ep) < 0 || (pid = fork_child()) < 0) {
		snprintf(why, n, "cannot start walter: %s", strerror(errno));
		free(argv);
		return -1;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		setpgid(0, 0);
		if (nul >= 0 && dup2(nul, 0) >= 0)
			execv(sv->exe, argv);
		e = errno;
		(void)!write(ep[1], &e, sizeof e);
		_exit(127);
	}
	setpgid(pid, pid);
	close(ep[1]);
	free(argv);
	for (;;) { /* the self-pipe wakes it for a signal or the build's end */
		struct pollfd pf = { R.selfpipe[0], POLLIN, 0 };
		if ((unsigned long)R.nsig != seen) {
			seen = (unsigned long)R.nsig;
			logmsg(L_WARN, "service", "signal %d: passed on to the build", (int)R.sig);
			log_flush();
			kill(pid, R.sig);
		}
		if ((w = waitpid(pid, &st, WNOHANG)) != 0 && !(w < 0 && errno == EINTR))
			break;
		if (poll(&pf, 1, -1) > 0)
			self_drain();
	}
	if (read(ep[0], &e, sizeof e) == (ssize_t)sizeof e) { /* exec failed */
		close(ep[0]);
		snprintf(why, n, "cannot run %s: %s", sv->exe, strerror(e));
		return -1;
	}
	close(ep[0]);
	if (w < 0) {
		snprintf(why, n, "lost the build's process: %s", strerror(errno));
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Remember that item it was built (its SHA and how it went). */
static void
svc_record(struct service *sv, const struct item *it, const char *status)
{
	struct saved *s;

	if (!it->pr) {
		snprintf(sv->trunk_sha, sizeof sv->trunk_sha, "%s", it->sha);
		free(sv->trunk_branch);
		sv->trunk_branch = xstrdup(svc.trunk);
		return;
	}
	if (!(s = saved_find(sv, it->pr))) {
		sv->sv = xreallocarray(sv->sv, sv->nsv + 1, sizeof *sv->sv);
		s = &sv->sv[sv->nsv++];
		s->pr = it->pr;
	}
	snprintf(s->sha, sizeof s->sha, "%s", it->sha);
	snprintf(s->status, sizeof s->status, "%s", status);
}

/* Step 4 for one item: 0 built and succeeded, 1 failed (its status says
 * why), -1 a signal stopped the poll. A git failure is not recorded:
 * the next poll tries again; a build is, whatever it came to. */
static int
svc_item(struct service *sv, const struct item *it)
{
	char fetch[300], name[64], why[512] = "", d[32];
	const char *const fa[] = { "git", "fetch", "-q", "--no-tags", "origin", fetch, NULL };
	const char *const ca[] = { "git", "checkout", "-q", "--detach", "-f", it->sha, NULL };
	const char *const ha[] = { "git", "rev-parse", "--verify", "HEAD", NULL };
	struct buf o = { 0 }, desc = { 0 };
	enum cstate cs;
	double t;
	int code;

	if (it->pr) {
		snprintf(name, sizeof name, "pull request #%ld", it->pr);
		snprintf(fetch, sizeof fetch, "+refs/pull/%ld/head:refs/walter/pr/%ld", it->pr,
			it->pr);
	} else {
		snprintf(name, sizeof name, "trunk %s", svc.trunk);
		snprintf(fetch, sizeof fetch, "+refs/heads/%s:refs/remotes/origin/%s", svc.trunk,
			svc.trunk);
	}
	logmsg(L_INFO, "service", "%s (%s) at %.7s: building", name, it->ref, it->sha);
	xprintf(&desc, "Running %s", opt.config);
	svc_status(sv, it->sha, CS_START, desc.data);
	desc.len = 0;
	if (svc_git(fa, NULL, 600, 0, why, sizeof why) < 0 ||
		svc_git(ca, NULL, 120, 0, why, sizeof why) < 0 ||
		svc_git(ha, &o, 60, 0, why, sizeof why) < 0) {
		xprintf(&desc, "git failed: %s", why);
	} else if (!o.len || strncmp(o.data, it->sha, strlen(it->sha))) {
		xprintf(&desc, "git checked out %.12s, not %.12s", o.len ? o.data : "nothing",
			it->sha);
		logmsg(L_ERROR, "service", "%s: %s", name, desc.data);
	}
	if (desc.len || R.nsig) {
		cs = R.nsig ? CS_ABORT : CS_CONFIG;
		if (R.nsig) {
			desc.len = 0;
			xprintf(&desc, "%s aborted: walter got signal %d", opt.config, (int)R.sig);
		}
		svc_status(sv, it->sha, cs, desc.data);
		code = -2;
		goto out;
	}
	t = now();
	code = run_child(sv, why, sizeof why);
	fmt_dur(now() - t, d, sizeof d);
	if (R.nsig) {
		cs = CS_ABORT,
		xprintf(&desc, "%s aborted: walter got signal %d", opt.config, (int)R.sig);
	} else if (code == 0) {
		cs = CS_OK, xprintf(&desc, "%s succeeded (%s)", opt.config, d);
	} else if (code == 1) {
		cs = CS_FAIL, xprintf(&desc, "%s failed (%s)", opt.config, d);
	} else if (code == 2) {
		cs = CS_CONFIG,
		xprintf(&desc, "%s does not load (configuration error)", opt.config);
	} else if (code == 124) {
		cs = CS_ABORT, xprintf(&desc, "%s: -timeout expired (%s)", opt.config, d);
	} else if (code > 128) {
		cs = CS_ABORT,
		xprintf(&desc, "%s: walter killed by signal %d", opt.config, code - 128);
	} else if (code < 0) {
		cs = CS_CONFIG, xprintf(&desc, "%s", why);
	} else {
		cs = CS_FAIL, xprintf(&desc, "%s: walter exit status %d", opt.config, code);
	}
	logmsg(code ? L_ERROR : L_INFO, "service", "%s at %.7s: %s", name, it->sha, desc.data);
	svc_status(sv, it->sha, cs, desc.data);
	if (!R.nsig) {
		svc_record(sv, it, cs_word[0][cs]);
		state_write(sv, "inprogress");
	}
out:
	buf_free(&o), buf_free(&desc);
	return R.nsig ? -1 : code == 0 ? 0 : 1;
}

/* -mode service: steps 1 to 5; the exit status (a signal: main dies of
 * it). */
static int
service_main(const char *argv0)
{
	static const char *const env_tok[] = { "GITHUB_TOKEN", NULL };
	struct service sv;
	struct http_response rs;
	struct item *open = NULL;
	struct buf a = { 0 }, b = { 0 };
	char path[PATH_MAX], why[512], *url;
	const char *tok = svc.token && *svc.token ? svc.token : getenv(env_tok[0]);
	size_t i, nopen = 0;
	ssize_t n;
	int code = 2;

	memset(&sv, 0, sizeof sv);
	sv.lockfd = -1, sv.argv0 = argv0, sv.t0 = now();
	if ((n = readlink("/proc/self/exe", path, sizeof path - 1)) > 0) {
		path[n] = '\0';
		sv.exe = xstrdup(strstr(path, " (deleted)") ? "/proc/self/exe" : path);
	} else if (!(sv.exe = path_lookup(argv0))) {
		logmsg(L_ERROR, "service", "cannot find walter itself (%s) to run the builds",
			argv0);
		return 2;
	}
	xprintf(&a, "Authorization: Bearer %s", tok ? tok : "");
	sv.auth = a.data;
	sv.hdr[0] = sv.auth, sv.hdr[1] = "User-Agent: walter/" WALTER_VERSION;
	sv.hdr[2] = sv.accept, sv.hdr[3] = "X-GitHub-Api-Version: 2022-11-28";
	setenv("GIT_TERMINAL_PROMPT", "0", 1); /* a credential prompt would hang */
	if (!tok || svc_tree(&sv) < 0 || svc_lock(&sv) < 0 || state_read(&sv) < 0)
		goto out;
	sv.read = 1;
	logmsg(L_INFO, "service", "polling %s/%s (trunk %s)", svc.from, svc.repo, svc.trunk);
	if (state_write(&sv, "inprogress") < 0)
		goto out;
	url = repo_url("/commits/");
	b.len = 0;
	xputs(&b, url);
	free(url);
	if (url_put_segment(&b, svc.trunk, strlen(svc.trunk)) < 0)
		fatal("out of memory");
	if (gh_get(&sv, b.data, "application/vnd.github.sha", &rs) < 0)
		goto out;
	b.len = 0;
	xput(&b, rs.body.data, rs.body.len);
	http_response_free(&rs);
	while (b.len && isspace((unsigned char)b.data[b.len - 1]))
		b.data[--b.len] = '\0';
	if (!b.len || !is_sha(b.data)) {
		logmsg(L_ERROR, "service", "the API did not answer the trunk's commit with a SHA");
		goto out;
	}
	if (gh_pulls(&sv, &open, &nopen) < 0)
		goto out;
	svc_queue(&sv, b.data, open, nopen);
	if (!sv.nit)
		logmsg(L_INFO, "service", "nothing new (trunk %s at %.7s, %zu open pull request%s)",
			svc.trunk, b.data, nopen, nopen == 1 ? "" : "s");
	for (i = 0; i < sv.nit && !R.nsig; i++) {
		int r = svc_item(&sv, &sv.it[i]);
		sv.failed |= r != 0;
	}
	code = sv.failed ? 1 : 0;
out:
	sv.failed |= code != 0;
	if (sv.read && state_write(&sv, "finished") < 0)
		code = 2;
	if (sv.head) { /* step 5 */
		const char *const ba[] = { "git", "checkout", "-q", "-f", sv.head, NULL };
		const char *const da[] = { "git", "checkout", "-q", "--detach", "-f", sv.head,
			NULL };
		/* not stopped by the signal that may have stopped the poll */
		if (sv.nit &&
			git_run(sv.detached ? da : ba, NULL, 120, GIT_KEEP, why, sizeof why)) {
			logmsg(L_ERROR, "service", "git checkout %s: %s", sv.head, why);
			code = 2;
		}
	}
	if (sv.lockfd >= 0)
		close(sv.lockfd);
	items_free(open, nopen);
	items_free(sv.it, sv.nit);
	free(sv.exe), free(sv.state), free(sv.head), free(sv.trunk_branch), free(sv.sv),
		free(sv.auth);
	buf_free(&b);
	log_flush();
	return code;
}

/* ==== 11. main ====================================================== */

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
		free(n->tail), free(n->why);
	}
	for (i = 0; R.spec_val && i < cfg.nspecials; i++)
		free(R.spec_val[i]);
	free(R.spec_val), free(R.act), free(R.queue), free(R.linger), free(R.heap), free(R.watch);
	free(R.words);
	free(R.more), free(R.more2);
	pm_free(&R.pids);
	if (R.epfd >= 0)
		close(R.epfd);
	free(cfg.tasks), free(cfg.specials), free(cfg.nt), free(opt.names), free(opt.fwd);
	if (strcmp(R.sh, "/bin/sh"))
		free((char *)R.sh);
	for (i = 0; i < R.nexe; i++)
		exe_free(&R.exe[i]);
	free(R.exe);
	pw_stop();
	buf_free(&R.pw.dirs), buf_free(&R.pw.armed), buf_free(&R.pw.failed);
	buf_free(&R.pw.wds);
	free(R.pwd);
	free(R.spare), free(R.pf), free(R.pgen), free(R.envv);
	while (R.tails) {
		char *t = R.tails;
		memcpy(&R.tails, t, sizeof R.tails);
		free(t);
	}
	if (R.null >= 0)
		close(R.null);
	log_flush();
	buf_free(&lg.out);
	buf_free(&lg.pre);
	buf_free(&lg.fout);
	buf_free(&lg.fpre);
	buf_free(&lg.msg);
	buf_free(&rep.errors);
	secrets_free();
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

/* After a signal, die of it. PID 1 cannot die of a signal it sends
 * itself (in a PID namespace the kernel drops it, and under qemu-user
 * the emulator waits forever), so it exits 128+N without trying. */
static int
die_of(int sig, int code)
{
	sigset_t s;

	if (!sig)
		return code;
	if (getpid() == 1)
		return 128 + sig;
	signal(sig, SIG_DFL);
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	raise(sig);
	return 128 + sig;
}

int
main(int argc, char **argv)
{
	static const char version[] = "walter version " WALTER_VERSION "\n";
	int first = 0, last = 0, failed, sig, code, d2_default, service, ok = 1;

	hold_std_fds();
	parse_flags(argc, argv);
	if (opt.help) {
		write_all(1, usage_text, sizeof usage_text - 1, &ok);
		return 0;
	}
	if (opt.version) {
		write_all(1, version, sizeof version - 1, &ok);
		return 0;
	}
	if (opt.yaml_to_json)
		return yaml_to_json_main(opt.yaml_to_json);
	if (strcmp(opt.mode, "local") && strcmp(opt.mode, "service"))
		usage("invalid -mode %s (local or service)", opt.mode);
	secrets_from_env();
	/* what cannot be written stops us now; under -mode service the
	 * reports wait for the file: a poll writes none, a local run does */
	if (!opt.check && !opt.plan && !opt.list) {
		if (strcmp(opt.mode, "service"))
			reports_open();
		rep.loading = 1; /* from here, errors are reported */
		log_open();
	}
	load(opt.config);
	service = !strcmp(opt.mode, "service") && svc.present && svc.github;
	if (service)
		svc_ready(); /* also under -check: what the poll will need */
	if (cfg.errors) {
		reports_config_error();
		exit(2);
	}
	if (cfg.format == FMT_PIPELINE && (opt.build || opt.deploy))
		warn("-build and -deploy are for build/deploy files; running the pipeline");
	if (cfg.format == FMT_BUILD_DEPLOY) {
		if (opt.deploy && !cfg.ph[1].present)
			fatal("-deploy: %s has no deploy section", opt.config);
		first = opt.build || !opt.deploy ? 0 : 1;
		last = opt.deploy ? 1 : 0;
	}
	if (opt.list) {
		list_tasks();
		teardown();
		return 0;
	}
	if (opt.nnames || opt.from)
		select_tasks(&first, &last); /* NAME... and -from: 7. scheduler */
	if (opt.check || opt.plan) {
		if (opt.plan)
			plan(first, last);
		else
			say(1, "", ": ok\n", "%s", opt.config);
		teardown();
		return 0;
	}
	d2_default = cfg.format == FMT_BUILD_DEPLOY && !opt.build && !opt.deploy && !opt.nnames &&
		!opt.from;
	if (d2_default && !cfg.ph[0].present && cfg.ph[1].present)
		fatal("%s has only a deploy phase: run it with -deploy", opt.config);
	rep.loading = 0;
	if (service) { /* 10. service mode */
		if (opt.json || opt.junit)
			warn("-json and -junit are not written in service mode (each build is a run of its own)");
		signals_setup(); /* no subreaper: the builds are walters */
		code = service_main(argv[0]);
		teardown();
		return die_of(R.nsig ? R.sig : 0, code);
	}
	if (!strcmp(opt.mode, "service")) {
		logmsg(L_INFO, NULL,
			"-mode service: %s has no service block of type github: running locally",
			opt.config);
		reports_open(); /* a run after all */
	}
	exec_setup();
	if (d2_default && cfg.ph[1].present)
		logmsg(L_INFO, NULL, "running build only: the deploy phase needs -deploy");
	R.t0 = now();
	R.deadline = opt.timeout > 0 ? R.t0 + opt.timeout : 0;
	notify_start();
	notify_begin();
	prog_start(run_total(first, last));
	failed = run_phases(first, last); /* the failure rules: 7. scheduler */
	prog_stop();
	kill_leftovers(0);
	summary(R.t0);
	notify_finish(failed, R.t0);
	kill_leftovers(1); /* what notifier commands left */
	guard_end();
	sig = R.nsig ? R.sig : 0;
	code = sig ? 128 + sig : R.timed_out ? 124 : failed ? 1 : 0;
	code = reports_write(first, last, failed, code);
	teardown();
	return die_of(sig, code);
}
