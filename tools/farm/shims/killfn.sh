kill() { if [ "$#" = 2 ] && [ "$1" = -9 ] && [ "$2" -gt 4194304 ] 2>/dev/null; then /usr/bin/python3 "${FLEET_FARM_HOME}/farmlib.py" kill "${FLEET_SYSROOT%/root}" "$2"; else command kill "$@"; fi; }
