#!/bin/sh
# Every C file of the project is formatted as .clang-format says; prints the
# files that are not (and how to fix them) and exits 1 if there is one.
set -u
cd "$(dirname "$0")/../.."
command -v clang-format >/dev/null || {
    echo "clang-format is missing (make deps)"
    exit 1
}
bad=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find core sim frontends tests bench tools -name '*.[ch]'); do
    case $f in *node_modules*) continue ;; esac
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "$f: not formatted (clang-format -i $f)"
        bad=1
    fi
done
exit $bad
