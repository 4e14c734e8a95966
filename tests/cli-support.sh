# Sourced by the CLI test scripts (tests/checkpoints, tests/lm): checks on one command's failure.
# The sourcing script defines fail MESSAGE (prints and exits 1).

# $1: exit code wanted, $2: text stderr must contain; the rest: the command. Exactly one line on stderr.
expect_error() {
    local code=$1 text=$2
    shift 2
    "$@" >out.txt 2>err.txt
    local got=$?
    [ "$got" -eq "$code" ] || fail "exit $got, wanted $code: $* -- $(cat err.txt)"
    [ "$(wc -l <err.txt)" -eq 1 ] || fail "stderr is not one line: $* -- $(cat err.txt)"
    grep -qF -- "$text" err.txt || fail "stderr lacks '$text': $(cat err.txt)"
}
