/* yaml_mini.h - a small, fail-closed YAML 1.2 parser into a positioned tree.
 *
 * The parser never exits and never prints: on failure it returns NULL and
 * writes "FILE:LINE:COL: message" into the caller's buffer.  All nodes of a
 * parse live in one arena owned by the struct yaml_doc and freed at once. */
#ifndef YAML_MINI_H
#define YAML_MINI_H

#include <stddef.h>

enum yaml_kind { YAML_SCALAR, YAML_SEQ, YAML_MAP };

/* How the node was written. Collections are YAML_BLOCK or YAML_FLOW. */
enum yaml_style {
	YAML_PLAIN,
	YAML_SINGLE,
	YAML_DOUBLE,
	YAML_LITERAL,
	YAML_FOLDED,
	YAML_BLOCK,
	YAML_FLOW
};

/* Explicit tags: the core schema's, the other standard types of the YAML
 * tag repository, and OTHER for any other tag (local "!foo" or global). */
enum yaml_tag {
	YAML_TAG_NONE,
	YAML_TAG_STR,
	YAML_TAG_INT,
	YAML_TAG_FLOAT,
	YAML_TAG_BOOL,
	YAML_TAG_NULL,
	YAML_TAG_MAP,
	YAML_TAG_SEQ,
	YAML_TAG_BINARY,    /* base64 text in a scalar */
	YAML_TAG_TIMESTAMP, /* 2001-12-14t21:59:43.10-05:00 and the like */
	YAML_TAG_SET,       /* a mapping whose values are all null */
	YAML_TAG_OMAP,      /* a sequence of one-pair mappings, keys unique */
	YAML_TAG_PAIRS,     /* a sequence of one-pair mappings */
	YAML_TAG_OTHER
};

struct yaml_node {
	enum yaml_kind kind;
	enum yaml_style style;
	enum yaml_tag tag;        /* explicit tag: NONE if untagged; "!" is STR on a
				   * scalar, NONE on a collection */
	int line, col;            /* 1-based position of the node's content */
	const char *text;         /* scalar: content, NUL-terminated */
	size_t len;               /* scalar: bytes in text (it may hold NULs) */
	struct yaml_node **child; /* seq: items; map: key, value, key, value... */
	size_t n;                 /* seq: item count; map: 2 * pair count */
	/* The tag as resolved through %TAG ("tag:yaml.org,2002:str", "!foo",
	 * "tag:example.com,2000:app/x"), "!" for the non-specific tag, NULL
	 * when untagged. Explicit tags are checked against the content: a
	 * !!int must be an integer, a !!set a mapping of nulls, and so on. */
	const char *tagname;
};

struct yaml_doc;

/* Limits that a hostile file cannot exceed (each is a located error). */
enum {
	YAML_MAX_DEPTH = 512,        /* nesting of collections */
	YAML_MAX_NODES = 4000000,    /* nodes after alias expansion */
	YAML_MAX_INPUT = 64 << 20,   /* bytes of input */
	YAML_MAX_TAGDIRS = 64,       /* %TAG directives of one document */
	YAML_MAX_TAGBYTES = 16 << 20 /* distinct resolved tags, in bytes */
};

/* Parse every document in buf[0..len); file names the input in messages.
 * Returns NULL on error with "FILE:LINE:COL: message" in err. Free with
 * yaml_free. Aliases point at the anchored node (the tree is a DAG). */
struct yaml_doc *yaml_parse(
	const char *buf, size_t len, const char *file, char *err, size_t errlen);

/* Number of documents in a parse (0 for an empty stream). */
size_t yaml_count(const struct yaml_doc *doc);

/* Root node of document i (< yaml_count); an empty document is a plain
 * scalar "" (null). Valid until yaml_free. */
const struct yaml_node *yaml_root(const struct yaml_doc *doc, size_t i);

/* Free a parse and every node in it. NULL is allowed. */
void yaml_free(struct yaml_doc *doc);

/* Core-schema type of a node: its explicit core tag; for an untagged plain
 * scalar NULL/BOOL/INT/FLOAT/STR by the YAML 1.2 core schema; quoted and
 * block scalars STR; collections MAP/SEQ. Other tags give the type of the
 * untagged form (a !!set is a MAP, !!omap and !!pairs a SEQ), except that
 * a scalar with a specific tag is not resolved: !!binary, !!timestamp and
 * OTHER scalars are STR. */
enum yaml_tag yaml_resolve(const struct yaml_node *n);

/* Value of key in a mapping (scalar key compared by text), NULL if the node
 * is not a mapping or has no such key. Merge keys are not followed. */
const struct yaml_node *yaml_get(const struct yaml_node *map, const char *key);

#endif
