/* unit_walter.c - pure functions of walter.c: durations, $VAR and special
 * variable substitution, edit distance, secret masking, time formats, the
 * text encoders as walter uses them, task paths, YAML numbers as JSON.
 * walter.c is included (as the fuzz targets do) so its statics are here. */
#define main walter_main
#include "../walter.c"
#undef main

#include <regex.h>

#include "unit.h"

static struct buf out;

/* Empty out (an encoder that appends nothing leaves no terminator). */
static void
reset(void)
{
	out.len = 0;
	if (out.data)
		out.data[0] = '\0';
}

/* What an encoder or printer appended since reset(), as a string. */
static const char *
got(void)
{
	return out.data ? out.data : "";
}

/* All of file fd, as a string in out. */
static const char *
file_text(int fd)
{
	char b[4096];
	ssize_t n;

	reset();
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, b, sizeof b)) > 0)
		buf_put(&out, b, (size_t)n);
	buf_put(&out, "", 1);
	return got();
}

/* say (in one piece) and warn write what fprintf writes (here:
 * snprintf's text), short texts and texts over say's 1 KiB on the stack
 * alike. */
static void
test_say(void)
{
	static const size_t len[] = { 0, 1, 100, 1015, 1016, 1023, 1024, 1025, 5000, 200000 };
	char tmpl[] = "/tmp/unit_say.XXXXXX", name[64], *arg, *want;
	int fd = mkstemp(tmpl), keep = dup(2), n;
	size_t i;

	unlink(tmpl);
	for (i = 0; i < sizeof len / sizeof *len; i++) {
		arg = malloc(len[i] + 1);
		memset(arg, 'a' + (int)(i % 26), len[i]);
		arg[len[i]] = '\0';
		want = malloc(len[i] + 200);
		n = ftruncate(fd, 0) | (int)lseek(fd, 0, SEEK_SET);
		say(fd, "pre ", " post\n", "%s|%d|%5.2f|%zu|%-4s|%c", arg, -42, 3.14159, len[i],
			"x", 'z');
		snprintf(want, len[i] + 200, "pre %s|%d|%5.2f|%zu|%-4s|%c post\n", arg, -42, 3.14159,
			len[i], "x", 'z');
		snprintf(name, sizeof name, "say: a %zu-byte text as printf", len[i]);
		CHECK(name, n == 0 && strcmp(file_text(fd), want) == 0);
		/* warn: "walter: " and, after a ':', errno's text */
		n = ftruncate(fd, 0) | (int)lseek(fd, 0, SEEK_SET);
		dup2(fd, 2);
		errno = ENOENT;
		warn("cannot open %s:", arg);
		dup2(keep, 2);
		snprintf(want, len[i] + 200, "walter: cannot open %s: %s\n", arg, strerror(ENOENT));
		snprintf(name, sizeof name, "warn: a %zu-byte text, errno's text", len[i]);
		CHECK(name, n == 0 && strcmp(file_text(fd), want) == 0);
		free(arg), free(want);
	}
	close(fd), close(keep);
}

static void
test_duration(void)
{
	static const struct {
		const char *s;
		double want;
	} cases[] = { { "90", 90 }, { "1.5", 1.5 }, { "90s", 90 }, { "5m", 300 }, { "1h", 3600 },
		{ "250ms", 0.25 }, { "0", 0 }, { "", -1 }, { " 5", -1 }, { "5x", -1 }, { "-1", -1 },
		{ "5 s", -1 }, { "inf", -1 }, { "nan", -1 }, { "1e999", -1 }, { "s", -1 },
		{ "5S", -1 } };
	size_t i;
	char name[64];

	for (i = 0; i < sizeof cases / sizeof *cases; i++) {
		snprintf(name, sizeof name, "duration: \"%s\"", cases[i].s);
		CHECK(name, parse_duration(cases[i].s) == cases[i].want);
	}
	CHECK("duration: NULL", parse_duration(NULL) == -1);
}

static void
test_flags(void)
{
	enum level l = L_INFO;

	CHECK("level: debug", parse_level("debug", &l) == 0 && l == L_DEBUG);
	CHECK("level: 3", parse_level("3", &l) == 0 && l == L_ERROR);
	CHECK("level: WARNING", parse_level("WARNING", &l) == 0 && l == L_WARN);
	CHECK("level: bad keeps", parse_level("loud", &l) < 0 && l == L_WARN);
	CHECK("level: 5 is bad", parse_level("5", &l) < 0);
	CHECK("bool: true", parse_bool_flag("true") == 1 && parse_bool_flag("T") == -1);
	CHECK("bool: 0", parse_bool_flag("0") == 0 && parse_bool_flag("FALSE") == 0);
	CHECK("bool: yes is bad", parse_bool_flag("yes") == -1);
}

static void
test_edit_distance(void)
{
	char a[80], b[80];

	CHECK("edit: equal", edit_distance("timeout", "timeout") == 0);
	CHECK("edit: empty", edit_distance("", "abc") == 3);
	CHECK("edit: kitten", edit_distance("kitten", "sitting") == 3);
	CHECK("edit: swap", edit_distance("name", "nmae") == 2);
	CHECK("edit: one off", edit_distance("comand", "command") == 1);
	memset(a, 'a', 70), a[70] = '\0';
	memset(b, 'a', 70), b[70] = '\0';
	CHECK("edit: 64 or longer is far", edit_distance(a, b) == 99);
}

static void
test_subst(void)
{
	struct ctx c = { 0 };
	struct yaml_node at = { 0 };
	int errors;

	setenv("UW_FOO", "foo", 1);
	setenv("UW_EMPTY", "", 1);
	setenv("UW_SECRET", "s3cr3t-value", 1);
	c.file = "unit.yml";
	at.line = at.col = 1;
	CHECK_STR("subst: none", subst(&c, &at, "plain text"), "plain text");
	CHECK_STR("subst: $NAME", subst(&c, &at, "a $UW_FOO b"), "a foo b");
	CHECK_STR("subst: ${NAME}", subst(&c, &at, "${UW_FOO}bar"), "foobar");
	CHECK_STR("subst: $$", subst(&c, &at, "$$UW_FOO costs $$5"), "$UW_FOO costs $5");
	CHECK_STR("subst: not a name", subst(&c, &at, "$1 and $-"), "$1 and $-");
	CHECK_STR("subst: unset", subst(&c, &at, "[$UW_UNSET_XYZ]"), "[]");
	CHECK_STR("subst: empty", subst(&c, &at, "[$UW_EMPTY]"), "[]");
	CHECK_STR("subst: name ends", subst(&c, &at, "$UW_FOO.txt"), "foo.txt");
	errors = cfg.errors;
	(void)subst(&c, &at, "${UW_FOO");
	CHECK("subst: unterminated ${ is an error", cfg.errors == errors + 1);
	cfg.errors = 0;
	c.secret = 1;
	(void)subst(&c, &at, "token $UW_SECRET");
	c.secret = 0;
	CHECK("subst: a notifier's value becomes a secret",
		sec.n == 1 && !strcmp(sec.v[0], "s3cr3t-value"));
}

