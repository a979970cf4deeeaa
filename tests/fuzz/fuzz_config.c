/* libFuzzer target: config loading (dialects, stages, include/require,
 * $VAR substitution, wait_for string and mapping forms) on arbitrary
 * pipeline text. walter.c is included so its static functions are here. */
#define main walter_main
#include "../../walter.c"
#undef main

static void
reset(void)
{
	free(cfg.tasks), free(cfg.specials), free(cfg.nt);
	memset(&cfg, 0, sizeof cfg);
	memset(&svc, 0, sizeof svc);
	arena_free();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	/* run with -close_fd_mask=2: walter's located messages are noise here */
	setenv("FUZZ_VAR", "value", 1);
	/* a commit status notifier without a sha would run git rev-parse */
	setenv("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567", 1);
	setenv("CI_COMMIT_SHA", "0123456789abcdef0123456789abcdef01234567", 1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct ctx c = { 0 };
	struct yaml_node n = { 0 };
	struct waitfor w;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	load_text("fuzz.yml", s, size);
	reset();
	/* the same bytes as a $VAR string and as a one-line wait_for */
	c.file = "fuzz.yml";
	n.kind = YAML_SCALAR, n.style = YAML_PLAIN, n.text = s, n.len = strlen(s);
	n.line = n.col = 1;
	(void)subst(&c, &n, s);
	(void)subst_specials(&c, &n, s);
	wait_parse(&c, &w, &n);
	reset();
	free(s);
	return 0;
}
