/* unit_yaml.c - yaml_mini: node kinds, styles, positions, escapes, block
 * scalars, anchors, tags, documents, core schema, located errors, limits. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unit.h"
#include "yaml_mini.h"

static char err[512];
static struct yaml_doc *doc;

/* Parse src (NUL-terminated) into the global doc; root of document 0. */
static const struct yaml_node *
parse(const char *src)
{
	yaml_free(doc);
	doc = yaml_parse(src, strlen(src), "t.yaml", err, sizeof err);
	return doc ? yaml_root(doc, 0) : NULL;
}

/* The error message of a parse that must fail ("" if it succeeded). */
static const char *
fails(const char *src, size_t len)
{
	struct yaml_doc *d = yaml_parse(src, len, "t.yaml", err, sizeof err);

	if (d) {
		yaml_free(d);
		return "";
	}
	return err;
}

static const char *
efail(const char *src)
{
	return fails(src, strlen(src));
}

static const char *
text(const struct yaml_node *n)
{
	return n && n->kind == YAML_SCALAR ? n->text : "(not a scalar)";
}

/* Text of the value under key in the root mapping of src. */
static const char *
val(const char *src, const char *key)
{
	return text(yaml_get(parse(src), key));
}

/* "? key" / ": value" entries with scalar keys. */
static void
explicit_keys(void)
{
	const struct yaml_node *r =
		parse("a: 1\n? b\n: 2\n? c\nd:\n  ? multi\n    line\n  : - x\n    - y\n");

	CHECK("explicit map", r && r->kind == YAML_MAP && r->n == 8);
	CHECK_STR("explicit value", text(yaml_get(r, "b")), "2");
	CHECK("explicit without value is null",
		r && yaml_get(r, "c") && yaml_get(r, "c")->len == 0 &&
			yaml_resolve(yaml_get(r, "c")) == YAML_TAG_NULL);
	r = r ? yaml_get(r, "d") : NULL;
	CHECK("explicit multi-line key",
		r && r->kind == YAML_MAP && r->n == 2 && !strcmp(r->child[0]->text, "multi line") &&
			r->child[1]->kind == YAML_SEQ && r->child[1]->n == 2);
	r = parse("? !!str 1\n: !!int 2\n");
	CHECK("explicit key tags",
		r && r->n == 2 && yaml_resolve(r->child[0]) == YAML_TAG_STR &&
			yaml_resolve(r->child[1]) == YAML_TAG_INT);
	CHECK("explicit duplicate",
		strstr(efail("a: 1\n? a\n: 2\n"), "duplicate key \"a\"") != NULL);
}

static void
kinds(void)
{
	const struct yaml_node *r = parse("a: 1\nb: [x, y]\nc: {d: e}\nf:\n  - g\n");

	CHECK("kind map", r && r->kind == YAML_MAP && r->style == YAML_BLOCK && r->n == 8);
	CHECK("kind flow seq",
		yaml_get(r, "b")->kind == YAML_SEQ && yaml_get(r, "b")->style == YAML_FLOW &&
			yaml_get(r, "b")->n == 2);
	CHECK("kind flow map",
		yaml_get(r, "c")->kind == YAML_MAP && yaml_get(r, "c")->style == YAML_FLOW);
	CHECK("kind block seq",
		yaml_get(r, "f")->kind == YAML_SEQ && yaml_get(r, "f")->style == YAML_BLOCK);
	CHECK_STR("yaml_get text", text(yaml_get(yaml_get(r, "c"), "d")), "e");
	CHECK("yaml_get missing", yaml_get(r, "zz") == NULL);
	CHECK("yaml_get non-map", yaml_get(yaml_get(r, "b"), "x") == NULL);
	CHECK("yaml_get NULL", yaml_get(NULL, "x") == NULL);

	r = parse("- - a\n  - b\n- k: v\n  k2: v2\n-\n  - c\n");
	CHECK("compact nested seq",
		r->n == 3 && r->child[0]->kind == YAML_SEQ && r->child[0]->n == 2 &&
			strcmp(text(r->child[0]->child[1]), "b") == 0);
	CHECK("compact map in seq", r->child[1]->kind == YAML_MAP && r->child[1]->n == 4);
	CHECK("seq on next line", r->child[2]->kind == YAML_SEQ && r->child[2]->n == 1);

	r = parse("key:\n- a\n- b\nnext: 1\n");
	CHECK("zero-indented seq value",
		yaml_get(r, "key")->n == 2 &&
			strcmp(val("key:\n- a\n- b\nnext: 1\n", "next"), "1") == 0);
	r = parse("[a, b: c, {d: e}, [f]]");
	CHECK("flow pair in seq",
		r->n == 4 && r->child[1]->kind == YAML_MAP &&
			strcmp(text(yaml_get(r->child[1], "b")), "c") == 0);
	r = parse("{a, b: , \"c\":d, e: [1,2]}");
	CHECK("flow map forms",
		r && r->n == 8 && yaml_get(r, "a")->len == 0 &&
			strcmp(text(yaml_get(r, "c")), "d") == 0);
	r = parse("empty:\nnull_in_seq:\n  -\n  - x\n");
	CHECK("empty values",
		yaml_get(r, "empty")->len == 0 && yaml_get(r, "null_in_seq")->child[0]->len == 0);
}