static void
test_specials(void)
{
	struct ctx c = { 0 };
	struct yaml_node at = { 0 };
	const char *s = "a__b and __OUT[\"\"] and __OUT[\"x\" ]";

	c.file = "unit.yml";
	CHECK("specials: none named: same text", subst_specials(&c, &at, s) == s);
	CHECK("specials: none recorded", cfg.nspecials == 0);
	CHECK_STR("specials: rewritten",
		subst_specials(&c, &at, "echo __OUT[\"stage one\"] __RESULT[\"b\"]__ERR[\"c_d\"]"),
		"echo $__OUT__stage_one__ $__RESULT__b__$__ERR__c_d__");
	CHECK("specials: three recorded", cfg.nspecials == 3);
	if (cfg.nspecials != 3)
		return;
	CHECK("specials: kinds",
		cfg.specials[0].kind == SP_OUT && cfg.specials[1].kind == SP_RESULT &&
			cfg.specials[2].kind == SP_ERR);
	CHECK_STR("specials: task", cfg.specials[0].task, "stage_one");
	CHECK_STR("specials: env", cfg.specials[0].env, "__OUT__stage_one__");
	CHECK_STR("specials: combined", subst_specials(&c, &at, "__COMBINED[\"z\"]"),
		"$__COMBINED__z__");
	CHECK("specials: combined kind", cfg.specials[3].kind == SP_COMBINED);
	free(cfg.specials);
	cfg.specials = NULL, cfg.nspecials = 0;
}

static void
test_mask(void)
{
	const char *s;
	size_t n;

	secret_add("abc"); /* too short to hide: ignored */
	secret_add("hunter22");
	secret_add("hunter22"); /* once */
	CHECK("secret: short and repeated ones ignored", sec.n == 2);
	s = "nothing to hide";
	n = strlen(s);
	CHECK("mask: nothing: same text", mask(s, &n) == s && n == strlen(s));
	s = "pw=hunter22, again hunter22!";
	n = strlen(s);
	s = mask(s, &n);
	CHECK("mask: every occurrence",
		n == strlen("pw=***, again ***!") && !memcmp(s, "pw=***, again ***!", n));
	s = "s3cr3t-valuehunter22";
	n = strlen(s);
	s = mask(s, &n);
	CHECK("mask: adjacent", n == 6 && !memcmp(s, "******", 6));
	s = "hunter2";
	n = strlen(s);
	CHECK("mask: a prefix is not the secret", mask(s, &n) == s);
	CHECK("secret name: TOKEN", secret_name("GITHUB_TOKEN", 12) == 1);
	CHECK("secret name: lower case", secret_name("slack_webhook_url", 17) == 1);
	CHECK("secret name: PATH", secret_name("PATH", 4) == 0);
}

/* What masking must give, the slow way: every occurrence of every
 * pattern, overlapping ones merged, each range as "***". */
static void
naive_mask(const char *s, size_t n, struct buf *o)
{
	size_t i, j, a = 0, b = 0, p = 0;
	int open = 0;

	o->len = 0;
	for (i = 0; i <= n; i++) { /* ranges in order of their end */
		for (j = 0; j < sec.n; j++) {
			size_t m = strlen(sec.v[j]);
			if (i < m || memcmp(s + i - m, sec.v[j], m))
				continue;
			if (open && b > i - m) { /* overlaps the open range */
				if (i - m < a)
					a = i - m;
				b = i;
				continue;
			}
			if (open) {
				buf_put(o, s + p, a - p), buf_put(o, "***", 3);
				p = b;
			}
			open = 1, a = i - m, b = i;
		}
	}
	if (open)
		buf_put(o, s + p, a - p), buf_put(o, "***", 3), p = b;
	buf_put(o, s + p, n - p);
}

/* The bytes of s[0..n) that are not '*'. */
static void
unstarred(const char *s, size_t n, struct buf *o)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != '*')
			buf_put(o, s + i, 1);
}

static unsigned long rnd_state = 12345;
static unsigned
rnd(unsigned n)
{
	rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned)(rnd_state >> 33) % n;
}

static void
test_automaton(void)
{
	struct buf want = { 0 }, w2 = { 0 }, g2 = { 0 }, part = { 0 };
	char text[80], pat[16];
	size_t n, len, i, k, cov, h, bad = 0, badcut = 0;
	const char *m;
	int it, j;

	secrets_free();
	secret_add("-----BEGIN KEY-----\nMIIEabc\r\nab\n\n-----END KEY-----\n");
	CHECK("secret lines: each line of 4 bytes or more, CR dropped", sec.n == 3);
	m = "key: MIIEabc\n-----END KEY----- ab";
	n = strlen(m);
	m = mask(m, &n);
	CHECK("mask: each line of a multi-line secret",
		n == strlen("key: ***\n*** ab") && !memcmp(m, "key: ***\n*** ab", n));
	secrets_free();
	secret_add("abcdef");
	secret_add("defghi");
	m = "xabcdefghiy";
	n = strlen(m);
	m = mask(m, &n);
	CHECK("mask: overlapping secrets are one range", n == 5 && !memcmp(m, "x***y", 5));
	m = mask_tail("xxabcdefyy", 10, 4, &len);
	CHECK("mask tail: a secret cut at the start is hidden", len == 5 &&
		!memcmp(m, "***yy", 5));
	/* random patterns over a small alphabet, checked against the slow way,
	 * whole and cut into pieces as out_cut does */
	for (it = 0; it < 3000; it++) {
		secrets_free();
		for (j = 1 + (int)rnd(5); j > 0; j--) {
			k = 4 + rnd(5);
			for (i = 0; i < k; i++)
				pat[i] = "ab"[rnd(2)];
			pat[k] = '\0';
			secret_add(pat);
		}
		n = rnd(sizeof text);
		for (i = 0; i < n; i++)
			text[i] = "abbc"[rnd(4)];
		naive_mask(text, n, &want);
		len = n;
		m = mask(text, &len);
		if (len != want.len || memcmp(m, want.data ? want.data : "", len))
			bad++;
		/* in pieces of at least lim bytes: nothing covered shows */
		{
			size_t lim = 4 + rnd(8), fed = 0;
			w2.len = g2.len = part.len = 0, cov = 0;
			unstarred(want.data ? want.data : "", want.len, &w2);
			while (fed < n) {
				size_t step = 1 + rnd(6);
				if (step > n - fed)
					step = n - fed;
				buf_put(&part, text + fed, step);
				fed += step;
				while (part.len >= lim &&
					(h = mask_cut(part.data, part.len, &cov))) {
					unstarred(sec.out.data, sec.out.len, &g2);
					memmove(part.data, part.data + h, part.len - h);
					part.len -= h;
				}
			}
			len = part.len;
			m = mask_from(part.data ? part.data : "", &len, cov);
			unstarred(m, len, &g2);
			if (g2.len != w2.len || memcmp(g2.data ? g2.data : "", w2.data ? w2.data : "", g2.len))
				badcut++;
		}
	}
	CHECK("mask: 3000 random cases as the slow way", bad == 0);
	/* long secrets (the 16- and 8-byte compares), text made of pieces of
	 * them with a byte changed here and there */
	for (bad = 0, it = 0; it < 500; it++) {
		static char lp[3][200], lt[700];
		int np = 1 + (int)rnd(3);
		secrets_free();
		for (j = 0; j < np; j++) {
			k = 20 + rnd(180);
			for (i = 0; i < k; i++)
				lp[j][i] = "ab"[rnd(2)];
			lp[j][k] = '\0';
			secret_add(lp[j]);
		}
		for (n = 0; n < 500;) {
			const char *src = lp[rnd((unsigned)np)];
			size_t from = rnd((unsigned)strlen(src)), cnt = rnd((unsigned)(strlen(src) - from) + 1);
			memcpy(lt + n, src + from, cnt);
			if (cnt && rnd(3) == 0)
				lt[n + rnd((unsigned)cnt)] = 'c';
			n += cnt;
		}
		naive_mask(lt, n, &want);
		len = n;
		m = mask(lt, &len);
		if (len != want.len || memcmp(m, want.data ? want.data : "", len))
			bad++;
	}
	CHECK("mask: 500 random cases with long secrets as the slow way", bad == 0);
	CHECK("mask: cut into pieces, no secret byte shows and no other is lost", badcut == 0);
	secrets_free();
	buf_free(&want), buf_free(&w2), buf_free(&g2), buf_free(&part);
}

