/*
 * xsb-config: the configuration, as every program reads it.
 *
 *   xsb-config --check   load it like a server would; print it with secrets
 *                        masked, or the first error (exit 1)
 *   xsb-config --doc     print the table of settings as Markdown
 */
#include <stdio.h>
#include <string.h>

#include "core/cfg.h"
#include "core/crypto.h"

int
main(int argc, char *argv[])
{
	struct cfg	*cfg = NULL;
	char		 err[256];

	if (argc == 2 && strcmp(argv[1], "--doc") == 0) {
		cfg_doc(stdout);
		return 0;
	}
	if (argc != 2 || strcmp(argv[1], "--check") != 0) {
		fprintf(stderr, "usage: xsb-config --check | --doc\n");
		return 2;
	}
	if (crypto_init() != XERR_OK)
		return 1;
	if (cfg_load(&cfg, err, sizeof(err)) != XERR_OK) {
		fprintf(stderr, "xsb-config: %s\n", err);
		return 1;
	}
	cfg_dump(cfg, stdout);
	cfg_free(cfg);
	return 0;
}