static void
styles(void)
{
	const struct yaml_node *r =
		parse("p: plain\ns: 'single'\nd: \"double\"\nl: |\n  lit\nf: >\n  fold\n");

	CHECK("style plain", yaml_get(r, "p")->style == YAML_PLAIN);
	CHECK("style single", yaml_get(r, "s")->style == YAML_SINGLE);
	CHECK("style double", yaml_get(r, "d")->style == YAML_DOUBLE);
	CHECK("style literal", yaml_get(r, "l")->style == YAML_LITERAL);
	CHECK("style folded", yaml_get(r, "f")->style == YAML_FOLDED);
	CHECK_STR(
		"plain multi-line folds", val("a: one\n  two\n\n  three\n", "a"), "one two\nthree");
	CHECK_STR("plain keeps inner #", val("a: b#c # comment\n", "a"), "b#c");
	CHECK_STR("plain with colon", val("url: http://x:80/a\n", "url"), "http://x:80/a");
	CHECK_STR("single quote escape", val("a: 'it''s'\n", "a"), "it's");
	CHECK_STR("single folding", val("a: 'one\n  two  \n\n  three'\n", "a"), "one two\nthree");
	CHECK_STR("double folding", val("a: \"one \n  two\"\n", "a"), "one two");
	CHECK_STR("flow plain multi-line", text(parse("[a\n b, c]")->child[0]), "a b");
	CHECK_STR("plain continuation with dash", text(parse("- x\n - y\n")->child[0]), "x - y");
}

static void
positions(void)
{
	const struct yaml_node *r = parse("# c\nroot:\n  - name: x\n    cmd: [a, 'b']\n");
	const struct yaml_node *item, *cmd;

	CHECK("pos map", r->line == 2 && r->col == 1);
	CHECK("pos key", r->child[0]->line == 2 && r->child[0]->col == 1);
	item = yaml_get(r, "root");
	CHECK("pos seq", item->line == 3 && item->col == 3);
	CHECK("pos compact map", item->child[0]->line == 3 && item->child[0]->col == 5);
	CHECK("pos value",
		yaml_get(item->child[0], "name")->line == 3 &&
			yaml_get(item->child[0], "name")->col == 11);
	cmd = yaml_get(item->child[0], "cmd");
	CHECK("pos flow seq", cmd->line == 4 && cmd->col == 10);
	CHECK("pos flow item", cmd->child[1]->line == 4 && cmd->child[1]->col == 14);
	r = parse("k: |\n  x\nj: é é\n");
	CHECK("pos block scalar", yaml_get(r, "k")->line == 1 && yaml_get(r, "k")->col == 4);
	r = parse("a: é\xc3\xa9: x\n");
	CHECK("pos utf8 col in chars", !r && strstr(err, "t.yaml:1:6:"));
}

static void
escapes(void)
{
	static const struct {
		const char *in, *out;
		size_t len;
	} t[] = {
		{ "\\x41", "A", 1 },
		{ "\\u00e9", "\xc3\xa9", 2 },
		{ "\\U0001F600", "\xf0\x9f\x98\x80", 4 },
		{ "\\0", "\0", 1 },
		{ "\\a", "\a", 1 },
		{ "\\b", "\b", 1 },
		{ "\\t", "\t", 1 },
		{ "\\\t", "\t", 1 },
		{ "\\n", "\n", 1 },
		{ "\\v", "\v", 1 },
		{ "\\f", "\f", 1 },
		{ "\\r", "\r", 1 },
		{ "\\e", "\033", 1 },
		{ "\\ ", " ", 1 },
		{ "\\\"", "\"", 1 },
		{ "\\/", "/", 1 },
		{ "\\\\", "\\", 1 },
		{ "\\N", "\xc2\x85", 2 },
		{ "\\_", "\xc2\xa0", 2 },
		{ "\\L", "\xe2\x80\xa8", 3 },
		{ "\\P", "\xe2\x80\xa9", 3 },
	};
	char src[64], name[64];
	const struct yaml_node *r;
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		snprintf(src, sizeof src, "\"%s\"", t[i].in);
		snprintf(name, sizeof name, "escape %zu", i);
		r = parse(src);
		CHECK(name, r && r->len == t[i].len && memcmp(r->text, t[i].out, t[i].len) == 0);
	}
	r = parse("\"\\ud83d\\ude00 \\uD83D\\uDE00\"");
	CHECK_STR("surrogate pair", text(r), "\xf0\x9f\x98\x80 \xf0\x9f\x98\x80");
	CHECK_STR("lone high surrogate", efail("\"\\ud83d\""),
		"t.yaml:1:2: escape \"\\ud83d\" is a lone UTF-16 surrogate");
	CHECK_STR("high surrogate then no low", efail("\"\\ud83d\\u0041\""),
		"t.yaml:1:2: escape \"\\ud83d\" is a lone UTF-16 surrogate");
	CHECK_STR("lone low surrogate", efail("\"x\\uDE00\""),
		"t.yaml:1:3: escape \"\\uDE00\" is a lone UTF-16 surrogate");
	CHECK_STR("surrogate as \\U", efail("\"\\U0000D800\""),
		"t.yaml:1:2: escape \"\\U0000D800\" is not a valid Unicode character");
	r = parse("\"a  \\\n   b\\\n\n  c\"");
	CHECK_STR("escaped line breaks", text(r), "a  b\nc");
	r = parse("\"x\\0y\"");
	CHECK("NUL inside text keeps len", r && r->len == 3 && r->text[1] == '\0');
}