static void
test_tail_cut(void)
{
	struct task_rt rt;
	char line[300];
	char e[64];

	memset(&rt, 0, sizeof rt);
	memset(line, 'a', 199);
	memcpy(line + 199, "\xc3\xa9", 2);
	tail_add(&rt, line, 201);
	CHECK("tail: never cut inside a character", strlen(rt.tail[0]) == 199);
	memcpy(line + 198, "\xf0\x9f\x98\x80", 4);
	tail_add(&rt, line, 202);
	CHECK("tail: a 4-byte character kept whole or left out", strlen(rt.tail[1]) == 198);
	free(rt.tail[0]), free(rt.tail[1]);
	CHECK_STR("exit text: status", exit_text(7, e, sizeof e), "exit status 7");
	CHECK_STR("exit text: signal", exit_text(137, e, sizeof e), "killed by SIGKILL");
	CHECK_STR("exit text: 128 is a status", exit_text(128, e, sizeof e), "exit status 128");
	CHECK_STR("exit text: other signal", exit_text(128 + 60, e, sizeof e),
		"killed by signal 60");
}

static void
test_times(void)
{
	char b[64];
	int y, mo, d, h, mi, s, ms;
	char z;

	CHECK_STR("dur: 0", fmt_dur(0, b, sizeof b), "0.00s");
	CHECK_STR("dur: 1.234", fmt_dur(1.234, b, sizeof b), "1.23s");
	CHECK_STR("dur: 59.994", fmt_dur(59.994, b, sizeof b), "59.99s");
	CHECK_STR("dur: 60", fmt_dur(60, b, sizeof b), "1m00s");
	CHECK_STR("dur: 123.4", fmt_dur(123.4, b, sizeof b), "2m03s");
	CHECK_STR("dur: 3600", fmt_dur(3600, b, sizeof b), "60m00s");
	rfc3339(now(), b, sizeof b);
	CHECK("rfc3339: shape",
		strlen(b) == 24 &&
			sscanf(b, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &s, &ms,
				&z) == 8 &&
			z == 'Z' && y >= 1970 && mo >= 1 && mo <= 12 && ms >= 0 && ms < 1000);
	log_clock();
	CHECK("log clock: HH:MM:SS",
		strlen(lg.stamp) == 8 && lg.stamp[2] == ':' && lg.stamp[5] == ':' &&
			sscanf(lg.stamp, "%2d:%2d:%2d", &h, &mi, &s) == 3);
}

/* XML text of a literal (NULs and all). */
#define XT(s) xml_text(&out, (s), sizeof(s) - 1)

static void
test_encoders(void)
{
	reset();
	jstr(&out, "plain words", 11);
	CHECK_STR("json: plain", got(), "\"plain words\"");
	reset();
	jstr(&out, "q\"b\\n\n\t\x01\x7f", 9);
	CHECK_STR("json: escapes", got(), "\"q\\\"b\\\\n\\n\\t\\u0001\x7f\"");
	reset();
	jstr(&out, "a\0b", 3);
	CHECK_STR("json: NUL", got(), "\"a\\u0000b\"");
	reset();
	jstr(&out, "caf\xc3\xa9 \xff\xc3", 8);
	CHECK_STR("json: UTF-8 kept, invalid replaced", got(),
		"\"caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd\"");
	reset();
	jstr(&out, "", 0);
	CHECK_STR("json: empty", got(), "\"\"");
	reset();
	XT("a<b>&\"c\x01\r\td\n");
	CHECK_STR("xml: escapes, C0 controls left out, CR kept", got(),
		"a&lt;b&gt;&amp;&quot;c&#13;\td\n");
	reset();
	xml_text(&out, "", 0);
	CHECK_STR("xml: empty", got(), "");
	reset();
	xml_attr(&out, "a\nb\tc\rd\"", 9);
	CHECK_STR("xml attr: newline, tab, CR as references", got(), "a&#10;b&#9;c&#13;d&quot;");
	reset();
	XT("caf\xe9 ok");
	CHECK_STR("xml: invalid byte as U+FFFD", got(), "caf\xef\xbf\xbd ok");
	reset();
	XT("<\xef\xbf\xbe\xef\xbf\xbf\xef\xbf\xbd>");
	CHECK_STR("xml: U+FFFE and U+FFFF left out, U+FFFD kept", got(), "&lt;\xef\xbf\xbd&gt;");
	reset();
	XT("\x1b[31mred\x1b[0m ]]> \xf0\x9f\x98\x80 \xe2\x82");
	CHECK_STR("xml: ANSI escape, ]]>, 4-byte character, a cut character", got(),
		"[31mred[0m ]]&gt; \xf0\x9f\x98\x80 \xef\xbf\xbd\xef\xbf\xbd");
	reset();
	XT("\xed\xa0\x80\xc0\xaf");
	CHECK_STR("xml: surrogate and overlong as U+FFFD", got(),
		"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	reset();
	CHECK("segment: encoded", url_put_segment(&out, "a b/\xc3\xbc~-._%", 11) == 0);
	CHECK_STR("segment: text", got(), "a%20b%2F%C3%BC~-._%25");
	reset();
	CHECK("form: encoded", form_put_escaped(&out, "a b&c=d*", 8) == 0);
	CHECK_STR("form: text", got(), "a+b%26c%3Dd*");
}

static struct node *
node(enum kind k, const char *name, struct node *parent)
{
	struct node *n = amalloc(sizeof *n);

	n->kind = k, n->name = name, n->parent = parent;
	return n;
}

static void
test_task_path(void)
{
	struct node *root = node(N_SEQ, "pipeline", NULL), *p = root, *g, *w, *t;
	char name[16];
	int i, commas = 0;
	size_t k;

	g = node(N_SEQ, "build", root);
	w = node(N_SEQ, "build", g); /* a D1 stage with children repeats its name */
	t = node(N_TASK, "compile \"all\"", w);
	reset();
	task_path(t, &out);
	CHECK_STR(
		"path: wrappers once, names escaped", got(), "[\"build\",\"compile \\\"all\\\"\"]");
	reset();
	task_path(g, &out);
	CHECK_STR("path: one level", got(), "[\"build\"]");
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof name, "n%d", i);
		p = node(i == 299 ? N_TASK : N_SEQ, astrdup(name), p);
	}
	reset();
	task_path(p, &out);
	for (k = 0; k < out.len; k++)
		commas += out.data[k] == ',';
	CHECK("path: 300 deep, nothing cut",
		commas == 299 && strstr(got(), "[\"n0\",\"n1\",") && strstr(got(), ",\"n299\"]"));
}

