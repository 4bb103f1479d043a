import sys

from flows.cli import main

if __name__ == "__main__":  # not in worker processes that re-import the main module (Dask, multiprocessing spawn)
    sys.exit(main())