static void
blockscalars(void)
{
	CHECK_STR("literal clip", val("a: |\n  x\n  y\n\n\nb: 1\n", "a"), "x\ny\n");
	CHECK_STR("literal strip", val("a: |-\n  x\n\n", "a"), "x");
	CHECK_STR("literal keep", val("a: |+\n  x\n\n\nb: 1\n", "a"), "x\n\n\n");
	CHECK_STR("literal explicit indent", val("a: |2\n    x\n  y\n", "a"), "  x\ny\n");
	CHECK_STR("indicator order |2-", val("a: |2-\n   x\n", "a"), " x");
	CHECK_STR("indicator order |-2", val("a: |-2\n   x\n", "a"), " x");
	CHECK_STR("folded", val("a: >\n  one\n  two\n\n  three\n", "a"), "one two\nthree\n");
	CHECK_STR("folded more-indented", val("a: >\n  one\n    two\n  three\n", "a"),
		"one\n  two\nthree\n");
	CHECK_STR("folded keep", val("a: >+\n  x\n\n", "a"), "x\n\n");
	CHECK_STR("literal leading empty lines", val("a: |\n\n  x\n", "a"), "\nx\n");
	CHECK_STR("literal keeps # lines", val("a: |\n  # not a comment\n# comment\n", "a"),
		"# not a comment\n");
	CHECK_STR("literal trailing spaces", val("a: |\n  x  \n", "a"), "x  \n");
	CHECK_STR("empty literal", val("a: |\nb: 2\n", "a"), "");
	/* the end of input ends the last line, as yaml-test-suite L24T has it */
	CHECK_STR("block scalar at EOF", val("a: |\n  x", "a"), "x\n");
	CHECK_STR("block scalar at EOF, strip", val("a: |-\n  x", "a"), "x");
	CHECK_STR("folded in seq", text(parse("- >-\n  a\n  b\n")->child[0]), "a b");
}

static void
anchors(void)
{
	const struct yaml_node *r = parse("a: &x {k: v}\nb: *x\nc: &s text\nd: *s\n");

	CHECK("alias is the anchored node", yaml_get(r, "a") == yaml_get(r, "b"));
	CHECK_STR("scalar alias", text(yaml_get(r, "d")), "text");
	r = parse("- &a one\n- &a two\n- *a\n");
	CHECK_STR("anchor redefined", text(r->child[2]), "two");
	r = parse("&k key: *k\n");
	CHECK_STR("anchor on key", text(yaml_get(r, "key")), "key");
	r = parse("k: &k\n  x: 1\nz: *k\n");
	CHECK("anchor on block map", r && yaml_get(r, "z")->kind == YAML_MAP);
	r = parse("*a : b\n");
	CHECK("alias before define fails", r == NULL && strstr(err, "unknown alias \"*a\""));
	r = parse("- &a x\n- *a : y\n");
	CHECK("alias as key", r && strcmp(text(r->child[1]->child[0]), "x") == 0);
	CHECK_STR("anchor scope is the document", efail("--- &a x\n--- *a\n"),
		"t.yaml:2:5: unknown alias \"*a\"");
}

static void
tags(void)
{
	const struct yaml_node *r = parse("- !!str 1\n- !!int 0x1f\n- !!float 1\n- !!bool true\n"
					  "- !!null ~\n- !!map {a: b}\n- !!seq [a]\n- ! 12\n"
					  "- !<tag:yaml.org,2002:str> 5\n- 12\n- !!str\n");

	CHECK("tag str",
		r->child[0]->tag == YAML_TAG_STR && yaml_resolve(r->child[0]) == YAML_TAG_STR);
	CHECK("tag int", yaml_resolve(r->child[1]) == YAML_TAG_INT);
	CHECK("tag float on int text", yaml_resolve(r->child[2]) == YAML_TAG_FLOAT);
	CHECK("tag bool", yaml_resolve(r->child[3]) == YAML_TAG_BOOL);
	CHECK("tag null", yaml_resolve(r->child[4]) == YAML_TAG_NULL);
	CHECK("tag map", r->child[5]->tag == YAML_TAG_MAP);
	CHECK("tag seq", r->child[6]->tag == YAML_TAG_SEQ);
	CHECK("non-specific tag is str", yaml_resolve(r->child[7]) == YAML_TAG_STR);
	CHECK("verbatim core tag", yaml_resolve(r->child[8]) == YAML_TAG_STR);
	CHECK("untagged", r->child[9]->tag == YAML_TAG_NONE);
	CHECK("tagged empty str",
		yaml_resolve(r->child[10]) == YAML_TAG_STR && r->child[10]->len == 0);
	r = parse("--- !!map\n&a !!str k: v\n");
	CHECK("props on their own line",
		r && r->tag == YAML_TAG_MAP && r->child[0]->tag == YAML_TAG_STR);
	CHECK("core tag names",
		r && (r = parse("- !!str 1\n- ! 2\n- 3\n")) && r->child[0]->tagname &&
			!strcmp(r->child[0]->tagname, "tag:yaml.org,2002:str") &&
			!strcmp(r->child[1]->tagname, "!") && r->child[2]->tagname == NULL);
	CHECK_STR("!!int mismatch", efail("a: !!int 1.5\n"),
		"t.yaml:1:10: \"1.5\" is not a valid !!int");
	CHECK_STR("!!bool mismatch", efail("a: !!bool yes\n"),
		"t.yaml:1:11: \"yes\" is not a valid !!bool");
	CHECK_STR("!!null mismatch", efail("a: !!null 0\n"),
		"t.yaml:1:11: \"0\" is not a valid !!null");
	CHECK_STR("!!float mismatch", efail("a: !!float x\n"),
		"t.yaml:1:12: \"x\" is not a valid !!float");
	CHECK_STR("!!map on scalar", efail("a: !!map x\n"),
		"t.yaml:1:4: tag !!map does not fit a scalar");
	CHECK_STR("!!str on seq", efail("a: !!str [x]\n"),
		"t.yaml:1:4: tag !!str does not fit a sequence");
}