static void
test_numbers(void)
{
	reset();
	CHECK("int: hex", put_int(&out, "0x1F") == 0);
	CHECK("int: octal", put_int(&out, "0o17") == 0);
	CHECK("int: zeros", put_int(&out, "-007") == 0);
	CHECK("int: minus zero", put_int(&out, "-0") == 0);
	CHECK("int: big decimal stays exact", put_int(&out, "123456789012345678901234567890") == 0);
	CHECK_STR("int: text", got(), "3115-70123456789012345678901234567890");
	CHECK("int: hex past 64 bits", put_int(&out, "0x1ffffffffffffffff") < 0);
	reset();
	CHECK("float: 1e3", put_float(&out, "1e3") == 0);
	CHECK_STR("float: text", got(), "1000.0");
	reset();
	CHECK("float: 0.5", put_float(&out, "0.5") == 0 && !strcmp(got(), "0.5"));
	CHECK("float: inf has no JSON", put_float(&out, ".inf") < 0);
	CHECK("float: nan has no JSON", put_float(&out, ".NaN") < 0);
}


static void
test_gh_escape(void)
{
	const char *s = "a%b\r\nc:d,e";

	reset();
	gh_escape(&out, s, strlen(s), 0);
	CHECK_STR("gh: data escapes % CR LF only", got(), "a%25b%0D%0Ac:d,e");
	reset();
	gh_escape(&out, s, strlen(s), 1);
	CHECK_STR("gh: property escapes : and , too", got(), "a%25b%0D%0Ac%3Ad%2Ce");
	reset();
	gh_escape(&out, "::x\0y", 5, 0);
	CHECK("gh: NUL kept, :: untouched in data", out.len == 5 && !memcmp(out.data, "::x\0y", 5));
}

static void
test_shell_word(void)
{
	reset();
	put_shell_word(&out, "plain/path-1.0=x,y:z@h%+");
	CHECK_STR("word: plain as is", got(), "plain/path-1.0=x,y:z@h%+");
	reset();
	put_shell_word(&out, "it's a $x");
	CHECK_STR("word: quoted", got(), "'it'\\''s a $x'");
	reset();
	put_shell_word(&out, "");
	CHECK_STR("word: empty", got(), "''");
}

static void
test_cols(void)
{
	size_t cols = 8;

	reset();
	put_cols(&out, "ab\tc\033d", &cols);
	CHECK_STR("cols: control bytes as ?", got(), "ab?c?d");
	CHECK("cols: 6 used", cols == 2);
	cols = 5;
	reset();
	put_cols(&out, "a\xc3\xa9\xc3\xa9z", &cols); /* a, e-acute twice, z */
	CHECK_STR("cols: a wide character is never cut", got(), "a\xc3\xa9\xc3\xa9");
	cols = 2;
	reset();
	put_cols(&out, "a\xe2\x82\xac", &cols); /* a, euro sign: 3 columns needed */
	CHECK_STR("cols: stops before what does not fit", got(), "a");
}

/* Parse env text as file "u.env"; the entries joined with '|'. */
static const char *
dotenv(const char *text, size_t len, int *errors)
{
	struct strv v = { 0 };
	size_t i;
	int e = cfg.errors;

	dotenv_parse("u.env", text, len, &v);
	*errors = cfg.errors - e;
	cfg.errors = e;
	reset();
	for (i = 0; i < v.n; i++)
		xprintf(&out, "%s%s", i ? "|" : "", v.v[i]);
	free(v.v);
	return got();
}

static void
test_dotenv(void)
{
	static const struct {
		const char *in, *want;
		int errors;
	} cases[] = {
		{ "A=1\nB=2", "A=1|B=2", 0 },
		{ "# c\n\n  # c\nexport A=x\n", "A=x", 0 },
		{ "A = spaced  \t# comment\n", "A=spaced", 0 },
		{ "A=a#b\nB=a #c\n", "A=a#b|B=a", 0 },
		{ "A='x\\n $Y # z'\n", "A=x\\n $Y # z", 0 },
		{ "A=\"q\\\"\\n\\t\\\\\\z\"\n", "A=q\"\n\t\\\\z", 0 },
		{ "A=\"two\nlines\"\nB=3\n", "A=two\nlines|B=3", 0 },
		{ "A=1\nA=2\n", "A=2", 0 },
		{ "A=\r\nB=x\r\n", "A=|B=x", 0 },
		{ "export=1\n", "export=1", 0 },
		{ "exportA=1\n", "exportA=1", 0 },
		{ "1A=x\n", "", 1 },
		{ "A x\nB=ok\n", "B=ok", 1 },
		{ "A=\"open\nB=2\n", "", 1 },
		{ "A='x' y\nB=1\n", "B=1", 1 },
		{ "=x\n", "", 1 },
		{ "A", "", 1 },
		{ "", "", 0 },
	};
	size_t i;
	int errors;
	char name[80];

	for (i = 0; i < sizeof cases / sizeof *cases; i++) {
		snprintf(name, sizeof name, "dotenv: case %zu", i);
		CHECK_STR(name, dotenv(cases[i].in, strlen(cases[i].in), &errors), cases[i].want);
		snprintf(name, sizeof name, "dotenv: case %zu errors", i);
		CHECK(name, errors == cases[i].errors);
	}
	CHECK_STR("dotenv: a NUL in a value is an error", dotenv("A=x\0y\nB=1\n", 10, &errors), "B=1");
	CHECK("dotenv: NUL counted", errors == 1);
	setenv("UW_DOTENV_SET", "outside", 1);
	CHECK_STR("dotenv: walter's environment wins", dotenv("UW_DOTENV_SET=file\n", 19, &errors), "");
}

static void
test_select(void)
{
	struct node *root = node(N_SEQ, "tasks", NULL), *g, *w, *t, *u;

	g = node(N_PAR, "checks", root);
	w = node(N_SEQ, "unit", g);
	t = node(N_TASK, "test", w);
	u = node(N_TASK, "a/b", g); /* a name with a slash in it */
	CHECK("select: name", sel_matches(t, "test"));
	CHECK("select: full path", sel_matches(t, "checks/unit/test"));
	CHECK("select: path suffix", sel_matches(t, "unit/test"));
	CHECK("select: wrong group", !sel_matches(t, "lint/test"));
	CHECK("select: too long", !sel_matches(t, "x/checks/unit/test"));
	CHECK("select: empty parts", !sel_matches(t, "/test") && !sel_matches(t, "unit/"));
	CHECK("select: group by name", sel_matches(g, "checks") && !sel_matches(root, "tasks"));
	CHECK("select: a name holding a slash", sel_matches(u, "a/b") && sel_matches(u, "checks/a/b"));
	CHECK("select: not a prefix", !sel_matches(t, "tes") && !sel_matches(t, "it/test"));
}

static void
test_counts(void)
{
	struct node *t[5];
	size_t count[S_NSTATUS], i;
	static const enum status st[] = { S_OK, S_FAILED, S_OK, S_PENDING, S_CONDFALSE };

	for (i = 0; i < 5; i++) {
		t[i] = node(N_TASK, "t", NULL);
		t[i]->st = st[i];
	}
	cfg.tasks = t, cfg.ntasks = 5;
	CHECK("counts: reached", count_status(count) == 4);
	CHECK("counts: per status",
		count[S_OK] == 2 && count[S_FAILED] == 1 && count[S_PENDING] == 1 &&
			count[S_CONDFALSE] == 1 && count[S_SKIPPED] == 0);
	cfg.tasks = NULL, cfg.ntasks = 0;
}

/* cmd_words: the words a command string is exec'd with, "|"-joined, or
 * NULL when sh -c must run it. */
