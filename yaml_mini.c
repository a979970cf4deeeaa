/* yaml_mini.c - a hand-written, fail-closed YAML 1.2 parser.
 *
 * One recursive-descent pass straight over the input, no token queue:
 * block structure is decided by indentation counted in spaces, and an
 * implicit key is recognised by a cheap look-ahead over the rest of its line
 * (keyscan).  Recursion happens only per collection level, which the depth
 * limit bounds.  Errors longjmp back to yaml_parse: every allocation lives in
 * the arena or in the parser struct, so unwinding is just freeing those two.
 * The input is copied with a NUL sentinel (NUL bytes inside are rejected up
 * front), so "*s == 0" means end of input and no scan needs a length. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define _DEFAULT_SOURCE 1 /* MAP_ANONYMOUS, madvise (hidden otherwise) */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "yaml_mini.h"

#define ISBLANK(c) ((c) == ' ' || (c) == '\t')
#define ISBREAK(c) ((c) == '\n' || (c) == '\r')
#define ISWS(c)    (ISBLANK(c) || ISBREAK(c) || (c) == '\0')
#define ISFLOW(c)  ((c) == ',' || (c) == '[' || (c) == ']' || (c) == '{' || (c) == '}')

/* What introduced a block node: "---" (C_DOC), "- " (C_SEQ: a compact
 * collection may start on the same line), "key:" (C_MAP: a sequence may
 * sit at the key's indentation), "? " or ": " of an explicit entry (both). */
enum { C_DOC, C_SEQ = 1, C_MAP = 2, C_EXPL = 3 };

struct block {
	struct block *next;
	size_t used, cap;
	int mapped; /* mmap'd (block_new), else malloc'd */
};

/* A node plus its size once aliases are expanded (1 for a scalar). */
struct xnode {
	struct yaml_node n;
	size_t size;
};

/* The arena holds nodes, pointer arrays and text: nothing needs more
 * alignment than a node. */
#define ALIGN    _Alignof(struct xnode)
#define BLOCKHDR ((sizeof(struct block) + ALIGN - 1) / ALIGN * ALIGN)
#define SIZE(x)  (((const struct xnode *)(x))->size)

struct yaml_doc {
	struct block *arena;
	const struct yaml_node **root;
	size_t n;
};

/* An entry of a name table: the anchors (name to node) and the set of
 * resolved tags (node unused). */
struct anchor {
	const char *name;
	size_t len;
	struct yaml_node *node;
};

struct props {
	const char *anchor, *tagat; /* as written */
	size_t alen, taglen;
	const char *tagname; /* resolved, in the arena */
	enum yaml_tag tag;
	int line, col;
};

/* A %TAG directive of the current document. */
struct tagdir {
	const char *handle, *prefix;
	size_t hlen, plen;
};

struct parser {
	const char *s, *ls, *start; /* position, its line start, input */
	int line;
	int inflow, flown;      /* flow nesting; block indent around it */
	int flowline;           /* where the outermost flow collection began */
	int json;               /* last flow node was quoted or a collection */
	int bom;                /* the input holds U+FEFF past its start */
	const char *tab;        /* see lineind */
	const char *cls, *cpos; /* column cache for the current line */
	int ccol;
	size_t total; /* nodes so far, aliases expanded */
	struct block *arena;
	struct yaml_node **stk; /* children of collections being built */
	size_t nstk, capstk;
	char *tmp; /* text of the scalar being built */
	size_t ntmp, captmp;
	struct anchor *anc;
	size_t nanc, capanc;
	struct tagdir *dirs; /* %TAG handles of this document */
	size_t ndirs, capdirs;
	struct anchor *tags; /* every distinct resolved tag */
	size_t ntags, captags;
	size_t tagbytes;       /* their size in the arena */
	size_t *seen, capseen; /* duplicate-key hash table */
	const struct yaml_node **root;
	size_t nroot, caproot;
	struct yaml_doc *doc;
	const char *file;
	char *err;
	size_t errlen;
	jmp_buf jb;
};

static struct yaml_node *block_node(struct parser *, int, int, int);
static struct yaml_node *fnode(struct parser *, int);

/* ---- errors and positions ---- */

static void
where(const struct parser *p, const char *at, int *line, int *col)
{
	const char *q = p->start, *ls;
	int l = 1, c = 1;

	if (q[0] == '\xEF' && q[1] == '\xBB' && q[2] == '\xBF')
		q += 3;
	for (ls = q; q < at; q++) {
		if (*q == '\r' && q + 1 < at && q[1] == '\n')
			q++;
		if (ISBREAK(*q))
			l++, ls = q + 1;
	}
	for (; ls < at; ls++)
		c += (*ls & 0xC0) != 0x80;
	*line = l;
	*col = c;
}

static void
vformat(struct parser *p, int line, int col, const char *fmt, va_list ap)
{
	int k;

	if (p->errlen) {
		k = snprintf(p->err, p->errlen, "%s:%d:%d: ", p->file, line, col);
		if (k >= 0 && (size_t)k < p->errlen)
			vsnprintf(p->err + k, p->errlen - k, fmt, ap);
	}
}

/* The va_list is closed before the jump back to yaml_parse. */
static _Noreturn void
failat(struct parser *p, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat(p, line, col, fmt, ap);
	va_end(ap);
	longjmp(p->jb, 1);
}

static _Noreturn void
fail(struct parser *p, const char *at, const char *fmt, ...)
{
	va_list ap;
	int line, col;

	where(p, at, &line, &col);
	va_start(ap, fmt);
	vformat(p, line, col, fmt, ap);
	va_end(ap);
	longjmp(p->jb, 1);
}

/* Column of at on the current line; cached because nodes are created in
 * increasing order, which keeps long flow lines linear. */
static int
colof(struct parser *p, const char *at)
{
	if (p->cls != p->ls || at < p->cpos) {
		p->cls = p->cpos = p->ls;
		p->ccol = 1;
	}
	for (; p->cpos < at; p->cpos++)
		p->ccol += (*p->cpos & 0xC0) != 0x80;
	return p->ccol;
}

/* ---- memory ---- */

#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels say EINVAL */
#endif

/* An arena block of cap bytes. Big ones (a big file's: blocks double up
 * to 4 MiB) are mapped where they can be, asking for huge pages and for
 * the pages at once: a node tree is ten times its file, and page faults
 * one at a time (a trap each, costly in a VM) were most of the time of
 * -yaml-to-json on 4 MB of YAML (10,500 faults, 3,100 this way; 0.64x
 * of the time). Small ones, every pipeline file's, come from malloc. */