/* The tag of node n as resolved: its enum and name. */
static int
tagged(const struct yaml_node *n, enum yaml_tag t, const char *name)
{
	return n && n->tag == t && n->tagname && !strcmp(n->tagname, name);
}

/* Tags other than the core schema's: local, verbatim, %TAG handles, the
 * other standard types, each recorded and checked against its node. */
static void
tags_more(void)
{
	const struct yaml_node *r;

	r = parse("- !foo x\n- !foo 12\n- !<tag:e.com,2000:t> y\n- !<!bar> z\n"
		  "- !!python/object w\n- !foo%21x v\n- !foo%0a u\n");
	CHECK("local tag", r && tagged(r->child[0], YAML_TAG_OTHER, "!foo"));
	CHECK("specific tag: not resolved",
		r && yaml_resolve(r->child[1]) == YAML_TAG_STR && r->child[1]->style == YAML_PLAIN);
	CHECK("verbatim global", r && tagged(r->child[2], YAML_TAG_OTHER, "tag:e.com,2000:t"));
	CHECK("verbatim local", r && tagged(r->child[3], YAML_TAG_OTHER, "!bar"));
	CHECK("unknown !! tag",
		r && tagged(r->child[4], YAML_TAG_OTHER, "tag:yaml.org,2002:python/object"));
	CHECK("%21 decoded", r && tagged(r->child[5], YAML_TAG_OTHER, "!foo!x"));
	CHECK("%0a kept", r && tagged(r->child[6], YAML_TAG_OTHER, "!foo%0a"));

	r = parse("%TAG !e! tag:e.com,2000:app/\n%TAG ! !my-\n--- !e!list\n- !e!a%21 x\n"
		  "- !light y\n- !!str z\n");
	CHECK("named handle", r && tagged(r, YAML_TAG_OTHER, "tag:e.com,2000:app/list"));
	CHECK("named handle, escape",
		r && tagged(r->child[0], YAML_TAG_OTHER, "tag:e.com,2000:app/a!"));
	CHECK("primary handle redefined", r && tagged(r->child[1], YAML_TAG_OTHER, "!my-light"));
	CHECK("secondary handle default",
		r && tagged(r->child[2], YAML_TAG_STR, "tag:yaml.org,2002:str"));
	r = parse("%TAG !! tag:e.com,2000:app/\n---\n!!int 1 - 3\n");
	CHECK("secondary handle redefined: !!int is not the core int",
		r && tagged(r, YAML_TAG_OTHER, "tag:e.com,2000:app/int") &&
			yaml_resolve(r) == YAML_TAG_STR);
	r = parse("%TAG !y! tag:yaml.org,2002:\n---\n!y!int 0x10\n");
	CHECK("a handle onto the core tags",
		r && r->tag == YAML_TAG_INT && yaml_resolve(r) == YAML_TAG_INT);
	CHECK_STR("%TAG is per document",
		efail("%TAG !e! tag:e.com,2000:\n--- !e!a x\n--- !e!b y\n"),
		"t.yaml:3:5: tag handle !e! is not defined by a %TAG directive");
	CHECK_STR("%TAG duplicate", efail("%TAG !e! a:\n%TAG !e! b:\n--- x\n"),
		"t.yaml:2:6: duplicate %TAG directive for !e!");
	CHECK_STR("%TAG bad handle", efail("%TAG !e a:\n--- x\n"),
		"t.yaml:1:6: %TAG needs a handle: !, !! or !name!");
	CHECK_STR("%TAG without prefix", efail("%TAG !e!\n--- x\n"),
		"t.yaml:1:9: %TAG needs a handle (!, !! or !name!) and then a prefix");
	CHECK_STR("%TAG bad prefix", efail("%TAG !e! a:{b}\n--- x\n"),
		"t.yaml:1:12: invalid character in a %TAG prefix");
	CHECK_STR("undefined handle", efail("- !e!foo x\n"),
		"t.yaml:1:3: tag handle !e! is not defined by a %TAG directive");
	CHECK_STR("handle without suffix", efail("%TAG !e! a:\n---\n- !e! x\n"),
		"t.yaml:3:3: tag !e! has no suffix");
	CHECK_STR("!! without suffix", efail("- !! x\n"), "t.yaml:1:3: tag !! has no suffix");
	CHECK_STR("verbatim !<!>", efail("- !<!> x\n"),
		"t.yaml:1:3: a verbatim tag must be a local tag (!name) or a URI");
	CHECK_STR("verbatim no scheme", efail("- !<$:?> x\n"),
		"t.yaml:1:3: a verbatim tag must be a local tag (!name) or a URI");
	CHECK_STR("verbatim unterminated", efail("- !<a:b x\n"),
		"t.yaml:1:3: unterminated or invalid verbatim tag");
	CHECK_STR("bad escape in a tag", efail("- !a%zz x\n"),
		"t.yaml:1:5: \"%\" in a tag must be followed by two hexadecimal digits");
	CHECK_STR("flow indicator in a block tag", efail("!invalid{}tag x\n"),
		"t.yaml:1:9: expected white space after a node property");
	CHECK_STR("tag then comma", efail("- !!str, x\n"),
		"t.yaml:1:8: expected white space after a node property");

	r = parse(
		"- !!set {a, ? b}\n- !!omap [a: 1, b: 2]\n- !!pairs [a: 1, a: 2]\n"
		"- !!binary aGVsbG8=\n- !!binary |\n  aGVs\n  bG8=\n"
		"- !!timestamp 2001-12-14t21:59:43.10-05:00\n- !!timestamp 2001-12-14\n"
		"- !!timestamp 2001-12-14 21:59:43.10 -5\n- !!timestamp 2001-12-15T02:59:43.1Z\n");
	CHECK("!!set",
		r && r->child[0]->tag == YAML_TAG_SET && yaml_resolve(r->child[0]) == YAML_TAG_MAP);
	CHECK("!!omap",
		r && r->child[1]->tag == YAML_TAG_OMAP &&
			yaml_resolve(r->child[1]) == YAML_TAG_SEQ);
	CHECK("!!pairs keeps duplicates",
		r && r->child[2]->tag == YAML_TAG_PAIRS && r->child[2]->n == 2);
	CHECK("!!binary is its text",
		r && r->child[3]->tag == YAML_TAG_BINARY &&
			yaml_resolve(r->child[3]) == YAML_TAG_STR &&
			!strcmp(r->child[4]->text, "aGVs\nbG8=\n"));
	CHECK("!!timestamp forms",
		r && r->n == 9 && r->child[5]->tag == YAML_TAG_TIMESTAMP &&
			yaml_resolve(r->child[8]) == YAML_TAG_STR);
	CHECK_STR("!!set with a value", efail("!!set {a: 1}\n"),
		"t.yaml:1:11: a value of !!set must be null");
	CHECK_STR("!!omap duplicate", efail("!!omap [a: 1, a: 2]\n"),
		"t.yaml:1:15: duplicate key \"a\"");
	CHECK_STR("!!omap item", efail("!!omap [a: 1, b]\n"),
		"t.yaml:1:15: an item of !!omap must be a one-pair mapping");
	CHECK_STR("!!pairs on a mapping", efail("a: !!pairs {a: 1}\n"),
		"t.yaml:1:4: tag !!pairs does not fit a mapping");
	CHECK_STR("!!binary text", efail("a: !!binary abc\n"),
		"t.yaml:1:13: \"abc\" is not a valid !!binary");
	CHECK_STR("!!timestamp date", efail("a: !!timestamp 2001-1-14\n"),
		"t.yaml:1:16: \"2001-1-14\" is not a valid !!timestamp");
	CHECK_STR("!!timestamp time", efail("a: !!timestamp 2001-12-14 21:59\n"),
		"t.yaml:1:16: \"2001-12-14 21:59\" is not a valid !!timestamp");
	CHECK_STR("message stops at a line break", efail("a: !!int \"1\\n2\"\n"),
		"t.yaml:1:10: \"1\" is not a valid !!int");
}