static void
test_cmd_words(void)
{
	static const struct {
		const char *cmd, *want;
	} cases[] = { { "/bin/true stage 1", "/bin/true|stage|1" },
		{ "  make \t -C dir  all ", "make|-C|dir|all" },
		{ "echo_x 'a  b' \"c d\" e'f g'h", "echo_x|a  b|c d|ef gh" },
		{ "prog '' \"\" x", "prog|||x" }, { "prog 'it\"s' \"it's\"", "prog|it\"s|it's" },
		{ "prog 'a$b' '`x`' 'a\\b' '*' '#' '~' '|;&<>(){}[]!^'",
			"prog|a$b|`x`|a\\b|*|#|~||;&<>(){}[]!^" },
		{ "prog CC=gcc --opt=1 %d , : @ + -", "prog|CC=gcc|--opt=1|%d|,|:|@|+|-" },
		{ "pr\xc3\xa9g \x01\r", "pr\xc3\xa9g|\x01\r" }, { "sh -c 'exit 0'", "sh|-c|exit 0" },
		{ "./script", "./script" }, { "/usr/bin/echo x", "/usr/bin/echo|x" },
		/* to the shell: syntax */
		{ "", NULL }, { "   ", NULL }, { "a | b", NULL }, { "a && b", NULL }, { "a;b", NULL },
		{ "a > f", NULL }, { "a < f", NULL }, { "(a)", NULL }, { "a $HOME", NULL },
		{ "a ${X}", NULL }, { "a `b`", NULL }, { "a \\ b", NULL }, { "a *.c", NULL },
		{ "a ?", NULL }, { "a [x]", NULL }, { "a ~", NULL }, { "a #c", NULL },
		{ "a {b,c}", NULL }, { "a !x", NULL }, { "a ^b", NULL }, { "a\nb", NULL },
		{ "a \"$X\"", NULL }, { "a \"`b`\"", NULL }, { "a \"\\\\\"", NULL },
		{ "a 'open", NULL }, { "a \"open", NULL }, { "'' x", NULL }, { "X=1 prog", NULL },
		{ "a=b", NULL },
		/* to the shell: reserved words and builtins */
		{ "if x", NULL }, { "for x", NULL }, { "while x", NULL }, { "until x", NULL },
		{ "case x", NULL }, { "time x", NULL }, { "function f", NULL }, { "cd dir", NULL },
		{ "exit 3", NULL }, { "export X", NULL }, { ". ./f", NULL }, { ": x", NULL },
		{ "set -e", NULL }, { "exec x", NULL }, { "eval x", NULL }, { "test -d .", NULL },
		{ "[ -d . ]", NULL }, { "echo x", NULL }, { "printf x", NULL }, { "pwd", NULL },
		{ "true", NULL }, { "false", NULL }, { "kill -9 1", NULL }, { "read x", NULL },
		{ "ulimit -n", NULL }, { "umask", NULL }, { "wait", NULL }, { "source f", NULL },
		{ "'cd' dir", NULL }, { "\"exit\"", NULL }, { "command -v x", NULL },
		{ "type x", NULL }, { "hash", NULL }, { "trap x", NULL }, { "shift", NULL } };
	size_t i, k;
	char name[128];

	for (i = 0; i < sizeof cases / sizeof *cases; i++) {
		char **w = cmd_words(cases[i].cmd);
		struct buf b = { 0 };
		for (k = 0; w && w[k]; k++) {
			xputs(&b, k ? "|" : "");
			xputs(&b, w[k]);
		}
		snprintf(name, sizeof name, "cmd_words: \"%s\"", cases[i].cmd);
		if (cases[i].want)
			CHECK_STR(name, w ? (b.data ? b.data : "") : NULL, cases[i].want);
		else
			CHECK(name, w == NULL);
		buf_free(&b); /* w is cmd_words' own buffer, reused by the next call */
	}
}

/* The words of a packed list, joined by '|'. */
static const char *
words_of(const char *list)
{
	reset();
	for (; *list; list = word_next(list)) {
		xputs(&out, out.len ? "|" : "");
		xputs(&out, list);
	}
	return got();
}

/* Is w one of the NULL-ended a? */
static int
in_array(const char *const *a, const char *w)
{
	for (; *a; a++)
		if (!strcmp(*a, w))
			return 1;
	return 0;
}

/* The packed word lists hold exactly the words they held as arrays of
 * pointers, in order (an octal escape eating a letter would show), and
 * word_find finds each word and nothing that only looks like one. */
static void
test_word_lists(void)
{
	static const char *const sh[] = { "!", ".", ":", "[", "[[", "]]", "{", "}", "alias", "bg",
		"bind", "break", "builtin", "caller", "case", "cd", "chdir", "command", "compgen",
		"complete", "compopt", "continue", "coproc", "declare", "dirs", "disown", "do", "done",
		"echo", "elif", "else", "enable", "esac", "eval", "exec", "exit", "export", "false",
		"fc", "fg", "fi", "for", "function", "getopts", "hash", "help", "history", "if", "in",
		"jobs", "kill", "let", "local", "login", "logout", "mapfile", "popd", "printf", "pushd",
		"pwd", "read", "readarray", "readonly", "return", "select", "set", "shift", "shopt",
		"source", "suspend", "test", "then", "time", "times", "trap", "true", "type", "typeset",
		"ulimit", "umask", "unalias", "unset", "until", "wait", "while", NULL };
	static const char *const st[] = { "name", "stage_name", "type", "stage_type", "command",
		"file", "directory", "only_if", "wait_for", "report_full_output", "suppress_all",
		"message", "parallel", "run_after", "serial", "include", "call", "timeout", "retry",
		"retry_delay", "env", "description", "env_file", "shell_script", "keep_running", "shell", NULL };
	static const char *const nt[NT_NTYPES] = { [NT_FAKE] = "",
		[NT_SLACK] = "type|on|summary|timeout|suppress|tls_proxy|url|channel|username|icon|"
			     "icon_url",
		[NT_HIPCHAT] = "type|on|summary|timeout|suppress|tls_proxy|room_id|token|from|"
			       "base_url|color",
		[NT_HIPCHAT2] = "type|on|summary|timeout|suppress|tls_proxy|room_id|token|from|"
				"base_url|color",
		[NT_WEBHOOK] = "type|on|summary|timeout|suppress|tls_proxy|url",
		[NT_EXEC] = "type|on|summary|timeout|suppress|command",
		[NT_GITHUB_STATUS] = "type|timeout|tls_proxy|sha|token|api_url|target_url|"
				     "description|per_task|repo|context",
		[NT_GITLAB_STATUS] = "type|timeout|tls_proxy|sha|token|api_url|target_url|"
				     "description|per_task|project|name",
		[NT_DISCORD] = "type|on|summary|timeout|suppress|tls_proxy|url|username|avatar_url",
		[NT_TEAMS] = "type|on|summary|timeout|suppress|tls_proxy|url",
		[NT_MATTERMOST] = "type|on|summary|timeout|suppress|tls_proxy|url|channel|username|"
				  "icon|icon_url",
		[NT_GOOGLECHAT] = "type|on|summary|timeout|suppress|tls_proxy|url" };
	const char *const *lists[] = { sh, st };
	const char *packed[] = { sh_words, stage_keys };
	char w[64], name[64];
	size_t i, k;
	int ok;

	for (i = 0; i < 2; i++) {
		struct buf want = { 0 };
		for (k = 0, ok = 1; lists[i][k]; k++) {
			xputs(&want, k ? "|" : "");
			xputs(&want, lists[i][k]);
			ok &= word_find(packed[i], lists[i][k]) != NULL;
			snprintf(w, sizeof w, "%sx", lists[i][k]); /* longer, shorter */
			ok &= !word_find(packed[i], w) == !in_array(lists[i], w);
			snprintf(w, sizeof w, "%.*s", (int)strlen(lists[i][k]) - 1, lists[i][k]);
			ok &= !word_find(packed[i], w) == !in_array(lists[i], w);
		}
		CHECK_STR(i ? "word list: stage keys" : "word list: sh words", words_of(packed[i]),
			want.data);
		CHECK(i ? "word_find: stage keys" : "word_find: sh words", ok);
		CHECK(i ? "word_find: empty word, empty list (stage keys)"
			: "word_find: empty word, empty list (sh words)",
			!word_find(packed[i], "") && !word_find("", lists[i][0]));
		buf_free(&want);
	}
	for (i = 0; i < NT_NTYPES; i++) {
		snprintf(name, sizeof name, "word list: %s notifier keys", notifier_types[i]);
		CHECK_STR(name, words_of(nt_known[i]), nt[i]);
	}
}