static struct block *
block_new(size_t cap)
{
	struct block *b;

#if defined(MAP_ANONYMOUS)
	if (cap >= (1u << 20)) {
		void *m = mmap(NULL, BLOCKHDR + cap, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m != MAP_FAILED) {
#ifdef MADV_HUGEPAGE
			(void)madvise(m, BLOCKHDR + cap, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
			(void)madvise(m, BLOCKHDR + cap, MADV_POPULATE_WRITE);
#endif
			b = m;
			b->mapped = 1;
			return b;
		}
	}
#endif
	if ((b = malloc(BLOCKHDR + cap)))
		b->mapped = 0;
	return b;
}

static void *
alloc(struct parser *p, size_t n)
{
	struct block *b = p->arena;
	size_t cap;

	n = (n + ALIGN - 1) / ALIGN * ALIGN;
	if (!b || b->cap - b->used < n) {
		cap = !b ? 1u << 16 : b->cap < (4u << 20) ? b->cap * 2 : b->cap;
		if (cap < n)
			cap = n;
		if (!(b = block_new(cap)))
			fail(p, p->s, "out of memory");
		b->next = p->arena;
		b->used = 0;
		b->cap = cap;
		p->arena = b;
	}
	b->used += n;
	return (char *)b + BLOCKHDR + b->used - n;
}

/* A growable array a with room for need elements of size sz. */
static void *
grow(struct parser *p, void *a, size_t *cap, size_t need, size_t sz)
{
	size_t c = *cap ? *cap : 64;

	if (need <= *cap)
		return a;
	while (c < need)
		c *= 2;
	if (c > SIZE_MAX / sz || !(a = realloc(a, c * sz)))
		fail(p, p->s, "out of memory");
	*cap = c;
	return a;
}

static void
put(struct parser *p, const char *s, size_t n)
{
	p->tmp = grow(p, p->tmp, &p->captmp, p->ntmp + n + 1, 1);
	memcpy(p->tmp + p->ntmp, s, n);
	p->ntmp += n;
}

static void
putn(struct parser *p, char c, int n)
{
	p->tmp = grow(p, p->tmp, &p->captmp, p->ntmp + n + 1, 1);
	memset(p->tmp + p->ntmp, c, n);
	p->ntmp += n;
}

static void
push(struct parser *p, struct yaml_node *n)
{
	p->stk = grow(p, p->stk, &p->capstk, p->nstk + 1, sizeof *p->stk);
	p->stk[p->nstk++] = n;
}

/* ---- nodes ---- */

static struct yaml_node *
newnode(struct parser *p, enum yaml_kind k, enum yaml_style st, int line, int col)
{
	struct xnode *x;

	if (++p->total > YAML_MAX_NODES)
		failat(p, line, col, "document has more than %d nodes", YAML_MAX_NODES);
	x = alloc(p, sizeof *x);
	memset(x, 0, sizeof *x);
	x->n.kind = k;
	x->n.style = st;
	x->n.line = line;
	x->n.col = col;
	x->size = 1;
	return &x->n;
}

/* U+FEFF past the start of the input (checktext saw one) may stand in
 * quoted scalars only: plain and block scalars call this. */
static void
nobom(struct parser *p, const char *s, size_t len, int line, int col)
{
	size_t i;

	for (i = 0; i + 2 < len; i++)
		if (memcmp(s + i, "\xEF\xBB\xBF", 3) == 0)
			failat(p, line, col,
				"a byte order mark (U+FEFF) may only start the input or stand "
				"in quotes");
}

static struct yaml_node *
scalar(struct parser *p, enum yaml_style st, int line, int col, const char *s, size_t len)
{
	struct yaml_node *n = newnode(p, YAML_SCALAR, st, line, col);
	char *t = alloc(p, len + 1);

	if (len)
		memcpy(t, s, len);
	t[len] = '\0';
	n->text = t;
	n->len = len;
	return n;
}

static struct yaml_node *
empty(struct parser *p, int line, int col)
{
	return scalar(p, YAML_PLAIN, line, col, "", 0);
}

/* Pop the children pushed since base into a new collection. */
static struct yaml_node *
coll(struct parser *p, enum yaml_kind k, enum yaml_style st, int line, int col, size_t base)
{
	struct yaml_node *n = newnode(p, k, st, line, col);
	size_t i, cnt = p->nstk - base;

	n->child = alloc(p, cnt * sizeof *n->child + 1);
	if (cnt)
		memcpy(n->child, p->stk + base, cnt * sizeof *n->child);
	n->n = cnt;
	for (i = 0; i < cnt; i++)
		((struct xnode *)n)->size += SIZE(n->child[i]);
	p->nstk = base;
	return n;
}

static size_t
hash(const char *s, size_t n)
{
	size_t h = 2166136261u;

	while (n--)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static int
same(const struct yaml_node *a, const struct yaml_node *b)
{
	return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

/* How much of a scalar a message quotes: at most max bytes, whole UTF-8
 * characters, and nothing from the first control character (a line
 * break, say) on. */
static int
quotable(const struct yaml_node *n, size_t max)
{
	size_t i;

	for (i = 0; i < n->len && i < max && (unsigned char)n->text[i] >= ' '; i++)
		;
	while (i > 0 && i < n->len && (n->text[i] & 0xC0) == 0x80)
		i--; /* not in the middle of a UTF-8 sequence */
	return (int)i;
}

static _Noreturn void
dupkey(struct parser *p, const struct yaml_node *k)
{
	failat(p, k->line, k->col, "duplicate key \"%.*s\"", quotable(k, 60), k->text);
}

/* Keys k[0], k[stride], ... of one mapping must differ.  Few keys compare
 * pairwise; many go through a hash table so 20,000 keys stay linear. */
static void
dupcheck(struct parser *p, struct yaml_node *const *k, size_t np, size_t stride)
{
	size_t i, j, h, cap = 16;
	const struct yaml_node *x;

	if (np <= 8) {
		for (i = 1; i < np; i++)
			for (j = 0; j < i; j++)
				if (same(k[i * stride], k[j * stride]))
					dupkey(p, k[i * stride]);
		return;
	}
	while (cap < 2 * np)
		cap *= 2;
	p->seen = grow(p, p->seen, &p->capseen, cap, sizeof *p->seen);
	memset(p->seen, 0xff, cap * sizeof *p->seen);
	for (i = 0; i < np; i++) {
		x = k[i * stride];
		for (h = hash(x->text, x->len) & (cap - 1); p->seen[h] != SIZE_MAX;
			h = (h + 1) & (cap - 1))
			if (same(x, k[p->seen[h] * stride]))
				dupkey(p, x);
		p->seen[h] = i;
	}
}

/* ---- anchors ---- */

static struct anchor *
slot(struct anchor *t, size_t cap, const char *s, size_t n)
{
	size_t h = hash(s, n) & (cap - 1);

	while (t[h].name && !(t[h].len == n && memcmp(t[h].name, s, n) == 0))
		h = (h + 1) & (cap - 1);
	return &t[h];
}

/* Room for one more entry in table *t of *cap slots (a power of two, at
 * most half full) holding n: doubled and rehashed when needed. */
static void
roomfor(struct parser *p, struct anchor **t, size_t *cap, size_t n)
{
	struct anchor *old = *t, *nt;
	size_t i, ncap = *cap ? *cap * 2 : 64;

	if (2 * (n + 1) <= *cap)
		return;
	if (!(nt = calloc(ncap, sizeof *nt)))
		fail(p, p->s, "out of memory");
	for (i = 0; i < *cap; i++)
		if (old[i].name)
			*slot(nt, ncap, old[i].name, old[i].len) = old[i];
	free(old);
	*t = nt;
	*cap = ncap;
}

static void
setanchor(struct parser *p, const char *s, size_t n, struct yaml_node *node)
{
	struct anchor *a;

	roomfor(p, &p->anc, &p->capanc, p->nanc);
	a = slot(p->anc, p->capanc, s, n);
	p->nanc += !a->name;
	a->name = s;
	a->len = n;
	a->node = node;
}

/* End of an anchor or alias name: ns-anchor-char is any printable
 * character but white space and the flow indicators. */
static const char *
namend(const char *s)
{
	while (!ISWS(*s) && !ISFLOW(*s))
		s++;
	return s;
}

/* An alias is the anchored node itself; its expanded size is charged
 * against the node budget here, so an alias bomb fails on first excess. */
static struct yaml_node *
alias(struct parser *p)
{
	const char *at = p->s, *name = at + 1, *e = namend(name);
	struct anchor *a;

	if (e == name)
		fail(p, at, "alias name is empty");
	a = p->capanc ? slot(p->anc, p->capanc, name, e - name) : NULL;
	if (!a || !a->name)
		fail(p, at, "unknown alias \"*%.*s\"", (int)(e - name), name);
	if (SIZE(a->node) > YAML_MAX_NODES - p->total)
		fail(p, at, "alias expansion exceeds %d nodes", YAML_MAX_NODES);
	p->total += SIZE(a->node);
	p->s = e;
	p->json = 0;
	return a->node;
}

/* ---- core schema ---- */

static int
isdigits(const char *s, const char *e, const char *set)
{
	if (s == e)
		return 0;
	for (; s < e; s++)
		if (!*s || !strchr(set, *s))
			return 0;
	return 1;
}

static int
isint(const char *s, size_t n)
{
	const char *e = s + n;

	if (n > 2 && s[0] == '0' && s[1] == 'o')
		return isdigits(s + 2, e, "01234567");
	if (n > 2 && s[0] == '0' && s[1] == 'x')
		return isdigits(s + 2, e, "0123456789abcdefABCDEF");
	if (n && (*s == '-' || *s == '+'))
		s++;
	return isdigits(s, e, "0123456789");
}

static int
oneof(const char *s, size_t n, const char *const *set)
{
	for (; *set; set++)
		if (strlen(*set) == n && memcmp(*set, s, n) == 0)
			return 1;
	return 0;
}

static int
isfloat(const char *s, size_t n)
{
	static const char *const inf[] = { ".inf", ".Inf", ".INF", NULL };
	static const char *const nan[] = { ".nan", ".NaN", ".NAN", NULL };
	const char *e = s + n, *d;

	if (oneof(s, n, nan))
		return 1;
	if (n && (*s == '-' || *s == '+'))
		s++;
	if (oneof(s, e - s, inf))
		return 1;
	for (d = s; d < e && *d >= '0' && *d <= '9'; d++)
		;
	if (d < e && *d == '.')
		for (d++; d < e && *d >= '0' && *d <= '9'; d++)
			;
	if (d == s || (d == s + 1 && *s == '.'))
		return 0;
	if (d < e && (*d == 'e' || *d == 'E')) {
		if (++d < e && (*d == '-' || *d == '+'))
			d++;
		return isdigits(d, e, "0123456789");
	}
	return d == e;
}

static enum yaml_tag
plaintype(const char *s, size_t n)
{
	static const char *const nul[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const bools[] = { "true", "True", "TRUE", "false", "False", "FALSE",
		NULL };

	/* the first character settles most scalars before any comparison */
	switch (n ? *s : '~') {
	case '~':
	case 'n':
	case 'N':
		return oneof(s, n, nul) ? YAML_TAG_NULL : YAML_TAG_STR;
	case 't':
	case 'T':
	case 'f':
	case 'F':
		return oneof(s, n, bools) ? YAML_TAG_BOOL : YAML_TAG_STR;
	case '+':
	case '-':
	case '.':
		break;
	default:
		if (*s < '0' || *s > '9')
			return YAML_TAG_STR;
	}
	if (isint(s, n))
		return YAML_TAG_INT;
	if (isfloat(s, n))
		return YAML_TAG_FLOAT;
	return YAML_TAG_STR;
}

/* ---- properties ---- */

/* Names of the standard tags under tag:yaml.org,2002:, by enum yaml_tag. */
static const char *const stdtag[] = { "", "str", "int", "float", "bool", "null", "map", "seq",
	"binary", "timestamp", "set", "omap", "pairs" };
static const char yamlorg[] = "tag:yaml.org,2002:";

static int
isword(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '-';
}

/* ns-uri-char less '!' and the flow indicators: what a tag shorthand's
 * suffix may hold ('%' starts an escape that hexesc checks). */
static int
tagchar(char c)
{
	return isword(c) || (c && strchr("#;/?:@&=+$_.~*'()%", c));
}

static int
urichar(char c)
{
	return tagchar(c) || (c && strchr("!,[]", c));
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* A "%" in a tag must start a %XX escape. */
static void
hexesc(struct parser *p, const char *s)
{
	if (hexval(s[1]) < 0 || hexval(s[2]) < 0)
		fail(p, s, "\"%%\" in a tag must be followed by two hexadecimal digits");
}

/* The arena copy of tag t[0..n), stored once however many nodes carry
 * it; a hostile file cannot make the copies exceed YAML_MAX_TAGBYTES. */
static const char *
intern(struct parser *p, const char *t, size_t n)
{
	struct anchor *a;
	char *c;

	roomfor(p, &p->tags, &p->captags, p->ntags);
	if ((a = slot(p->tags, p->captags, t, n))->name)
		return a->name;
	if (n + 1 > YAML_MAX_TAGBYTES - p->tagbytes)
		fail(p, p->s, "tags take more than %d bytes", YAML_MAX_TAGBYTES);
	p->tagbytes += n + 1;
	c = alloc(p, n + 1);
	memcpy(c, t, n);
	c[n] = '\0';
	p->ntags++;
	a->name = c;
	a->len = n;
	return c;
}

/* Prefix and suffix, the suffix's %XX escapes decoded, as the node's tag. */
static void
settag(struct parser *p, struct props *pr, const char *pre, size_t pl, const char *suf, size_t sl)
{
	size_t i;
	char c;

	p->ntmp = 0;
	put(p, pre, pl);
	for (i = 0; i < sl; i++) {
		c = suf[i];
		if (c == '%') {
			/* decoded when printable, so "!e!tag%21" is "...tag!", but
			 * no control byte ever gets into a tag */
			c = (char)(hexval(suf[i + 1]) << 4 | hexval(suf[i + 2]));
			if (c > ' ' && c < 0x7F)
				i += 2;
			else
				c = '%';
		}
		put(p, &c, 1);
	}
	pr->tagname = intern(p, p->tmp, p->ntmp);
	pr->tag = YAML_TAG_OTHER;
	if (p->ntmp > sizeof yamlorg - 1 && memcmp(p->tmp, yamlorg, sizeof yamlorg - 1) == 0)
		for (i = YAML_TAG_STR; i <= YAML_TAG_PAIRS; i++)
			if (!strcmp(pr->tagname + sizeof yamlorg - 1, stdtag[i]))
				pr->tag = i;
}

/* !<verbatim>: a local tag ("!" and more) or a URI with a scheme, as is. */
static const char *
verbatim(struct parser *p, struct props *pr, const char *t)
{
	const char *e, *u = t + 2;

	for (e = u; *e != '>'; e++) {
		if (!urichar(*e))
			fail(p, t, "unterminated or invalid verbatim tag");
		if (*e == '%')
			hexesc(p, e);
	}
	if (*u == '!' ? e - u < 2 : !((*u | 0x20) >= 'a' && (*u | 0x20) <= 'z'))
		fail(p, t, "a verbatim tag must be a local tag (!name) or a URI");
	if (*u != '!') {
		while (isword(*u) || *u == '+' || *u == '.')
			u++; /* the scheme */
		if (*u != ':')
			fail(p, t, "a verbatim tag must be a local tag (!name) or a URI");
	}
	settag(p, pr, t + 2, e - t - 2, "", 0);
	return e + 1;
}

/* The prefix of handle h (with both "!"), from %TAG or the defaults. */
static const char *
handle(struct parser *p, const char *h, size_t hl, size_t *pl)
{
	size_t i;

	for (i = 0; i < p->ndirs; i++)
		if (p->dirs[i].hlen == hl && memcmp(p->dirs[i].handle, h, hl) == 0) {
			*pl = p->dirs[i].plen;
			return p->dirs[i].prefix;
		}
	if (hl == 1 || hl == 2) {
		*pl = hl == 1 ? 1 : sizeof yamlorg - 1;
		return hl == 1 ? "!" : yamlorg;
	}
	fail(p, h, "tag handle %.*s is not defined by a %%TAG directive", (int)hl, h);
}

/* A tag: "!" (non-specific), !<verbatim>, or a shorthand "!suffix",
 * "!!suffix" or "!handle!suffix" resolved through the %TAG handles. */
static void
tag(struct parser *p, struct props *pr)
{
	const char *t = p->s, *h, *e, *pre;
	size_t pl;

	pr->tagat = t;
	if (t[1] == '<') {
		p->s = verbatim(p, pr, t);
	} else {
		for (h = t + 1; isword(*h); h++)
			;
		h = *h == '!' ? h + 1 : t + 1;
		for (e = h; tagchar(*e); e++) {
			if (*e == '%') {
				hexesc(p, e);
				e += 2;
			}
		}
		if (e == h && h == t + 1) {
			pr->tagname = "!";
			pr->tag = YAML_TAG_NONE;
		} else if (e == h) {
			fail(p, t, "tag %.*s has no suffix", (int)(h - t), t);
		} else {
			pre = handle(p, t, h - t, &pl);
			settag(p, pr, pre, pl, h, e - h);
		}
		p->s = e;
	}
	pr->taglen = p->s - t;
}

/* Anchor and tag before a node, in either order; 1 if there were any.
 * Each must be followed by white space, or in a flow collection by the
 * end of the (then empty) node. */
static int
props(struct parser *p, struct props *pr)
{
	const char *e;
	int any = 0;
	char c;

	while (*p->s == '&' || *p->s == '!') {
		if (!pr->line) {
			pr->line = p->line;
			pr->col = colof(p, p->s);
		}
		if (*p->s == '!') {
			if (pr->tagat)
				fail(p, p->s, "a node can have only one tag");
			tag(p, pr);
		} else {
			if (pr->anchor)
				fail(p, p->s, "a node can have only one anchor");
			e = namend(p->s + 1);
			if (e == p->s + 1)
				fail(p, p->s, "anchor name is empty");
			pr->anchor = p->s + 1;
			pr->alen = e - pr->anchor;
			p->s = e;
		}
		any = 1;
		c = *p->s;
		if (!ISWS(c) && !(p->inflow && (c == ',' || c == ']' || c == '}')))
			fail(p, p->s, "expected white space after a node property");
		while (ISBLANK(*p->s))
			p->s++;
	}
	return any;
}

/* Start at s, stop before e: fixed and variable runs of digits. */
static const char *
digits(const char *s, const char *e, int lo, int hi)
{
	int i;

	for (i = 0; i < hi && s < e && *s >= '0' && *s <= '9'; i++)
		s++;
	return i >= lo ? s : NULL;
}

/* The YAML 1.1 timestamp: 2001-12-14, or 2001-12-14t21:59:43.10-05:00,
 * 2001-12-14 21:59:43.10 -5, 2001-12-15T02:59:43.1Z and the like. */
static int
istimestamp(const char *s, const char *e)
{
	const char *m, *d, *b;

	if (!(m = digits(s, e, 4, 4)) || m == e || *m != '-' || !(d = digits(m + 1, e, 1, 2)) ||
		d == e || *d != '-' || !(s = digits(d + 1, e, 1, 2)))
		return 0;
	if (s == e)
		return d - m == 3 && s - d == 3;
	if (*s == 'T' || *s == 't')
		s++;
	else if (!ISBLANK(*s))
		return 0;
	while (s < e && ISBLANK(*s))
		s++;
	if (!(s = digits(s, e, 1, 2)) || s == e || *s != ':' || !(s = digits(s + 1, e, 2, 2)) ||
		s == e || *s != ':' || !(s = digits(s + 1, e, 2, 2)))
		return 0;
	if (s < e && *s == '.')
		s = digits(s + 1, e, 0, INT_MAX);
	for (b = s; s < e && ISBLANK(*s); s++)
		;
	if (s == e)
		return s == b;
	if (*s == 'Z')
		return s + 1 == e;
	if ((*s != '+' && *s != '-') || !(s = digits(s + 1, e, 1, 2)))
		return 0;
	if (s < e && *s == ':')
		s = digits(s + 1, e, 2, 2);
	return s == e;
}

/* !!binary: base64 with white space anywhere, padded to a multiple of 4. */
static int
isbase64(const char *s, const char *e)
{
	size_t n = 0, pad = 0;

	for (; s < e; s++) {
		if (ISBLANK(*s) || ISBREAK(*s))
			continue;
		if (*s == '=')
			pad++;
		else if (pad || !((isword(*s) && *s != '-') || *s == '+' || *s == '/'))
			return 0;
		n++;
	}
	return n % 4 == 0 && pad <= 2;
}

static const char *
kindname(const struct yaml_node *n)
{
	return n->kind == YAML_MAP ? "mapping" : n->kind == YAML_SEQ ? "sequence" : "scalar";
}

/* !!omap and !!pairs: a sequence of one-pair mappings; !!omap keys differ. */
static void
pairlist(struct parser *p, const struct yaml_node *n, const struct props *pr)
{
	size_t i, base = p->nstk;
	const struct yaml_node *x;

	for (i = 0; i < n->n; i++) {
		x = n->child[i];
		if (x->kind != YAML_MAP || x->n != 2)
			failat(p, x->line, x->col, "an item of %.*s must be a one-pair mapping",
				(int)pr->taglen, pr->tagat);
		push(p, x->child[0]);
	}
	if (pr->tag == YAML_TAG_OMAP && n->n > 1)
		dupcheck(p, p->stk + base, n->n, 1);
	p->nstk = base;
}

/* The node kind a standard tag takes. */
static enum yaml_kind
tagkind(enum yaml_tag t)
{
	switch (t) {
	case YAML_TAG_MAP:
	case YAML_TAG_SET:
		return YAML_MAP;
	case YAML_TAG_SEQ:
	case YAML_TAG_OMAP:
	case YAML_TAG_PAIRS:
		return YAML_SEQ;
	default:
		return YAML_SCALAR;
	}
}

/* Is scalar n's text one of standard tag t's values? */
static int
scalarfits(enum yaml_tag t, const struct yaml_node *n)
{
	enum yaml_tag got;

	switch (t) {
	case YAML_TAG_STR:
		return 1;
	case YAML_TAG_BINARY:
		return isbase64(n->text, n->text + n->len);
	case YAML_TAG_TIMESTAMP:
		return istimestamp(n->text, n->text + n->len);
	default:
		got = plaintype(n->text, n->len);
		return got == t || (t == YAML_TAG_FLOAT && got == YAML_TAG_INT);
	}
}

/* An explicit standard tag must fit the node it is on. */
static void
tagcheck(struct parser *p, const struct yaml_node *n, const struct props *pr)
{
	enum yaml_tag t = pr->tag;
	size_t i;

	if (t == YAML_TAG_OTHER || t == YAML_TAG_NONE)
		return;
	if (tagkind(t) != n->kind)
		fail(p, pr->tagat, "tag %.*s does not fit a %s", (int)pr->taglen, pr->tagat,
			kindname(n));
	if (t == YAML_TAG_SET) {
		for (i = 1; i < n->n; i += 2)
			if (n->child[i]->kind != YAML_SCALAR ||
				yaml_resolve(n->child[i]) != YAML_TAG_NULL)
				failat(p, n->child[i]->line, n->child[i]->col,
					"a value of %.*s must be null", (int)pr->taglen, pr->tagat);
	} else if (t == YAML_TAG_OMAP || t == YAML_TAG_PAIRS) {
		pairlist(p, n, pr);
	} else if (n->kind == YAML_SCALAR && !scalarfits(t, n)) {
		failat(p, n->line, n->col, "\"%.*s\" is not a valid %.*s", quotable(n, 40), n->text,
			(int)pr->taglen, pr->tagat);
	}
}

/* Put the properties on the node: check the tag, register the anchor. */
static struct yaml_node *
apply(struct parser *p, struct yaml_node *n, const struct props *pr)
{
	if (pr->tagname) {
		tagcheck(p, n, pr);
		n->tagname = pr->tagname;
		n->tag = pr->tag;
		if (pr->tag == YAML_TAG_NONE && n->kind == YAML_SCALAR)
			n->tag = YAML_TAG_STR; /* "!": not resolved, a string */
	}
	if (pr->anchor)
		setanchor(p, pr->anchor, pr->alen, n);
	return n;
}

/* ---- lines ---- */

static void
nl(struct parser *p)
{
	if (*p->s == '\r' && p->s[1] == '\n')
		p->s++;
	p->s++;
	p->line++;
	p->ls = p->s;
}

static const char *
brk(const char *s)
{
	return s + 1 + (s[0] == '\r' && s[1] == '\n');
}

/* "---" or "..." at the start of a line: a document boundary. */
static int
marker(const char *ls, const char *s)
{
	return s == ls && (s[0] == '-' || s[0] == '.') && s[1] == s[0] && s[2] == s[0] &&
		ISWS(s[3]);
}

static int
seqentry(const char *s)
{
	return s[0] == '-' && ISWS(s[1]);
}

/* At a line start: skip lines holding only blanks or a comment. */
static void
skiplines(struct parser *p)
{
	const char *q;

	for (;;) {
		for (q = p->s; ISBLANK(*q); q++)
			;
		if (*q == '#')
			while (*q && !ISBREAK(*q))
				q++;
		if (!ISBREAK(*q)) {
			if (!*q)
				p->s = q;
			return;
		}
		p->s = q;
		nl(p);
	}
}

/* After a value: only blanks and a comment may end the line. */
static void
eol(struct parser *p)
{
	while (ISBLANK(*p->s))
		p->s++;
	if (*p->s == '#') {
		if (p->s > p->ls && !ISBLANK(p->s[-1]))
			fail(p, p->s, "a comment must be separated from content by white space");
		while (*p->s && !ISBREAK(*p->s))
			p->s++;
	}
	if (!*p->s)
		return;
	if (!ISBREAK(*p->s))
		fail(p, p->s, "unexpected text after a value");
	nl(p);
	skiplines(p);
}

static int
endline(const struct parser *p)
{
	return *p->s == '#' || ISBREAK(*p->s) || !*p->s;
}

/* Indentation of the content line at p->s, -1 at the end of input or at
 * a document marker, both of which close every block.  p->tab is set when
 * a tab follows the spaces: fine before a scalar, never before structure. */
static int
lineind(struct parser *p)
{
	const char *q = p->s;

	p->tab = NULL;
	if (!*q || marker(p->ls, q))
		return -1;
	while (*q == ' ')
		q++;
	if (*q == '\t')
		p->tab = q;
	return (int)(q - p->s);
}

static _Noreturn void
tabfail(struct parser *p, const char *at)
{
	fail(p, at, "found a tab character where indentation is expected");
}

/* Indentation of the next line of a block collection indented by m. */
static int
nextind(struct parser *p, int m)
{
	int ind = lineind(p);

	if (p->tab && ind >= m)
		tabfail(p, p->tab);
	return ind;
}

/* ---- scalars ---- */

static int
canplain(const char *s, int flow)
{
	switch (*s) {
	case '-':
	case '?':
	case ':':
		return !ISWS(s[1]) && !(flow && ISFLOW(s[1]));
	case ',':
	case '[':
	case ']':
	case '{':
	case '}':
	case '#':
	case '&':
	case '*':
	case '!':
	case '|':
	case '>':
	case '\'':
	case '"':
	case '%':
	case '@':
	case '`':
		return 0;
	default:
		return !ISWS(*s);
	}
}

/* One-line plain scalar scan in block context, as plain() would do it. */
static const char *
plainkey(const char *s)
{
	for (;; s++) {
		if (*s == ':' && ISWS(s[1]))
			return s;
		if (!*s || ISBREAK(*s) || (ISBLANK(*s) && s[1] == '#'))
			return NULL;
	}
}

/* End of a quoted scalar if it closes on this line, else NULL. */
static const char *
quotend(const char *s)
{
	char q = *s++;

	for (; *s && !ISBREAK(*s); s++) {
		if (q == '"' && *s == '\\') {
			if (ISWS(s[1]) && !ISBLANK(s[1]))
				return NULL;
			s++;
		} else if (*s == q) {
			if (q == '\'' && s[1] == '\'')
				s++;
			else
				return s + 1;
		}
	}
	return NULL;
}

/* Does an implicit block key start at s?  0 no, 1 yes (*colon set),
 * 2 an explicit "?" key. */
static int
keyscan(const char *s, const char **colon)
{
	while (*s == '&' || *s == '!') {
		while (!ISWS(*s))
			s++;
		while (ISBLANK(*s))
			s++;
	}
	if (*s == '?' && ISWS(s[1]))
		return 2;
	if (*s == '"' || *s == '\'') {
		if (!(s = quotend(s)))
			return 0;
	} else if (*s == '*') {
		while (!ISWS(*s))
			s++;
	} else if (*s != ':' || !ISWS(s[1])) {
		if (!canplain(s, 0) || !(s = plainkey(s)))
			return 0;
	}
	while (ISBLANK(*s))
		s++;
	if (*s == ':' && ISWS(s[1])) {
		*colon = s;
		return 1;
	}
	return 0;
}

/* Where a continuation line of a multi-line flow scalar starts: count the
 * empty lines after the break at s, return the first non-blank of the
 * next line (sp: its indentation, ls: its start). */
static const char *
nextline(const char *s, int *empties, int *sp, const char **ls)
{
	const char *v;

	*empties = -1;
	do {
		s = brk(s);
		++*empties;
		*ls = s;
		for (v = s; *v == ' '; v++)
			;
		*sp = (int)(v - s);
		while (ISBLANK(*v))
			v++;
		s = v;
	} while (ISBREAK(*v));
	return v;
}

static void
skipto(struct parser *p, int empties, const char *ls, const char *v)
{
	p->line += empties + 1;
	p->ls = ls;
	p->s = v;
}

static struct yaml_node *
plain(struct parser *p, int n)
{
	int line = p->line, col = colof(p, p->s), flow = p->inflow > 0;
	int lines = 0, empties, sp;
	const char *s = p->s, *seg = s, *end, *v, *ls;

	p->ntmp = 0;
	for (;;) {
		for (end = s;; end = ++s) {
			while (ISBLANK(*s) && s[1] != '#')
				s++;
			if (!*s || ISBREAK(*s) || ISBLANK(*s) || (flow && ISFLOW(*s)) ||
				(*s == ':' && (ISWS(s[1]) || (flow && ISFLOW(s[1])))))
				break;
		}
		if (lines)
			put(p, seg, end - seg);
		p->s = end;
		if (!ISBREAK(*s))
			break;
		v = nextline(s, &empties, &sp, &ls);
		if (!*v || sp <= n || marker(ls, ls) || *v == '#' || (flow && ISFLOW(*v)) ||
			(*v == ':' && (ISWS(v[1]) || (flow && ISFLOW(v[1])))))
			break;
		if (!lines++)
			put(p, seg, end - seg);
		if (empties)
			putn(p, '\n', empties);
		else
			putn(p, ' ', 1);
		skipto(p, empties, ls, v);
		s = seg = v;
	}
	if (p->bom)
		nobom(p, lines ? p->tmp : seg, lines ? p->ntmp : (size_t)(end - seg), line, col);
	if (!lines)
		return scalar(p, YAML_PLAIN, line, col, seg, end - seg);
	return scalar(p, YAML_PLAIN, line, col, p->tmp, p->ntmp);
}

static void
pututf8(struct parser *p, unsigned long c)
{
	char b[4];
	int n;

	if (c < 0x80)
		b[0] = (char)c, n = 1;
	else if (c < 0x800)
		b[0] = (char)(0xC0 | c >> 6), b[1] = (char)(0x80 | (c & 0x3F)), n = 2;
	else if (c < 0x10000)
		b[0] = (char)(0xE0 | c >> 12), b[1] = (char)(0x80 | (c >> 6 & 0x3F)),
		b[2] = (char)(0x80 | (c & 0x3F)), n = 3;
	else
		b[0] = (char)(0xF0 | c >> 18), b[1] = (char)(0x80 | (c >> 12 & 0x3F)),
		b[2] = (char)(0x80 | (c >> 6 & 0x3F)), b[3] = (char)(0x80 | (c & 0x3F)), n = 4;
	put(p, b, n);
}

/* The n hexadecimal digits at p->s of the escape at at. */
static unsigned long
hexdigits(struct parser *p, const char *at, int n)
{
	unsigned long c = 0;
	int i, d;

	for (i = 0; i < n; i++, p->s++) {
		if ((d = hexval(*p->s)) < 0)
			fail(p, at, "escape \"\\%c\" needs %d hexadecimal digits", at[1], n);
		c = c << 4 | (unsigned long)d;
	}
	return c;
}

static void
escape(struct parser *p)
{
	static const char from[] = "0abtnvfre \"/\\\t";
	static const char to[] = "\0\a\b\t\n\v\f\r\033 \"/\\\t";
	const char *at = p->s, *f, *lo;
	unsigned long c = 0, d;
	int hex = 0;

	p->s += 2;
	if (at[1] && (f = strchr(from, at[1]))) {
		put(p, to + (f - from), 1);
		return;
	}
	switch (at[1]) {
	case 'x':
		hex = 2;
		break;
	case 'u':
		hex = 4;
		break;
	case 'U':
		hex = 8;
		break;
	case 'N':
		c = 0x85;
		break;
	case '_':
		c = 0xA0;
		break;
	case 'L':
		c = 0x2028;
		break;
	case 'P':
		c = 0x2029;
		break;
	default:
		if ((unsigned char)at[1] < 0x20 || (unsigned char)at[1] >= 0x7F)
			fail(p, at, "invalid escape sequence");
		fail(p, at, "unknown escape sequence \"\\%c\"", at[1]);
	}
	if (hex)
		c = hexdigits(p, at, hex);
	if (c >= 0xD800 && c <= 0xDBFF && hex == 4 && p->s[0] == '\\' && p->s[1] == 'u') {
		/* a UTF-16 surrogate pair, as JSON writes characters past U+FFFF */
		lo = p->s;
		p->s += 2;
		d = hexdigits(p, lo, 4);
		if (d < 0xDC00 || d > 0xDFFF)
			fail(p, at, "escape \"%.*s\" is a lone UTF-16 surrogate", 6, at);
		c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
	}
	if (c >= 0xD800 && c <= 0xDFFF && hex == 4)
		fail(p, at, "escape \"%.*s\" is a lone UTF-16 surrogate", 6, at);
	if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		fail(p, at, "escape \"%.*s\" is not a valid Unicode character", (int)(p->s - at),
			at);
	pututf8(p, c);
}

/* Line folding inside a quoted scalar, p->s at a break.  Empty lines
 * become newlines; a lone break becomes a space, unless escaped. */
static void
qfold(struct parser *p, int n, const char *open, int escaped)
{
	int empties, sp;
	const char *ls, *v = nextline(p->s, &empties, &sp, &ls);

	if (!*v)
		fail(p, open, "unterminated %s-quoted scalar", *open == '"' ? "double" : "single");
	if (marker(ls, ls))
		fail(p, ls, "document marker inside a quoted scalar");
	if (sp <= n && !strchr(v, *open))
		fail(p, open, "unterminated %s-quoted scalar", *open == '"' ? "double" : "single");
	if (sp <= n)
		fail(p, v, "bad indentation of a quoted scalar's continuation line");
	if (empties)
		putn(p, '\n', empties);
	else if (!escaped)
		putn(p, ' ', 1);
	skipto(p, empties, ls, v);
}

static struct yaml_node *
quoted(struct parser *p, int n)
{
	const char *open = p->s, *q;
	int line = p->line, col = colof(p, open), dq = *open == '"';
	size_t keep = 0;

	p->ntmp = 0;
	for (p->s++;;) {
		for (q = p->s;
			*q && *q != *open && !(dq && *q == '\\') && !ISBREAK(*q) && !ISBLANK(*q);
			q++)
			;
		if (q > p->s) {
			put(p, p->s, q - p->s);
			keep = p->ntmp;
			p->s = q;
		}
		if (!*q)
			fail(p, open, "unterminated %s-quoted scalar", dq ? "double" : "single");
		if (ISBLANK(*q)) {
			put(p, q, 1);
			p->s++;
		} else if (*q == *open) {
			p->s++;
			if (dq || *p->s != '\'')
				break;
			put(p, q, 1);
			p->s++;
			keep = p->ntmp;
		} else if (*q == '\\' && ISBREAK(q[1])) {
			p->s++;
			qfold(p, n, open, 1);
			keep = p->ntmp;
		} else if (*q == '\\') {
			escape(p);
			keep = p->ntmp;
		} else {
			p->ntmp = keep;
			qfold(p, n, open, 0);
			keep = p->ntmp;
		}
	}
	p->json = 1;
	return scalar(p, dq ? YAML_DOUBLE : YAML_SINGLE, line, col, p->tmp, p->ntmp);
}

/* Indentation of a block scalar without an indicator: that of its first
 * non-empty line; a leading empty line may not be longer than that. */
static int
detect(struct parser *p, int n)
{
	const char *q = p->s, *at = NULL;
	int sp, max = 0;

	for (;;) {
		for (sp = 0; q[sp] == ' '; sp++)
			;
		if (sp > max && (ISBREAK(q[sp]) || !q[sp]))
			max = sp, at = q + sp;
		if (!ISBREAK(q[sp]))
			break;
		q = brk(q + sp);
	}
	if (!q[sp] || sp <= n || marker(q, q))
		return max > n + 1 ? max : n + 1;
	if (max > sp)
		fail(p, at,
			"a leading empty line has more spaces than the first "
			"line of the block scalar");
	return sp;
}

/* Separator put before a block scalar line after "breaks" line breaks:
 * folding turns a single break between two unindented lines into a space. */
static void
blockbreaks(struct parser *p, int folded, int breaks, int started)
{
	if (!started || !folded)
		putn(p, '\n', breaks);
	else if (breaks == 1)
		putn(p, ' ', 1);
	else
		putn(p, '\n', breaks - 1);
}

static int
blockheader(struct parser *p, int *chomp)
{
	int ind = 0;

	for (p->s++;; p->s++) {
		if (*p->s >= '1' && *p->s <= '9' && !ind)
			ind = *p->s - '0';
		else if ((*p->s == '-' || *p->s == '+') && !*chomp)
			*chomp = *p->s == '-' ? -1 : 1;
		else
			break;
	}
	if (*p->s >= '0' && *p->s <= '9')
		fail(p, p->s, "invalid indentation indicator (1 to 9)");
	if (!ISWS(*p->s))
		fail(p, p->s, "invalid block scalar header");
	while (ISBLANK(*p->s))
		p->s++;
	if (*p->s == '#')
		while (*p->s && !ISBREAK(*p->s))
			p->s++;
	if (*p->s && !ISBREAK(*p->s))
		fail(p, p->s, "invalid block scalar header");
	if (*p->s)
		nl(p);
	return ind;
}

/* An indentation indicator on a block scalar at document level counts from
 * column -1 in YAML 1.2 (the document is a node at indentation -1) but from
 * column 0 in libyaml and most parsers, so "--- |2" then "  text" reads as
 * " text" or "text": fail closed unless the scalar has no content at all. */
static void
topind(struct parser *p, const char *at, int ind)
{
	const char *q = p->s;
	int sp;

	for (;;) {
		for (sp = 0; q[sp] == ' '; sp++)
			;
		if (marker(q, q) || (sp < ind - 1 && q[sp] && !ISBREAK(q[sp])))
			return; /* the scalar ended */
		if (sp >= ind || (q[sp] && !ISBREAK(q[sp])))
			fail(p, at,
				"an indentation indicator on a document-level block scalar "
				"is read two ways (YAML 1.2 counts from column -1, most "
				"parsers from 0): indent it under a key or leave it out");
		if (!q[sp])
			return;
		q = brk(q + sp);
	}
}

/* Literal or folded scalar; n is the parent's indentation.  Returns at the
 * start of the first line that is not part of it. */
static struct yaml_node *
blockscalar(struct parser *p, int n)
{
	const char *at = p->s, *q, *e;
	int line = p->line, col = colof(p, at), folded = *at == '>';
	int chomp = 0, ind, k, sp, breaks = 0, started = 0, spaced = 0;

	ind = blockheader(p, &chomp);
	if (ind && n < 0)
		topind(p, at, ind);
	k = ind ? n + ind : detect(p, n);
	p->ntmp = 0;
	for (;;) {
		q = p->s;
		for (sp = 0; sp < k && q[sp] == ' '; sp++)
			;
		if (!q[sp]) {
			/* the end of input ends a last line of spaces too */
			breaks += sp > 0;
			p->s = q + sp;
			break;
		}
		if (marker(q, q) || (sp < k && !ISBREAK(q[sp])))
			break;
		e = q + sp;
		if (ISBREAK(*e)) {
			breaks++;
			p->s = e;
			nl(p);
			continue;
		}
		blockbreaks(p, folded && !spaced && !ISBLANK(*e), breaks, started);
		started = 1;
		spaced = ISBLANK(*e);
		for (q = e; *q && !ISBREAK(*q); q++)
			;
		put(p, e, q - e);
		p->s = q;
		breaks = 1; /* the end of input ends the last line too */
		if (!*q)
			break;
		nl(p);
	}
	if (chomp > 0)
		putn(p, '\n', breaks);
	else if (chomp == 0 && started && breaks)
		putn(p, '\n', 1);
	if (p->bom)
		nobom(p, p->tmp, p->ntmp, line, col);
	return scalar(p, folded ? YAML_FOLDED : YAML_LITERAL, line, col, p->tmp, p->ntmp);
}

/* ---- flow collections ---- */

/* At the start of a line inside a flow collection. */
static void
flowline(struct parser *p)
{
	const char *q = p->s, *v;

	if (marker(p->ls, q))
		fail(p, q, "document marker inside a flow collection");
	while (*q == ' ')
		q++;
	for (v = q; ISBLANK(*v); v++)
		;
	if (*v && !ISBREAK(*v) && *v != '#' && q - p->s <= p->flown)
		fail(p, v,
			"bad indentation in a flow collection (opened on line %d "
			"and not closed)",
			p->flowline);
}

/* Skip white space, line breaks and comments between flow tokens. */
static void
fws(struct parser *p)
{
	for (;;) {
		if (ISBLANK(*p->s)) {
			p->s++;
		} else if (*p->s == '#') {
			if (p->s > p->ls && !ISBLANK(p->s[-1]))
				fail(p, p->s,
					"a comment must be separated from content by white space");
			while (*p->s && !ISBREAK(*p->s))
				p->s++;
		} else if (ISBREAK(*p->s)) {
			nl(p);
			flowline(p);
		} else
			return;
	}
}

static int
isvalue(const char *s)
{
	return *s == ':' && (ISWS(s[1]) || ISFLOW(s[1]));
}

static void
depthcheck(struct parser *p, int depth)
{
	if (depth > YAML_MAX_DEPTH)
		fail(p, p->s, "nesting deeper than %d levels", YAML_MAX_DEPTH);
}

static void
nocomplex(struct parser *p, const struct yaml_node *k, int line, int col)
{
	if (k->kind != YAML_SCALAR)
		failat(p, line, col, "complex mapping keys are not supported");
}

static int
explicitkey(const char *s)
{
	return *s == '?' && ISWS(s[1]);
}

/* A flow mapping entry, pushed as key and value: "? key : value" (either
 * part may be left out), "key: value", ": value" or "key" alone (value
 * null).  Keys may span lines here; close is the collection's bracket. */
static void
fpair(struct parser *p, int depth, char close)
{
	int line = p->line, col = colof(p, p->s);
	struct yaml_node *k;

	if (explicitkey(p->s)) {
		p->s++;
		fws(p);
		if (*p->s == ',' || *p->s == close) {
			push(p, empty(p, line, col));
			push(p, empty(p, line, col));
			return;
		}
	}
	if (isvalue(p->s)) {
		k = empty(p, line, col);
		p->json = 0;
	} else {
		k = fnode(p, depth);
	}
	nocomplex(p, k, line, col);
	push(p, k);
	fws(p);
	if (*p->s == ':' && (p->json || ISWS(p->s[1]) || ISFLOW(p->s[1]))) {
		p->s++;
		fws(p);
		if (*p->s != ',' && *p->s != close) {
			push(p, fnode(p, depth));
			return;
		}
	}
	push(p, empty(p, p->line, colof(p, p->s)));
}

/* A flow sequence entry: a node, or a single-pair mapping: "? k : v" or
 * an implicit "k: v" whose key is on one line. */
static struct yaml_node *
fentry(struct parser *p, int depth)
{
	int line = p->line, col = colof(p, p->s);
	size_t base = p->nstk;
	struct yaml_node *k;
	const char *q;

	depthcheck(p, depth + 1);
	if (explicitkey(p->s)) {
		fpair(p, depth + 1, ']');
		return coll(p, YAML_MAP, YAML_FLOW, line, col, base);
	}
	if (isvalue(p->s)) {
		k = empty(p, line, col);
	} else {
		k = fnode(p, depth);
		for (q = p->s; ISBLANK(*q); q++)
			;
		if (!(*q == ':' && (p->json || ISWS(q[1]) || ISFLOW(q[1]))))
			return k;
		nocomplex(p, k, line, col);
		if (p->line != line)
			failat(p, line, col, "an implicit key must be on a single line");
		p->s = q;
	}
	p->s++;
	fws(p);
	push(p, k);
	push(p,
		*p->s == ',' || *p->s == ']' ? empty(p, p->line, colof(p, p->s))
					     : fnode(p, depth + 1));
	return coll(p, YAML_MAP, YAML_FLOW, line, col, base);
}

static struct yaml_node *
fseq(struct parser *p, int depth)
{
	const char *open = p->s;
	int line = p->line, col = colof(p, open);
	size_t base = p->nstk;

	depthcheck(p, depth);
	for (p->s++;;) {
		fws(p);
		if (*p->s == ']')
			break;
		if (!*p->s)
			fail(p, open, "unterminated flow sequence");
		push(p, fentry(p, depth));
		fws(p);
		if (*p->s == ',')
			p->s++;
		else if (*p->s == ']')
			break;
		else if (!*p->s)
			fail(p, open, "unterminated flow sequence");
		else
			fail(p, p->s, "expected ',' or ']' in a flow sequence");
	}
	p->s++;
	p->json = 1;
	return coll(p, YAML_SEQ, YAML_FLOW, line, col, base);
}

static struct yaml_node *
fmap(struct parser *p, int depth)
{
	const char *open = p->s;
	int line = p->line, col = colof(p, open);
	size_t base = p->nstk;
	struct yaml_node *m;

	depthcheck(p, depth);
	for (p->s++;;) {
		fws(p);
		if (*p->s == '}')
			break;
		if (!*p->s)
			fail(p, open, "unterminated flow mapping");
		fpair(p, depth, '}');
		fws(p);
		if (*p->s == ',')
			p->s++;
		else if (*p->s == '}')
			break;
		else if (!*p->s)
			fail(p, open, "unterminated flow mapping");
		else
			fail(p, p->s, "expected ',' or '}' in a flow mapping");
	}
	p->s++;
	m = coll(p, YAML_MAP, YAML_FLOW, line, col, base);
	dupcheck(p, m->child, m->n / 2, 2);
	p->json = 1;
	return m;
}

/* A node inside a flow collection, with its properties. */
static struct yaml_node *
fnode(struct parser *p, int depth)
{
	struct props pr = { 0 };
	struct yaml_node *n;
	char c;

	if (props(p, &pr))
		fws(p);
	c = *p->s;
	p->json = 0;
	if (c == '*' && !pr.line)
		return alias(p);
	if (c == '*')
		fail(p, p->s, "an alias cannot have properties");
	if (c == '"' || c == '\'')
		n = quoted(p, p->flown);
	else if (c == '[' || c == '{')
		n = c == '[' ? fseq(p, depth + 1) : fmap(p, depth + 1);
	else if (pr.line && (!c || ISFLOW(c) || isvalue(p->s)))
		n = empty(p, pr.line, pr.col);
	else if (c == '|' || c == '>')
		fail(p, p->s, "block scalars are not allowed inside a flow collection");
	else if (seqentry(p->s))
		fail(p, p->s, "block sequence entries are not allowed inside a flow collection");
	else if (canplain(p->s, 1))
		n = plain(p, p->flown);
	else if (!c)
		fail(p, p->s, "unexpected end of input in a flow collection");
	else
		fail(p, p->s, "unexpected character '%c' in a flow collection", c);
	return apply(p, n, &pr);
}

static struct yaml_node *
flow(struct parser *p, int n, int depth)
{
	struct yaml_node *x;

	if (!p->inflow++) {
		p->flown = n;
		p->flowline = p->line;
	}
	x = *p->s == '[' ? fseq(p, depth + 1) : fmap(p, depth + 1);
	p->inflow--;
	return x;
}

/* ---- block structure ---- */

static struct yaml_node *block_seq(struct parser *, int, struct props *, int);
static struct yaml_node *block_map(struct parser *, int, struct props *, int);

/* After a node on its line: the line must end, and a ':' here means the
 * node was meant as a key where none is allowed. */
static void
after(struct parser *p, const struct yaml_node *x, int line, int col)
{
	while (ISBLANK(*p->s))
		p->s++;
	if (*p->s == ':') {
		nocomplex(p, x, line, col);
		fail(p, p->s, "mapping values are not allowed here");
	}
	eol(p);
}

/* A node that starts at p->s and is not a block collection: a scalar, a
 * flow collection or an alias.  n is the parent's indentation. */
static struct yaml_node *
inline_node(struct parser *p, int n, struct props *pr, int depth)
{
	int line = p->line, col = colof(p, p->s);
	struct yaml_node *x;
	char c = *p->s;

	if (c == '*' && (pr->anchor || pr->tagat))
		fail(p, p->s, "an alias cannot have properties");
	if (c == '|' || c == '>') {
		x = apply(p, blockscalar(p, n), pr);
		skiplines(p);
		return x;
	}
	if (c == '*')
		x = alias(p);
	else if (c == '"' || c == '\'')
		x = apply(p, quoted(p, n), pr);
	else if (c == '[' || c == '{')
		x = apply(p, flow(p, n, depth), pr);
	else if (seqentry(p->s))
		fail(p, p->s, "block sequence entries are not allowed here");
	else if (canplain(p->s, 0))
		x = apply(p, plain(p, n), pr);
	else
		fail(p, p->s, "character '%c' cannot start a plain scalar", c);
	after(p, x, line, col);
	return x;
}

/* The node of an indicator whose line ended: it is on the next content
 * line if that is indented more than the parent (a sequence may also sit
 * at the parent's indentation when it is a mapping value), else empty. */
static struct yaml_node *
lower(struct parser *p, int n, int ctx, struct props *pr, int depth, int line, int col)
{
	int ind, k;
	const char *c, *q;

	for (;;) {
		ind = lineind(p);
		if (pr->line)
			line = pr->line, col = pr->col;
		if (ind < 0 || ind < n ||
			(ind == n && !(ctx & C_MAP && !p->tab && seqentry(p->s + ind))))
			return apply(p, empty(p, line, col), pr);
		for (q = p->s + ind; ISBLANK(*q); q++)
			;
		k = seqentry(q) ? 3 : keyscan(q, &c);
		if (k && p->tab)
			tabfail(p, p->tab);
		p->s = q;
		if (k == 3)
			return block_seq(p, ind, pr, depth + 1);
		if (k)
			return block_map(p, ind, pr, depth + 1);
		if (!props(p, pr) || !endline(p))
			return inline_node(p, n, pr, depth);
		eol(p); /* properties alone on their line: the node follows */
	}
}

static struct yaml_node *
below(struct parser *p, int n, int ctx, struct props *pr, int depth)
{
	int line = p->line, col = colof(p, p->s);

	eol(p);
	return lower(p, n, ctx, pr, depth, line, col);
}

/* Compact notation ("- - x", "- k: v") indents the inner collection by
 * the spaces after the dash, so a tab there would make it ambiguous. */
static void
compact(struct parser *p)
{
	const char *q;

	for (q = p->s; q > p->ls && q[-1] != '-'; q--)
		if (q[-1] == '\t')
			tabfail(p, q - 1);
}

/* The node after "- ", "key:" or "---"; n is the parent's indentation. */
static struct yaml_node *
block_node(struct parser *p, int n, int ctx, int depth)
{
	struct props pr = { 0 };
	const char *c;
	int k;

	while (ISBLANK(*p->s))
		p->s++;
	if (endline(p))
		return below(p, n, ctx, &pr, depth);
	if (seqentry(p->s)) {
		if (!(ctx & C_SEQ))
			fail(p, p->s, "block sequence entries are not allowed here");
		compact(p);
		return block_seq(p, (int)(p->s - p->ls), &pr, depth + 1);
	}
	if ((k = keyscan(p->s, &c)) && !(ctx & C_SEQ))
		fail(p, k == 1 ? c : p->s, "mapping values are not allowed here");
	if (k) {
		compact(p);
		return block_map(p, (int)(p->s - p->ls), &pr, depth + 1);
	}
	if (props(p, &pr) && endline(p))
		return below(p, n, ctx, &pr, depth);
	return inline_node(p, n, &pr, depth);
}

static struct yaml_node *
block_seq(struct parser *p, int m, struct props *pr, int depth)
{
	int line = p->line, col = colof(p, p->s), ind;
	size_t base = p->nstk;

	depthcheck(p, depth);
	for (;;) {
		p->s++;
		push(p, block_node(p, m, C_SEQ, depth));
		ind = nextind(p, m);
		if (ind > m)
			fail(p, p->s + ind, "bad indentation of a sequence entry");
		if (ind < m || !seqentry(p->s + m))
			break;
		p->s += m;
	}
	return apply(p, coll(p, YAML_SEQ, YAML_BLOCK, line, col, base), pr);
}

/* "? key" and, at the same indentation, an optional ": value" (null when
 * absent). Keys stay scalars: a collection key is not supported. */
static void
explicit_entry(struct parser *p, int m, int depth)
{
	int line = p->line, col = colof(p, p->s);
	struct yaml_node *k, *v;

	p->s++;
	k = block_node(p, m, C_EXPL, depth);
	nocomplex(p, k, line, col);
	if (nextind(p, m) == m && isvalue(p->s + m)) {
		p->s += m + 1;
		v = block_node(p, m, C_EXPL, depth);
	} else {
		v = empty(p, line, col);
	}
	push(p, k);
	push(p, v);
}

/* key ":" value, the key known (keyscan) to end with ": " on this line,
 * or an explicit "? key" entry. */
static void
block_entry(struct parser *p, int m, int depth)
{
	struct props pr = { 0 };
	struct yaml_node *k;
	int line, col;

	if (*p->s == '?' && ISWS(p->s[1])) {
		explicit_entry(p, m, depth);
		return;
	}
	props(p, &pr);
	if (*p->s == '?' && ISWS(p->s[1]))
		fail(p, p->s, "properties cannot stand before \"?\"");
	line = p->line;
	col = colof(p, p->s);
	if (isvalue(p->s))
		k = apply(p, empty(p, line, col), &pr);
	else if (*p->s == '*') {
		if (pr.line)
			fail(p, p->s, "an alias cannot have properties");
		k = alias(p);
		nocomplex(p, k, line, col);
	} else if (*p->s == '"' || *p->s == '\'')
		k = apply(p, quoted(p, m), &pr);
	else
		k = apply(p, plain(p, m), &pr);
	while (ISBLANK(*p->s))
		p->s++;
	if (*p->s != ':')
		fail(p, p->s, "could not find expected ':'");
	p->s++;
	push(p, k);
	push(p, block_node(p, m, C_MAP, depth));
}

static struct yaml_node *
block_map(struct parser *p, int m, struct props *pr, int depth)
{
	int line = p->line, col = colof(p, p->s), ind, k;
	size_t base = p->nstk;
	struct yaml_node *x;
	const char *c;

	depthcheck(p, depth);
	for (;;) {
		block_entry(p, m, depth);
		ind = nextind(p, m);
		if (ind < m)
			break;
		if (ind > m)
			fail(p, p->s + ind, "bad indentation of a mapping entry");
		p->s += m;
		k = keyscan(p->s, &c);
		if (!k && seqentry(p->s))
			fail(p, p->s, "block sequence entries are not allowed here");
		if (!k && !canplain(p->s, 0) && !strchr("\"'*&!", *p->s))
			fail(p, p->s, "character '%c' cannot start a mapping key", *p->s);
		if (!k)
			fail(p, p->s, "could not find expected ':' after a mapping key");
	}
	x = coll(p, YAML_MAP, YAML_BLOCK, line, col, base);
	dupcheck(p, x->child, x->n / 2, 2);
	return apply(p, x, pr);
}

/* ---- documents ---- */

static const char *
wordend(const char *s)
{
	while (!ISWS(*s))
		s++;
	return s;
}

/* %TAG handle prefix: the handle stands for the prefix in this document. */
static void
tagdirective(struct parser *p, const char *s)
{
	const char *h, *e;
	size_t i, hl;

	while (ISBLANK(*s))
		s++;
	for (h = s, e = s + (*s == '!'); isword(*e); e++)
		;
	if (*h != '!' || (*e != '!' && e > h + 1))
		fail(p, h, "%%TAG needs a handle: !, !! or !name!");
	e += *e == '!';
	hl = e - h;
	for (s = e; ISBLANK(*s); s++)
		;
	if (s == e)
		fail(p, e, "%%TAG needs a handle (!, !! or !name!) and then a prefix");
	for (e = s; urichar(*e); e++)
		if (*e == '%')
			hexesc(p, e);
	if (e == s || ISFLOW(*s))
		fail(p, s, "%%TAG needs a prefix: !local or a URI");
	if (!ISWS(*e))
		fail(p, e, "invalid character in a %%TAG prefix");
	for (i = 0; i < p->ndirs; i++)
		if (p->dirs[i].hlen == hl && memcmp(p->dirs[i].handle, h, hl) == 0)
			fail(p, h, "duplicate %%TAG directive for %.*s", (int)hl, h);
	if (p->ndirs == YAML_MAX_TAGDIRS)
		fail(p, h, "more than %d %%TAG directives for one document", YAML_MAX_TAGDIRS);
	p->dirs = grow(p, p->dirs, &p->capdirs, p->ndirs + 1, sizeof *p->dirs);
	p->dirs[p->ndirs++] = (struct tagdir){ h, s, hl, e - s };
	p->s = e;
}

/* %YAML 1.x, %TAG, or a reserved directive (ignored). */
static void
directive(struct parser *p, int *version)
{
	const char *at = p->s, *e = wordend(at + 1);

	if (e == at + 1)
		fail(p, at, "a directive needs a name after \"%%\"");
	if (e - at == 5 && memcmp(at, "%YAML", 5) == 0) {
		if (*version)
			fail(p, at, "duplicate %%YAML directive");
		*version = 1;
		for (p->s = e; ISBLANK(*p->s); p->s++)
			;
		e = wordend(p->s);
		if (e - p->s < 3 || p->s[0] != '1' || p->s[1] != '.' ||
			!isdigits(p->s + 2, e, "0123456789"))
			fail(p, p->s, "unsupported YAML version \"%.*s\"", (int)(e - p->s), p->s);
		p->s = e;
	} else if (e - at == 4 && memcmp(at, "%TAG", 4) == 0) {
		tagdirective(p, e);
	} else {
		while (*p->s && !ISBREAK(*p->s))
			p->s++;
	}
	eol(p);
}

static void
addroot(struct parser *p, const struct yaml_node *n)
{
	p->root = grow(p, p->root, &p->caproot, p->nroot + 1, sizeof *p->root);
	p->root[p->nroot++] = n;
	if (p->anc)
		memset(p->anc, 0, p->capanc * sizeof *p->anc);
	p->nanc = 0;
}

/* One document; returns 0 at the end of the stream. */
static int
document(struct parser *p, int *open)
{
	struct props pr = { 0 };
	int version = 0, dirs = 0;

	p->ndirs = 0;
	skiplines(p);
	if (!*open && p->s == p->ls && memcmp(p->s, "\xEF\xBB\xBF", 3) == 0) {
		p->ls = p->s += 3; /* a document's prefix may start with a BOM */
		skiplines(p);
	}
	for (; *p->s == '%' && !*open; dirs++)
		directive(p, &version);
	if (!*p->s && dirs)
		fail(p, p->s, "directives must be followed by a document");
	if (!*p->s)
		return 0;
	if (marker(p->ls, p->s) && *p->s == '.') {
		if (dirs)
			fail(p, p->s, "directives must be followed by \"---\"");
		p->s += 3;
		*open = 0;
		eol(p);
		return 1;
	}
	if (marker(p->ls, p->s)) {
		p->s += 3;
		addroot(p, block_node(p, -1, C_DOC, 0));
	} else if (dirs)
		fail(p, p->s, "directives must be followed by \"---\"");
	else
		addroot(p, lower(p, -1, C_DOC, &pr, 0, p->line, colof(p, p->s)));
	*open = 1;
	if (!*p->s || marker(p->ls, p->s))
		return 1;
	fail(p, p->s + nextind(p, 0), "expected the end of the document");
}

static void
stream(struct parser *p)
{
	int open = 0;

	while (document(p, &open))
		;
}

/* ---- input check ---- */

/* Length of the UTF-8 sequence at s if it is a printable YAML character
 * (c-printable), else 0. */
static int
printable(const unsigned char *s)
{
	unsigned long c;
	int n, i;

	if (s[0] < 0x80)
		return s[0] >= 0x20 ? s[0] != 0x7F : s[0] == '\t' || ISBREAK(s[0]);
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2, c = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3, c = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3F);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
		(c >= 0xD800 && c <= 0xDFFF) || c == 0xFFFE || c == 0xFFFF ||
		(c >= 0x80 && c <= 0x9F && c != 0x85))
		return 0;
	return n;
}

static void
checktext(struct parser *p, const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf, *e = s + len;
	int n;

	while (s < e) {
		if (*s >= 0x20 && *s < 0x7F) {
			s++;
			continue;
		}
		if ((n = printable(s)) && s + n <= e) {
			/* U+FEFF past the start: only quoted text may hold it */
			p->bom |= n == 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF &&
				s != (const unsigned char *)buf;
			s += n;
			continue;
		}
		if (!*s)
			fail(p, (const char *)s, "NUL byte in input");
		if (*s < 0x80)
			fail(p, (const char *)s, "control character 0x%02X is not allowed", *s);
		fail(p, (const char *)s, "invalid UTF-8 or non-printable character");
	}
}

/* ---- public ---- */

static void
finish(struct parser *p)
{
	struct yaml_doc *d = alloc(p, sizeof *d);

	d->root = alloc(p, p->nroot * sizeof *d->root + 1);
	if (p->nroot)
		memcpy(d->root, p->root, p->nroot * sizeof *d->root);
	d->n = p->nroot;
	d->arena = p->arena;
	p->doc = d;
}

struct yaml_doc *
yaml_parse(const char *buf, size_t len, const char *file, char *err, size_t errlen)
{
	struct parser *p;
	struct yaml_doc *d = NULL;
	char *copy;

	if (errlen)
		err[0] = '\0';
	if (len > YAML_MAX_INPUT) {
		snprintf(
			err, errlen, "%s:1:1: input is larger than %d bytes", file, YAML_MAX_INPUT);
		return NULL;
	}
	if (!(p = calloc(1, sizeof *p)) || !(copy = malloc(len + 4))) {
		free(p);
		snprintf(err, errlen, "%s:1:1: out of memory", file);
		return NULL;
	}
	memcpy(copy, buf, len);
	memset(copy + len, 0, 4);
	p->s = p->ls = p->start = copy;
	p->line = 1;
	p->file = file;
	p->err = err;
	p->errlen = errlen;
	if (setjmp(p->jb) == 0) {
		checktext(p, copy, len);
		stream(p);
		finish(p);
	}
	if ((d = p->doc) == NULL)
		yaml_free(&(struct yaml_doc){ p->arena, NULL, 0 });
	free(p->stk);
	free(p->tmp);
	free(p->anc);
	free(p->dirs);
	free(p->tags);
	free(p->seen);
	free(p->root);
	free(p);
	free(copy);
	return d;
}

size_t
yaml_count(const struct yaml_doc *doc)
{
	return doc ? doc->n : 0;
}

const struct yaml_node *
yaml_root(const struct yaml_doc *doc, size_t i)
{
	return doc && i < doc->n ? doc->root[i] : NULL;
}

void
yaml_free(struct yaml_doc *doc)
{
	struct block *b, *next;

	if (!doc)
		return;
	for (b = doc->arena; b; b = next) {
		next = b->next;
#if defined(MAP_ANONYMOUS)
		if (b->mapped) {
			munmap(b, BLOCKHDR + b->cap);
			continue;
		}
#endif
		free(b);
	}
}

enum yaml_tag
yaml_resolve(const struct yaml_node *n)
{
	if (n->tag != YAML_TAG_NONE && n->tag <= YAML_TAG_SEQ)
		return n->tag; /* a core tag */
	if (n->kind != YAML_SCALAR)
		return n->kind == YAML_MAP ? YAML_TAG_MAP : YAML_TAG_SEQ;
	if (n->tag != YAML_TAG_NONE || n->style != YAML_PLAIN)
		return YAML_TAG_STR; /* a specific tag: not resolved */
	return plaintype(n->text, n->len);
}

const struct yaml_node *
yaml_get(const struct yaml_node *map, const char *key)
{
	size_t i, len = strlen(key);

	if (!map || map->kind != YAML_MAP)
		return NULL;
	for (i = 0; i + 1 < map->n; i += 2)
		if (map->child[i]->kind == YAML_SCALAR && map->child[i]->len == len &&
			memcmp(map->child[i]->text, key, len) == 0)
			return map->child[i + 1];
	return NULL;
}
