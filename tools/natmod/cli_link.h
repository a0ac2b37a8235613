/* Link and write a .nmod: shared by `natmod link` and `natmod build`. */
#ifndef NATMOD_CLI_LINK_H
#define NATMOD_CLI_LINK_H

#include "link/link.h"

/* Link with opt and write out_path; prints a summary unless quiet.
 * Returns the exit status (0 or the positive NM_ERR_*). */
int cli_link_write(const nml_options_t *opt, const char *out_path, int quiet);

#endif