/* A response parsed from raw text (its head kept), for rate_wait. */
static int
answer(const char *raw, struct http_response *rs)
{
	char err[128];

	return http_parse_response(raw, strlen(raw), 1, 0, rs, err, sizeof err);
}

static void
test_rate_wait(void)
{
	struct http_response rs;
	long long t = 1700000000;

	memset(&rs, 0, sizeof rs);
	CHECK("rate: 429 Retry-After",
		answer("HTTP/1.1 429 x\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n", &rs) == 1 &&
			rate_wait(&rs, t) == 5);
	http_response_free(&rs);
	CHECK("rate: 403 Retry-After as a date",
		answer("HTTP/1.1 403 x\r\nRetry-After: Tue, 14 Nov 2023 22:13:40 GMT\r\n"
		       "Content-Length: 0\r\n\r\n",
			&rs) == 1 &&
			rate_wait(&rs, t) == 20);
	http_response_free(&rs);
	CHECK("rate: none left until the reset",
		answer("HTTP/1.1 403 x\r\nX-RateLimit-Remaining: 0\r\nX-RateLimit-Reset: 1700000030\r\n"
		       "Content-Length: 0\r\n\r\n",
			&rs) == 1 &&
			rate_wait(&rs, t) == 30);
	http_response_free(&rs);
	CHECK("rate: a reset in the past is now",
		answer("HTTP/1.1 429 x\r\nX-RateLimit-Remaining: 0\r\nX-RateLimit-Reset: 1600000000\r\n"
		       "Content-Length: 0\r\n\r\n",
			&rs) == 1 &&
			rate_wait(&rs, t) == 0);
	http_response_free(&rs);
	CHECK("rate: requests left is no rate limit",
		answer("HTTP/1.1 403 x\r\nX-RateLimit-Remaining: 12\r\nX-RateLimit-Reset: 1700000030\r\n"
		       "Content-Length: 0\r\n\r\n",
			&rs) == 1 &&
			rate_wait(&rs, t) == -1);
	http_response_free(&rs);
	CHECK("rate: a bare 403 is none",
		answer("HTTP/1.1 403 x\r\nContent-Length: 0\r\n\r\n", &rs) == 1 &&
			rate_wait(&rs, t) == -1);
	http_response_free(&rs);
	CHECK("rate: only 403 and 429",
		answer("HTTP/1.1 503 x\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n", &rs) == 1 &&
			rate_wait(&rs, t) == -1);
	http_response_free(&rs);
	CHECK("rate: a bad reset is none",
		answer("HTTP/1.1 429 x\r\nX-RateLimit-Remaining: 0\r\nX-RateLimit-Reset: soon\r\n"
		       "Content-Length: 0\r\n\r\n",
			&rs) == 1 &&
			rate_wait(&rs, t) == -1);
	http_response_free(&rs);
}

static void
test_status_texts(void)
{
	char a[400], sha[80];
	size_t i, n;
	const char *c;
	struct buf cb = { 0 };

	reset();
	put_cut(&out, "short", 5, 140);
	CHECK_STR("cut: short stays", got(), "short");
	memset(a, 'x', 140), a[140] = '\0';
	reset();
	put_cut(&out, a, 140, 140);
	CHECK("cut: 140 stays", out.len == 140);
	memset(a, 'x', 141), a[141] = '\0';
	reset();
	put_cut(&out, a, 141, 140);
	CHECK("cut: 141 becomes 137 and ...", out.len == 140 && !strcmp(got() + 137, "..."));
	for (i = 0; i < 150; i++) /* "é" twice a byte: characters count, not bytes */
		a[2 * i] = (char)0xc3, a[2 * i + 1] = (char)0xa9;
	reset();
	put_cut(&out, a, 300, 140);
	CHECK("cut: characters, not bytes", out.len == 137 * 2 + 3 && !strcmp(got() + 274, "..."));
	reset();
	put_cut(&out, a, 280, 140);
	CHECK("cut: 140 characters of 2 bytes stay", out.len == 280);
	reset();
	status_body(0, CS_START, "walter", "Running x.yml", NULL, &out);
	CHECK_STR("status: GitHub pending",
		got(), "{\"state\":\"pending\",\"context\":\"walter\",\"description\":\"Running x.yml\"}\n");
	reset();
	status_body(1, CS_ABORT, "ci", "stop", "http://t/1", &out);
	CHECK_STR("status: GitLab canceled", got(),
		"{\"state\":\"canceled\",\"name\":\"ci\",\"target_url\":\"http://t/1\",\"description\":\"stop\"}\n");
	CHECK("status: words",
		!strcmp(cs_word[0][CS_FAIL], "failure") && !strcmp(cs_word[1][CS_FAIL], "failed") &&
			!strcmp(cs_word[0][CS_CONFIG], "error") &&
			!strcmp(cs_word[1][CS_START], "running") &&
			!strcmp(cs_word[1][CS_SKIP], "success"));
	snprintf(sha, sizeof sha, "%s", "0123456789ABCDEF0123456789abcdef01234567");
	CHECK("sha: 40 hex, lowered", is_sha(sha) && !strcmp(sha, "0123456789abcdef0123456789abcdef01234567"));
	snprintf(sha, sizeof sha, "%s", "0123456789abcdef0123456789abcdef0123456");
	CHECK("sha: 39 is not", !is_sha(sha));
	snprintf(sha, sizeof sha, "%s", "0123456789abcdef0123456789abcdef0123456g");
	CHECK("sha: not hex", !is_sha(sha));
	CHECK("branch: names", branch_ok("master") && branch_ok("release/1.2") && !branch_ok("-x") &&
		!branch_ok("a..b") && !branch_ok("a b") && !branch_ok("a:b") && !branch_ok("") &&
		!branch_ok("a~1"));
	/* clip: the first line, "...", the end, within max, on characters */
	n = 5;
	CHECK("clip: short stays", clip("hello", &n, 10, &cb) != NULL && n == 5);
	for (i = 0; i < 399; i++)
		a[i] = i % 2 ? (char)0xa9 : (char)0xc3;
	memcpy(a, "[t][STDOUT] x\n", 14);
	a[399] = '\0';
	n = 399;
	c = clip(a, &n, 100, &cb);
	CHECK("clip: long cut", n <= 100 && !strncmp(c, "[t][STDOUT] x\n...\n", 18) &&
		((unsigned char)c[18] & 0xc0) != 0x80 && !memcmp(c + n - 2, a + 397, 2));
	buf_free(&cb);
}

