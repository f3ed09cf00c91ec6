#!/bin/sh
# Tests scripts/lint-layers: the library as it is passes; copies of it with
# one planted breach (an include pointing up, one naming no layer, one
# naming a folder that is not a layer, a file outside the layers, SQL in
# remote/, the request context below app/, a statement run outside store/)
# fail,
# and the message names the file, the line and the rule.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
lint=$root/scripts/lint-layers
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# Runs the lint on a fresh copy of common/ after the command in $1 changed
# it; expects exit status $2 and, when $3 is set, that text in the output.
check() {
	rm -rf "$tmp/common"
	cp -R "$root/common" "$tmp/common"
	(cd "$tmp" && sh -c "$1")
	set +e
	out=$(cd "$tmp" && "$lint" common 2>&1)
	rc=$?
	set -e
	if [ "$rc" -ne "$2" ]; then
		echo "FAIL: $1: exit $rc, expected $2: $out"
		fail=1
	elif [ -n "${3:-}" ] && ! printf '%s\n' "$out" | grep -qF -- "$3"; then
		echo "FAIL: $1: no \"$3\" in: $out"
		fail=1
	else
		echo "ok   ${1:-as it is}"
	fi
}

check "" 0
check "sed -i '1i #include \"app/billing.h\"' common/core/buf.c" 1 \
    'common/core/buf.c:1: #include "app/billing.h" points up: core may include only core ('
check "sed -i '1i #include \"domain/money.h\"' common/remote/stripe.h" 1 \
    'common/remote/stripe.h:1: #include "domain/money.h" points up'
check "sed -i '1i #include \"buf.h\"' common/domain/money.c" 1 \
    'common/domain/money.c:1: #include "buf.h" must name its layer'
check "sed -i '1i #include \"util/x.h\"' common/app/auth.c" 1 \
    'common/app/auth.c:1: #include "util/x.h": "util" is not a layer'
check "echo 'int x;' > common/stray.c" 1 \
    'common/stray.c: a source file outside the layer folders'
check "sed -i '1i #include \"core/req.h\"' common/domain/jobs.c" 1 \
    'common/domain/jobs.c:1: #include "core/req.h": only handlers (app/) see the request context'
check "sed -i '1i #include \"core/req.h\"' common/remote/stripe.c" 1 \
    'common/remote/stripe.c:1: #include "core/req.h": only handlers'
check "sed -i '1i #include \"store/stmt.h\"' common/remote/twilio.c" 1 \
    'common/remote/twilio.c:1: #include "store/stmt.h": remote may include only core remote'
check "sed -i '1i #include \"store/stmt.h\"' common/app/auth.c" 0
check "echo 'static int x = STMT_USER_GET;' >> common/domain/usage.c" 1 \
    'common/domain/usage.c:'
check "echo 'void f(struct db_res *r) { (void)db_res_rows(r); }' >> common/app/auth.c" 1 \
    'only store/ runs statements and reads columns'
check "echo '/* Errors of db_exec(). */' >> common/domain/usage.c" 0
check "sed -i '1i #include \"remote/smtp.h\"' common/domain/usage.c" 0
check "sed -i '1i #include \"core/req.h\"' common/core/route.c" 0

exit "$fail"
