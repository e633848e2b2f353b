# A Python component: reads a data file and prints its line count; on an I/O error it prints a
# clear message and exits 4 instead of a traceback.
import sys
try:
    with open(sys.argv[1]) as f:
        print(sum(1 for _ in f))
except OSError as e:
    print(f"cannot read {sys.argv[1]}: {e.strerror}", file=sys.stderr)
    sys.exit(4)
