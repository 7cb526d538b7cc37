LC_ALL=C; export LC_ALL
PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/sbin:/sbin"; export PATH
R="${FLEET_SYSROOT:-}"
T=$(mktemp -d "${TMPDIR:-/tmp}/fleet.XXXXXX") || exit 70
trap 'rm -rf "$T"' EXIT
e() { printf 'FLEET1:x:%s:%s:%s:%s\n' "$1" "$2" $(wc -c <"$T/$1.o") $(wc -c <"$T/$1.e"); cat "$T/$1.o" "$T/$1.e"; }
r() { eval "$2" >"$T/$1.o" 2>"$T/$1.e" </dev/null; e "$1" $?; }
r a 'multipath -ll'
r b 'multipathd show maps json'
r c 'dmsetup info -c'
r d 'dmsetup status'
r e 'lsblk -J -o NAME,KNAME,TYPE,SIZE,WWN,HCTL,STATE,MOUNTPOINT,PKNAME'
r f 'ls -l "$R/sys/block/"'
r g 'ls -l "$R/dev/disk/by-id/"'
r h 'cat "$R/proc/mounts"'
for p in "$R"/sys/block/sd*; do n=${p##*/}; r "s-$n" 'cat "$R/sys/block/"$n/device/state'; done
for p in "$R"/sys/block/dm-*; do n=${p##*/}; r "d-$n" 'ls "$R/sys/block/"$n/slaves "$R/sys/block/"$n/holders'; r "u-$n" 'cat "$R/sys/block/"$n/dm/name "$R/sys/block/"$n/dm/uuid'; done
printf 'FLEET1:x:END\n'