/* Explicit "? key" entries inside flow collections. */
static void
flow_explicit(void)
{
	const struct yaml_node *r = parse("[ ? foo\n bar : baz, ? a, ? , c ]");

	CHECK("flow seq explicit multi-line key",
		r && r->n == 4 && r->child[0]->kind == YAML_MAP &&
			!strcmp(r->child[0]->child[0]->text, "foo bar") &&
			!strcmp(r->child[0]->child[1]->text, "baz"));
	CHECK("flow seq explicit key alone",
		r && r->child[1]->kind == YAML_MAP && !strcmp(r->child[1]->child[0]->text, "a") &&
			yaml_resolve(r->child[1]->child[1]) == YAML_TAG_NULL);
	CHECK("flow seq empty explicit entry",
		r && r->child[2]->kind == YAML_MAP && r->child[2]->child[0]->len == 0);
	r = parse("{ ? a : 1, ? b, ? : 2, c: 3, ? d\n  e\n  : 4 }");
	CHECK("flow map explicit entries", r && r->kind == YAML_MAP && r->n == 10);
	CHECK_STR("flow map explicit value", text(yaml_get(r, "a")), "1");
	CHECK("flow map explicit without value", yaml_resolve(yaml_get(r, "b")) == YAML_TAG_NULL);
	CHECK_STR("flow map explicit empty key", text(yaml_get(r, "")), "2");
	CHECK_STR("flow map explicit multi-line key", text(yaml_get(r, "d e")), "4");
	r = parse("{ foo\n  bar: baz }");
	CHECK_STR("flow map implicit key over two lines", text(yaml_get(r, "foo bar")), "baz");
	CHECK_STR("flow seq implicit key stays on one line", efail("[ foo\n bar: baz ]"),
		"t.yaml:1:3: an implicit key must be on a single line");
	CHECK_STR("flow explicit collection key", efail("[ ? [a] : b ]"),
		"t.yaml:1:3: complex mapping keys are not supported");
	CHECK_STR("flow '?' needs a space", efail("{?}"),
		"t.yaml:1:2: unexpected character '?' in a flow collection");
	CHECK_STR("flow explicit duplicate", efail("{ ? a, a: 1 }"),
		"t.yaml:1:8: duplicate key \"a\"");
}

