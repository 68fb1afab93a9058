/* version: the program's version, as `metersim --version` prints it.
 *
 * VERSION at the top of the source, and the commit it was built from where
 * the source is a git checkout: "0.9.0 (git 751e2be-dirty)" (mk/version.sh).
 * The Makefile compiles version.c with it, and that one file alone is
 * rebuilt when it changes.
 */
#ifndef METERSIM_VERSION_H
#define METERSIM_VERSION_H

const char *version_string(void);

#endif
