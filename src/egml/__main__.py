"""`python -m egml ...`: the Hydra application (see egml.cli)."""

from egml.cli import main

if __name__ == "__main__":
    main()