/* Block scalars with an indentation indicator at document level, where
 * YAML 1.2 and common parsers disagree: accepted only without content. */
static void
doc_indicator(void)
{
	const struct yaml_node *r = parse("--- |1-\n");

	CHECK("--- |1- empty", r && r->len == 0 && r->style == YAML_LITERAL);
	r = parse("--- >2+\n \n\n");
	CHECK("--- >2+ keeps empty lines", r && r->len == 2 && !strcmp(r->text, "\n\n"));
	r = parse("--- |1\n...\n--- x\n");
	CHECK("--- |1 then a document", doc && yaml_count(doc) == 2 && r && r->len == 0);
	CHECK_STR("--- >2 with text", efail("--- >2\n  text\n"),
		"t.yaml:1:5: an indentation indicator on a document-level block scalar is read two "
		"ways (YAML 1.2 counts from column -1, most parsers from 0): indent it under a key "
		"or leave it out");
	CHECK("--- |2 with a longer space line fails", *efail("--- |2\n  \n") != '\0');
	CHECK_STR("nested indicator unchanged", val("a: |1\n  x\n", "a"), " x\n");
	CHECK_STR("explicit value: sequence at the entry's indentation",
		text(yaml_get(parse("? a\n:\n- b\n"), "a")->child[0]), "b");
}

static void
documents(void)
{
	parse("");
	CHECK("empty stream", doc && yaml_count(doc) == 0);
	parse("# only a comment\n");
	CHECK("comment-only stream", doc && yaml_count(doc) == 0);
	parse("a\n---\nb\n...\n---\n...\n%YAML 1.2\n--- c\n");
	CHECK("multiple documents",
		doc && yaml_count(doc) == 4 && strcmp(text(yaml_root(doc, 1)), "b") == 0 &&
			yaml_root(doc, 2)->len == 0 && strcmp(text(yaml_root(doc, 3)), "c") == 0);
	CHECK("yaml_root out of range", yaml_root(doc, 4) == NULL);
	parse("---\n");
	CHECK("empty document is null",
		doc && yaml_count(doc) == 1 && yaml_resolve(yaml_root(doc, 0)) == YAML_TAG_NULL);
	CHECK_STR("%YAML 2.0", efail("%YAML 2.0\n---\n"),
		"t.yaml:1:7: unsupported YAML version \"2.0\"");
	CHECK_STR("directive without ---", efail("%YAML 1.2\na: b\n"),
		"t.yaml:2:1: directives must be followed by \"---\"");
	CHECK_STR("content after document", efail("- a\nb: c\n"),
		"t.yaml:2:1: expected the end of the document");
	CHECK_STR("CRLF", val("a: 1\r\nb: |\r\n  x\r\n  y\r\n", "b"), "x\ny\n");
	CHECK_STR("CRLF quoted", val("a: \"x\r\n  y\"\r\n", "a"), "x y");
	CHECK_STR("BOM", val("\xEF\xBB\xBFk: v\n", "k"), "v");
	parse("\xEF\xBB\xBFk: v\n");
	CHECK("BOM column", doc && yaml_root(doc, 0)->col == 1);
}

static void
resolve(void)
{
	static const struct {
		const char *s;
		enum yaml_tag t;
	} t[] = {
		{ "~", YAML_TAG_NULL },
		{ "null", YAML_TAG_NULL },
		{ "Null", YAML_TAG_NULL },
		{ "NULL", YAML_TAG_NULL },
		{ "", YAML_TAG_NULL },
		{ "nULL", YAML_TAG_STR },
		{ "true", YAML_TAG_BOOL },
		{ "False", YAML_TAG_BOOL },
		{ "TRUE", YAML_TAG_BOOL },
		{ "yes", YAML_TAG_STR },
		{ "on", YAML_TAG_STR },
		{ "0", YAML_TAG_INT },
		{ "-12", YAML_TAG_INT },
		{ "+3", YAML_TAG_INT },
		{ "0o17", YAML_TAG_INT },
		{ "0x1F", YAML_TAG_INT },
		{ "0o8", YAML_TAG_STR },
		{ "0x", YAML_TAG_STR },
		{ "1.5", YAML_TAG_FLOAT },
		{ "-.5", YAML_TAG_FLOAT },
		{ "1.", YAML_TAG_FLOAT },
		{ "1e3", YAML_TAG_FLOAT },
		{ "1.5E-3", YAML_TAG_FLOAT },
		{ ".inf", YAML_TAG_FLOAT },
		{ "-.Inf", YAML_TAG_FLOAT },
		{ ".NaN", YAML_TAG_FLOAT },
		{ "-.nan", YAML_TAG_STR },
		{ ".", YAML_TAG_STR },
		{ "1e", YAML_TAG_STR },
		{ "1_000", YAML_TAG_STR },
		{ "12:30", YAML_TAG_STR },
		{ "+", YAML_TAG_STR },
		{ "e3", YAML_TAG_STR },
	};
	char src[64], name[80];
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		snprintf(src, sizeof src, "k: %s\n", t[i].s);
		snprintf(name, sizeof name, "resolve \"%s\"", t[i].s);
		CHECK(name, parse(src) && yaml_resolve(yaml_get(yaml_root(doc, 0), "k")) == t[i].t);
	}
	CHECK("quoted is str", yaml_resolve(yaml_get(parse("k: '1'\n"), "k")) == YAML_TAG_STR);
	CHECK("block is str", yaml_resolve(yaml_get(parse("k: |\n  1\n"), "k")) == YAML_TAG_STR);
	CHECK("resolve map", yaml_resolve(parse("a: b")) == YAML_TAG_MAP);
	CHECK("resolve seq", yaml_resolve(parse("[]")) == YAML_TAG_SEQ);
}

