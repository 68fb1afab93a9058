#!/bin/sh
# Every scenario of the library and of the tests that must run is valid under
# docs/scenario.schema.json, so the schema stays the format's true description.
# Speaks TAP.
set -u
n=0
for f in scenarios/*.json tests/scenarios/pass/*.json tests/scenarios/fail/*.json tests/scenarios/year/*.json; do
    n=$((n + 1))
    if out=$(/usr/bin/python3 - "$f" 2>&1 <<'PY'
import json, sys, jsonschema
schema = json.load(open("docs/scenario.schema.json"))
jsonschema.validate(json.load(open(sys.argv[1])), schema, cls=jsonschema.Draft202012Validator)
PY
); then echo "ok $n - $f follows the schema"; else echo "not ok $n - $f: $(echo "$out" | tail -1)"; fi
done
echo "1..$n"