/* A random pattern of the syntax POSIX ERE and RE2 share, for
 * test_regex_posix: atoms over a and b, each maybe repeated once. */
static void rnd_alt(struct buf *b, int depth);

static void
rnd_seq(struct buf *b, int depth)
{
	static const char *const atom[] = { "a", "b", ".", "[ab]", "[^a]", "c" };
	static const char *const rep[] = { "", "", "*", "+", "?", "{2}", "{1,2}", "{0,}", "{2,3}" };
	unsigned i, n = 1 + rnd(3);

	for (i = 0; i < n; i++) {
		if (depth < 3 && !rnd(4)) {
			xputs(b, "(");
			rnd_alt(b, depth + 1);
			xputs(b, ")");
		} else {
			xputs(b, atom[rnd(6)]);
		}
		xputs(b, rep[rnd(9)]);
	}
}

static void
rnd_alt(struct buf *b, int depth)
{
	rnd_seq(b, depth);
	while (!rnd(3)) {
		xputs(b, "|");
		rnd_seq(b, depth);
	}
}

/* The same answers as glibc's regexec on 3,000 random patterns of the
 * syntax both take, 12 texts each. (Not musl's: its TRE matches
 * /((b([ab]ca|..{2,3})+|...)+/ on "cccaccb" where glibc, Python and Go
 * do not; seed 12345 finds it.) */
static void
test_regex_posix(void)
{
#ifndef __GLIBC__
	puts("skip regex like POSIX: glibc's regexec is the reference");
	return;
#endif
	struct buf pat = { 0 };
	struct regex re;
	regex_t px;
	char err[256], text[12], name[200];
	unsigned i, j, k, bad = 0, n = 0;

	rnd_state = 12345; /* the same 3,000 patterns whatever ran before */
	for (i = 0; i < 3000; i++) {
		pat.len = 0;
		xputs(&pat, rnd(4) ? "" : "^");
		rnd_alt(&pat, 0);
		xputs(&pat, rnd(4) ? "" : "$");
		if (regcomp(&px, pat.data, REG_EXTENDED | REG_NOSUB))
			continue;
		if (re_compile(&re, pat.data, err, sizeof err) < 0) {
			snprintf(name, sizeof name, "regex like POSIX: /%s/ compiles", pat.data);
			CHECK(name, 0);
			bad++;
		}
		for (j = 0; j < 12 && !bad; j++, n++) {
			unsigned len = rnd(9);
			for (k = 0; k < len; k++)
				text[k] = "abc"[rnd(3)];
			text[len] = '\0';
			if (re_match(&re, text) != !regexec(&px, text, 0, NULL, 0)) {
				snprintf(name, sizeof name, "regex like POSIX: /%s/ on \"%s\"",
					pat.data, text);
				CHECK(name, 0);
				bad++;
			}
		}
		regfree(&px);
		if (bad)
			break;
	}
	snprintf(name, sizeof name, "regex like POSIX: %u matches compared", n);
	CHECK(name, !bad && n > 20000);
	buf_free(&pat);
}

/* s with bytes outside printable ASCII as \xHH, for a test's name. */
static const char *
vis(const char *s, char *b, size_t n)
{
	size_t k = 0;

	for (; *s && k + 5 < n; s++)
		k += (size_t)snprintf(
			b + k, n - k, *s > ' ' && *s < 127 ? "%c" : "\\x%02x", (unsigned char)*s);
	b[k] = '\0';
	return b;
}

