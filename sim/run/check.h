/* check: `metersim --check SCENARIO...` loads and validates scenarios as a
 * run would (its CSV profiles included) and runs nothing: a CI step or an
 * editor checks a scenario, or a fleet's rendered shards, before they run.
 *
 *   files --> scenario_load_opts(all_errors) --> "FILE: ok ..." on stdout
 *                                            \-> every error, one a line,
 *                                                FILE:LINE:COL: PATH: what
 *
 * Exit status: 0 every file is valid; 2 an error in one of them, or a bad
 * command line (docs/cli.md). Known limits: what only the run meets is not
 * checked (a TCP port in use, a pty path that cannot be made, a state file).
 */
#ifndef METERSIM_CHECK_H
#define METERSIM_CHECK_H

/* True when argv holds --check: main() hands the command line to check_main. */
int check_wanted(int argc, char **argv);

/* --check and its files or library names (and --allow-outside-paths,
 * --scenario FILE): the
 * exit status. */
int check_main(int argc, char **argv);

#endif
