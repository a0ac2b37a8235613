/* Link and write a .nmod: shared by `natmod link` and `natmod build`. */
#ifndef NATMOD_CLI_LINK_H
#define NATMOD_CLI_LINK_H

#include "cli_sign.h"
#include "link/link.h"

/* Link with opt, give the module sign's trailer (version, signature; may
 * be NULL) and write out_path; prints a summary unless quiet.
 * Returns the exit status (0 or the positive NM_ERR_*). */
int cli_link_write(const nml_options_t *opt, const cli_sign_t *sign, const char *out_path, int quiet);

/* The --sign / --version lines of build's, link's and pack's --help. */
#define CLI_SIGN_HELP \
    "  --sign NAME.key   sign the module (natmod keygen; docs/trust.md)\n" \
    "  --version N       module version, 0..4294967295 (default 0): boards refuse an older one\n"


#endif