/* Each malformed input fails with an exact FILE:LINE:COL: message. */
static void
errors(void)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "a: b: c\n", "t.yaml:1:5: mapping values are not allowed here" },
		{ "a: \"unterminated\n", "t.yaml:1:4: unterminated double-quoted scalar" },
		{ "a: 'x\n", "t.yaml:1:4: unterminated single-quoted scalar" },
		{ "a:\n\tb: c\n",
			"t.yaml:2:1: found a tab character where indentation is expected" },
		{ "a: 1\nb: 2\na: 3\n", "t.yaml:3:1: duplicate key \"a\"" },
		{ "{x: 1, x: 2}", "t.yaml:1:8: duplicate key \"x\"" },
		{ "a: *foo\n", "t.yaml:1:4: unknown alias \"*foo\"" },
		{ "? [a]\n: b\n", "t.yaml:1:1: complex mapping keys are not supported" },
		{ "x: 1\n? - a\n: b\n", "t.yaml:2:1: complex mapping keys are not supported" },
		{ "&x ? a\n: b\n", "t.yaml:1:4: properties cannot stand before \"?\"" },
		{ "[a]: b\n", "t.yaml:1:1: complex mapping keys are not supported" },
		{ "{a: b}: c\n", "t.yaml:1:1: complex mapping keys are not supported" },
		{ "a:\n  - \"x\"\n   - y\n", "t.yaml:3:4: bad indentation of a sequence entry" },
		{ "a:\n  b: \"1\"\n   c: 2\n", "t.yaml:3:4: bad indentation of a mapping entry" },
		{ "a:\n  b: 1\n   c: 2\n", "t.yaml:3:5: mapping values are not allowed here" },
		{ "a: [1, 2\n", "t.yaml:1:4: unterminated flow sequence" },
		{ "a: {b: 1\n", "t.yaml:1:4: unterminated flow mapping" },
		{ "[a b c,, d]", "t.yaml:1:8: unexpected character ',' in a flow collection" },
		{ "a: \"\\q\"\n", "t.yaml:1:5: unknown escape sequence \"\\q\"" },
		{ "a: \"\\x4g\"\n", "t.yaml:1:5: escape \"\\x\" needs 2 hexadecimal digits" },
		{ "a: \"\\uD800\"\n", "t.yaml:1:5: escape \"\\uD800\" is a lone UTF-16 surrogate" },
		{ "a: |0\n", "t.yaml:1:5: invalid indentation indicator (1 to 9)" },
		{ "a: |x\n", "t.yaml:1:5: invalid block scalar header" },
		{ "a: b\n- c\n", "t.yaml:2:1: block sequence entries are not allowed here" },
		{ "a: - b\n", "t.yaml:1:4: block sequence entries are not allowed here" },
		{ "a: \"b\"c\n", "t.yaml:1:7: unexpected text after a value" },
		{ "a: \"b\"#c\n",
			"t.yaml:1:7: a comment must be separated from content by white space" },
		{ "a: &x &y b\n", "t.yaml:1:7: a node can have only one anchor" },
		{ "a: &x *y\n", "t.yaml:1:7: an alias cannot have properties" },
		{ "a: @b\n", "t.yaml:1:4: character '@' cannot start a plain scalar" },
		{ "a: [b, |\n  c]\n",
			"t.yaml:1:8: block scalars are not allowed inside a flow collection" },
		{ "a: [b,\nc]\n",
			"t.yaml:2:1: bad indentation in a flow collection (opened on line 1 and not closed)" },
		{ "a: |\n   x\n  \n y\n", "t.yaml:4:2: bad indentation of a mapping entry" },
		{ "a: 1\nb\n", "t.yaml:2:1: could not find expected ':' after a mapping key" },
		{ "a: |\n    \n  x\n",
			"t.yaml:2:5: a leading empty line has more spaces than the first line of the block scalar" },
		{ "[\n---\n]", "t.yaml:2:1: document marker inside a flow collection" },
		{ "%YAML 1.2\n%YAML 1.2\n---\n", "t.yaml:2:1: duplicate %YAML directive" },
		{ "a\n b: c\n", "t.yaml:2:3: mapping values are not allowed here" },
		{ "-\t- a\n", "t.yaml:1:2: found a tab character where indentation is expected" },
	};
	char name[80];
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		snprintf(name, sizeof name, "error %zu: %.40s", i, t[i].want + 7);
		CHECK_STR(name, efail(t[i].in), t[i].want);
	}
}

