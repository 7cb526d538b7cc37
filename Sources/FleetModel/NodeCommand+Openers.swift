/// The per-process /proc files a capture folder holds for each opener (`proc-PID-stat.txt`, …).
public enum ProcFile: String, Sendable, Hashable, CaseIterable {
    case stat, status, wchan, cmdline, comm, fdinfo
}

extension NodeCommand {
    /// Upper bound on the fds the openers section reports (a node where thousands of
    /// processes hold raw block devices says so instead of flooding the frame).
    public static let openersFDLimit = 4096
    /// Seconds `find` may spend walking `/proc/[0-9]*/fd` (nodes with many thousands of processes).
    public static let openersFindSeconds = 15

    /// The `proc-openers` section (format: ``OpenersParser``). One `find` lists every fd whose
    /// link is a dm, sd or mapper device; then per process, builtins read wchan and each fd's
    /// fdinfo flags, and one `od` each sends its stat and cmdline as hex (a name or argument
    /// may hold any byte). Only a `dd` has its environment read, for the `FLEET_PROBE` marker
    /// fleet's own probes carry. Bounded: `find` by its own `timeout`, the list by
    /// ``openersFDLimit``; either limit, and any error of `find` other than a process that
    /// went away meanwhile, is an `X` line, so a partial list is never taken for a complete one.
    /// No single quotes inside: the text travels single-quoted to `r`.
    static let openersScript = """
    echo O 1
    timeout -s KILL \(openersFindSeconds) find "$R"/proc/[0-9]*/fd "(" -lname "/dev/dm-*" -o -lname "/dev/sd*" -o -lname "/dev/mapper/*" ")" -printf "%h %f %l\\n" >"$T/of" 2>"$T/oe"
    o_x=$?
    case $o_x in 0|1) ;; *) echo "X find exit $o_x";; esac
    o_n=0
    while read -r o_l; do case $o_l in *"No such file or directory"*) ;; *) o_n=$((o_n+1)); [ $o_n -gt 3 ] || echo "X find: $o_l";; esac; done <"$T/oe"
    [ $o_n -le 3 ] || echo "X find: $((o_n-3)) more errors"
    o_n=0; o_s=" "
    while read -r o_d o_f o_l; do
      o_p=${o_d%/fd}; o_p=${o_p##*/}
      case $o_p in ""|*[!0-9]*) continue;; esac
      case $o_f in ""|*[!0-9]*) continue;; esac
      o_n=$((o_n+1))
      if [ $o_n -gt \(openersFDLimit) ]; then echo "X limit \(openersFDLimit) fds"; break; fi
      case $o_s in *" $o_p "*) ;; *)
        o_s="$o_s$o_p "
        o_w=-; read -r o_w <"$R/proc/$o_p/wchan" || :; [ -n "$o_w" ] || o_w=-
        o_e=-; o_t=; read -r o_t <"$R/proc/$o_p/stat" || :
        case $o_t in *" (dd) "*)
          o_e=$(tr "\\0" "\\n" <"$R/proc/$o_p/environ" | while read -r o_v; do case $o_v in FLEET_PROBE=*) echo "${o_v#FLEET_PROBE=}"; break;; esac; done)
          case $o_e in ""|*[!0-9a-f]*) o_e=-;; esac;;
        esac
        echo "P $o_p $o_w $o_e" $(od -An -v -tx1 "$R/proc/$o_p/stat")
        echo "C $o_p" $(od -An -v -tx1 "$R/proc/$o_p/cmdline");;
      esac
      o_g=-
      while read -r o_k o_v; do case $o_k in flags:) o_g=$o_v; break;; esac; done <"$R/proc/$o_p/fdinfo/$o_f"
      echo "F $o_p $o_f $o_g $o_l"
    done <"$T/of"
    """
}
