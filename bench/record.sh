# Sourced by the bench scripts (not run): `bench_record KEY VALUE [UNIT]` appends one line
#   KEY <TAB> VALUE <TAB> UNIT <TAB> COMMAND <TAB> LOAD
# to the file $BENCH_SUMMARY names (nothing when it is unset), for bench/summary.sh, which
# `make bench` runs last. COMMAND is the script's own command line (BENCH_COMMAND overrides
# it), LOAD the 1/5/15-minute load averages when the number was recorded. Keys are dotted,
# lower case, the first part the bench's name (scan.default.fleet.wall_s); bench/README.md
# lists the ones the summary table reads. Sourcing sees the script's own arguments.
BENCH_COMMAND=${BENCH_COMMAND:-$(printf '%s' "${0#./}"; [ $# -eq 0 ] || printf ' %s' "$@")}
bench_record() {
    [ -n "${BENCH_SUMMARY:-}" ] || return 0
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "${3:-}" "$BENCH_COMMAND" \
        "$(cut -d' ' -f1-3 /proc/loadavg)" >> "$BENCH_SUMMARY"
}
