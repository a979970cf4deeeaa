/* tool - a stand-in for the static programs of a FROM scratch image that
 * walter runs without a shell (examples/Containerfile, container.yml).
 * tests/sys/container.sh builds it with musl-gcc -static.
 *
 *   tool echo WORD...           print the words on one line
 *   tool prefix TEXT            copy stdin to stdout, TEXT before each line
 *   tool bytes N                write N bytes ('x', a newline every 64)
 *   tool count                  print how many bytes stdin held
 *   tool sleep SECONDS [FILE]   create FILE (when given), then sleep
 *   tool exit N                 exit with status N
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
usage(void)
{
	fputs("usage: tool echo|prefix|bytes|count|sleep|exit ...\n", stderr);
	return 2;
}

int
main(int argc, char **argv)
{
	char line[4096];
	long n, i;
	int fd;

	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "echo")) {
		for (i = 2; i < argc; i++)
			printf("%s%s", argv[i], i + 1 < argc ? " " : "");
		putchar('\n');
	} else if (!strcmp(argv[1], "prefix") && argc == 3) {
		while (fgets(line, sizeof line, stdin))
			printf("%s%s", argv[2], line);
	} else if (!strcmp(argv[1], "bytes") && argc == 3) {
		for (n = atol(argv[2]), i = 1; i <= n; i++)
			putchar(i % 64 ? 'x' : '\n');
	} else if (!strcmp(argv[1], "count") && argc == 2) {
		for (n = 0; getchar() != EOF; n++)
			;
		printf("%ld\n", n);
	} else if (!strcmp(argv[1], "sleep") && (argc == 3 || argc == 4)) {
		if (argc == 4) {
			if ((fd = open(argv[3], O_WRONLY | O_CREAT, 0644)) < 0) {
				perror(argv[3]);
				return 1;
			}
			close(fd);
		}
		sleep((unsigned)atoi(argv[2]));
	} else if (!strcmp(argv[1], "exit") && argc == 3) {
		return atoi(argv[2]);
	} else {
		return usage();
	}
	return fflush(stdout) ? 1 : 0;
}