/* The service's branch patterns: Go RE2 syntax, unanchored, UTF-8. */
static void
test_regex(void)
{
	static const struct {
		const char *re, *s;
		int want;
	} m[] = { { "feature/", "feature/x", 1 }, { "feature/", "my-feature/x", 1 },
		{ "^feature/", "my-feature/x", 0 },
		{ "^release/v\\d+\\.\\d+$", "release/v1.20", 1 },
		{ "^release/v\\d+\\.\\d+$", "release/v1.20-rc", 0 },
		{ "^release/v\\d+\\.\\d+$", "release/v1x20", 0 }, { "^(feature|fix)/", "fix/a", 1 },
		{ "^(feature|fix)/", "hotfix/a", 0 },
		{ "^(?:feat|fix)-[a-z0-9-]+$", "feat-x-1", 1 },
		{ "^(?:feat|fix)-[a-z0-9-]+$", "feat-X", 0 },
		{ "^(?P<kind>dep|renovate)/", "renovate/x", 1 }, { "^(?<kind>dep)/", "dep/x", 1 },
		{ ".", "", 0 }, { "", "", 1 }, { "", "x", 1 }, { "^$", "", 1 }, { "^$", "a", 0 },
		{ "a{2}", "a", 0 }, { "a{2}", "baab", 1 }, { "^a{2,3}$", "aaaa", 0 },
		{ "^a{2,3}$", "aaa", 1 }, { "^a{2,3}$", "a", 0 }, { "^a{2,}$", "aaaaa", 1 },
		{ "^a{2,}$", "a", 0 }, { "^a{0}b$", "b", 1 }, { "^a{0}b$", "ab", 0 },
		{ "^a{0,1}b$", "ab", 1 }, { "^(ab)+$", "ababab", 1 }, { "^(ab)+$", "aba", 0 },
		{ "^(ab)*$", "", 1 }, { "^a?b?c?$", "ac", 1 }, { "^a?b?c?$", "ca", 0 },
		{ "[^/]+$", "a/b", 1 }, { "^[^/]+$", "a/b", 0 }, { "^[]a]+$", "]a]", 1 },
		{ "^[^]a]$", "]", 0 }, { "^[a-]+$", "a-a", 1 }, { "^[-a]+$", "-", 1 },
		{ "^[\\d\\s]+$", "1 2", 1 }, { "^[\\D]+$", "abc", 1 }, { "^[\\D]+$", "a1", 0 },
		{ "^\\W+$", "/-.", 1 }, { "^\\W+$", "a", 0 }, { "^[\\W\\d]+$", "1-2", 1 },
		{ "^[^\\S]$", " ", 1 }, { "^\\w+$", "a_Z9", 1 }, { "\\bfix\\b", "a fix here", 1 },
		{ "\\bfix\\b", "prefix", 0 }, { "\\Bfix", "prefix", 1 }, { "\\Bfix", "fix", 0 },
		{ "\\Afoo\\z", "foo", 1 }, { "\\Afoo\\z", "foo\n", 0 }, { "foo$", "foo\n", 0 },
		{ "^.$", "\xc3\xa9", 1 }, { "^..$", "\xc3\xa9", 0 },
		{ "^[\xc3\xa9]$", "\xc3\xa9", 1 }, { "^[^a]$", "\xc3\xa9", 1 },
		{ "^[\xc3\xa0-\xc3\xbf]+$", "\xc3\xa9\xc3\xa0", 1 }, { "^\\x{e9}$", "\xc3\xa9", 1 },
		{ "^\\x41\\x{42}$", "AB", 1 }, { "^.$", "\xff", 1 }, { "^\\x{fffd}$", "\xff", 1 },
		{ "^.$", "\xe2\x82", 0 }, { "^..$", "\xe2\x82", 1 },
		{ "^.$", "\xf0\x9f\x98\x80", 1 }, { "^.$", "\xed\xa0\x80", 0 }, { ".", "\n", 0 },
		{ "[^a]", "\n", 1 }, { "a.c", "abc", 1 }, { "{", "{", 1 },
		{ "^a{,2}$", "a{,2}", 1 }, { "^a{1$", "a{1", 1 }, { "a}", "a}", 1 },
		{ "]", "]", 1 }, { "\\.", "a", 0 }, { "\\.", ".", 1 }, { "\\/\\-\\$", "/-$", 1 },
		{ "^\\t\\n$", "\t\n", 1 }, { "x*", "", 1 }, { "a|", "b", 1 }, { "^(|a)b$", "b", 1 },
		{ "^(a|ab)(c|bcd)(d*)$", "abcd", 1 }, { "^a+?$", "aaa", 1 },
		{ "^a*?b??$", "aab", 1 }, { "^a{2}?$", "aa", 1 }, { "[[]", "[", 1 },
		{ "^\\$", "$", 1 }, { "(?:)", "x", 1 }, { "^()*$", "", 1 }, { "()*a", "a", 1 },
		{ "()+", "", 1 }, { "^()+x$", "x", 1 },
		{ "^(a*)*$", "aaaa", 1 }, { "^(a*)*b$", "aaaa", 0 }, { "^(a|b|c|d)+$", "abcdx", 0 },
		{ "^(a|b|c|d)+$", "dcba", 1 }, { "^((a|b)c){2}$", "acbc", 1 },
		{ "^((a|b)c){2}$", "acb", 0 }, { "^^a$$", "a", 1 }, { "^*a", "a", 1 },
		{ "^x{0,3}y{1,2}$", "xxxyy", 1 }, { "^x{0,3}y{1,2}$", "xxxxy", 0 },
		{ "dependabot/(npm|pip)_and_yarn/", "dependabot/npm_and_yarn/x-1.2", 1 } };
	static const struct {
		const char *re, *err;
	} e[] = { { "(?i)main", "flags such as (?i) are not supported (character 1)" },
		{ "ab(?s:.)", "flags such as (?i) are not supported (character 3)" },
		{ "\\p{Greek}", "Unicode classes (\\p, \\P) are not supported (character 1)" },
		{ "a\\PL", "Unicode classes (\\p, \\P) are not supported (character 2)" },
		{ "[[:alpha:]]",
			"[:name:] classes are not supported (write the range, [a-z]) (character 2)" },
		{ "\\Qa.b\\E", "quoting with \\Q...\\E is not supported (character 1)" },
		{ "(a)\\1",
			"backreferences and octal escapes (\\1, \\0) are not supported (character 4)" },
		{ "a**", "invalid nested repetition operator (character 2)" },
		{ "a+*", "invalid nested repetition operator (character 2)" },
		{ "a*??", "invalid nested repetition operator (character 2)" },
		{ "x{2}{3}", "invalid nested repetition operator (character 2)" },
		{ "*a", "missing argument to repetition operator (character 1)" },
		{ "a|+", "missing argument to repetition operator (character 3)" },
		{ "(?:*)", "missing argument to repetition operator (character 4)" },
		{ "{2}", "missing argument to repetition operator (character 1)" },
		{ "a{1001}", "invalid repeat count (at most 1000, min <= max) (character 2)" },
		{ "a{3,2}", "invalid repeat count (at most 1000, min <= max) (character 2)" },
		{ "\xc3\xa9(a", "missing closing ) (character 2)" },
		{ "a)", "unexpected ) (character 2)" },
		{ "x[a", "missing closing ] (character 2)" },
		{ "[z-a]", "invalid character class range (character 2)" },
		{ "[a-\\d]", "invalid character class range (character 2)" },
		{ "a\\", "trailing backslash (character 2)" },
		{ "\\i", "invalid escape sequence (character 1)" },
		{ "\\x{110000}", "invalid escape sequence (character 1)" },
		{ "\\xg", "invalid escape sequence (character 1)" },
		{ "[\\b]", "invalid escape sequence (character 2)" },
		{ "a\xff", "invalid UTF-8 (character 2)" },
		{ "[\xff]", "invalid UTF-8 (character 2)" },
		{ "(?P<>a)", "invalid named capture (character 1)" },
		{ "(?P<a-b>a)", "invalid named capture (character 1)" },
		{ "((a{1000}){1000})", "too large (over 5000 steps): lower the repeat counts" } };
	struct regex re;
	char name[160], err[256], *big, *deep;
	double t0, t;
	size_t i, k;

	for (i = 0; i < sizeof m / sizeof *m; i++) {
		char a[80], b[80];
		snprintf(name, sizeof name, "regex: /%s/ on \"%s\"", vis(m[i].re, a, sizeof a),
			vis(m[i].s, b, sizeof b));
		CHECK(name,
			re_compile(&re, m[i].re, err, sizeof err) == 0 &&
				re_match(&re, m[i].s) == m[i].want);
	}
	for (i = 0; i < sizeof e / sizeof *e; i++) {
		char a[80];
		snprintf(name, sizeof name, "regex error: /%s/", vis(e[i].re, a, sizeof a));
		err[0] = '\0';
		CHECK(name,
			re_compile(&re, e[i].re, err, sizeof err) < 0 &&
				!strncmp(err, e[i].err, strlen(e[i].err)));
	}
	deep = calloc(1, 400);
	for (k = 0; k < 101; k++)
		deep[k] = '(', deep[101 + k] = ')';
	CHECK("regex error: 101 nested groups",
		re_compile(&re, deep, err, sizeof err) < 0 &&
			!strcmp(err, "too deeply nested (over 100 groups) (character 101)"));
	deep[0] = 'x', deep[201] = '\0';
	CHECK("regex: 100 nested groups",
		re_compile(&re, deep + 1, err, sizeof err) == 0 && re_match(&re, ""));
	free(deep);
	/* Patterns that take a backtracking matcher exponential time, on
	 * 100,000 characters: linear here (milliseconds; the bound is only
	 * there to fail rather than hang). */
	big = malloc(100001);
	memset(big, 'a', 100000);
	big[100000] = '\0';
	t0 = now();
	CHECK("regex: (a*)*b on 100,000 a",
		re_compile(&re, "(a*)*b", err, sizeof err) == 0 && !re_match(&re, big));
	CHECK("regex: (a|aa)+$ on 100,000 a",
		re_compile(&re, "^(a|aa)+$", err, sizeof err) == 0 && re_match(&re, big));
	CHECK("regex: (x+x+)+y on 100,000 a",
		re_compile(&re, "(a+a+)+y", err, sizeof err) == 0 && !re_match(&re, big));
	CHECK("regex: a{0,1000}... on 100,000 a",
		re_compile(&re, "^(a?){1000}a{1000}b", err, sizeof err) == 0 &&
			!re_match(&re, big));
	big[99999] = 'b';
	CHECK("regex: (a*)*b found at the end",
		re_compile(&re, "(a*)*b$", err, sizeof err) == 0 && re_match(&re, big));
	t = now() - t0;
	snprintf(name, sizeof name, "regex: pathological patterns in %.2fs (< 20s)", t);
	CHECK(name, t < 20);
	free(big);
}

int
main(void)
{
	test_say();
	test_duration();
	test_flags();
	test_edit_distance();
	test_subst();
	test_specials();
	test_mask();
	test_automaton();
	test_tail_cut();
	test_times();
	test_encoders();
	test_task_path();
	test_numbers();
	test_counts();
	test_cmd_words();
	test_word_lists();
	test_gh_escape();
	test_shell_word();
	test_cols();
	test_dotenv();
	test_select();
	test_rate_wait();
	test_status_texts();
	test_regex();
	test_regex_posix();
	buf_free(&out);
	buf_free(&lg.msg);
	secrets_free();
	arena_free();
	UNIT_EXIT();
}