static char *
repeat(const char *unit, size_t n, const char *tail)
{
	size_t u = strlen(unit), t = strlen(tail), i;
	char *s = malloc(u * n + t + 1);

	for (i = 0; i < n; i++)
		memcpy(s + i * u, unit, u);
	memcpy(s + n * u, tail, t + 1);
	return s;
}

/* Tags a hostile file could use to blow up memory or time. */
static void
tag_limits(void)
{
	char *s, *p;
	size_t i, n;
	const struct yaml_node *r;

	/* a 1 MB %TAG prefix under 40 distinct tags would be 40 MB of names */
	s = malloc(2 * 1024 * 1024);
	p = s + sprintf(s, "%%TAG !e! a:");
	memset(p, 'x', 1 << 20);
	p += 1 << 20;
	p += sprintf(p, "\n---\n");
	for (i = 0; i < 40; i++)
		p += sprintf(p, "- !e!t%zu x\n", i);
	CHECK("tag bytes limit", strstr(efail(s), "tags take more than 16777216 bytes") != NULL);
	/* the same tag on many nodes is stored once */
	p = s + sprintf(s, "%%TAG !e! tag:e.com,2000:\n---\n");
	for (i = 0; i < 20000; i++)
		p += sprintf(p, "- !e!t%zu x\n", i % 2);
	r = parse(s);
	for (n = 0, i = 2; r && i < r->n; i++)
		n += r->child[i]->tagname == r->child[i % 2]->tagname;
	CHECK("a repeated tag is stored once", r && r->n == 20000 && n == 19998);
	for (p = s, i = 0; i < 65; i++)
		p += sprintf(p, "%%TAG !h%zu! a:\n", i);
	sprintf(p, "--- x\n");
	CHECK_STR("%TAG directives limit", efail(s),
		"t.yaml:65:6: more than 64 %TAG directives for one document");
	free(s);
}

static void
limits(void)
{
	static const char bomb[] =
		"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		"i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	static const char garbage[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff\xfe";
	char *s;
	clock_t t0;
	size_t i;

	s = repeat("[", 10000, "");
	CHECK_STR("depth bomb (flow)", efail(s), "t.yaml:1:513: nesting deeper than 512 levels");
	free(s);
	s = repeat("- ", 10000, "x\n");
	CHECK("depth bomb (block)", strstr(efail(s), "nesting deeper than 512 levels") != NULL);
	free(s);
	s = repeat("[", 512, "");
	CHECK("512 levels are fine", strstr(efail(s), "unterminated flow sequence") != NULL);
	free(s);
	t0 = clock();
	CHECK_STR("alias bomb", efail(bomb), "t.yaml:7:28: alias expansion exceeds 4000000 nodes");
	CHECK("alias bomb fails fast", clock() - t0 < CLOCKS_PER_SEC / 2);
	CHECK_STR("NUL byte", fails("a: b\nc: d\0e\n", 12), "t.yaml:2:5: NUL byte in input");
	CHECK_STR("binary garbage", fails(garbage, sizeof garbage - 1),
		"t.yaml:1:1: invalid UTF-8 or non-printable character");
	CHECK_STR("invalid UTF-8", efail("a: \xc3\x28\n"),
		"t.yaml:1:4: invalid UTF-8 or non-printable character");
	CHECK_STR("overlong UTF-8", efail("a: \xc0\xaf\n"),
		"t.yaml:1:4: invalid UTF-8 or non-printable character");
	CHECK_STR("control char", efail("a: b\x01\n"),
		"t.yaml:1:5: control character 0x01 is not allowed");
	CHECK("input size limit",
		fails("", (size_t)YAML_MAX_INPUT + 1) != NULL &&
			strstr(err, "input is larger than") != NULL);
	s = repeat("x", 10 << 20, "\n");
	memcpy(s, "a: ", 3);
	CHECK("10 MB line parses",
		parse(s) && yaml_get(yaml_root(doc, 0), "a")->len == (10 << 20) - 3);
	free(s);
	s = repeat(",a", 5 << 20, "]");
	s[0] = '[';
	CHECK("10 MB flow line fails cleanly",
		strstr(efail(s), "document has more than 4000000 nodes") != NULL);
	free(s);
	s = malloc(20000 * 16 + 1);
	for (i = 0; i < 20000; i++)
		sprintf(s + i * 16, "key%-9zu: 1\n", i);
	CHECK("20000 keys", parse(s) && yaml_root(doc, 0)->n == 40000);
	memcpy(s + 19999 * 16, "key0     ", 9);
	CHECK_STR("duplicate among 20000 keys", efail(s), "t.yaml:20000:1: duplicate key \"key0\"");
	free(s);
	tag_limits();
}

int
main(void)
{
	kinds();
	explicit_keys();
	styles();
	positions();
	escapes();
	blockscalars();
	anchors();
	tags();
	tags_more();
	flow_explicit();
	doc_indicator();
	documents();
	resolve();
	errors();
	limits();
	yaml_free(doc);
	UNIT_EXIT();
}
