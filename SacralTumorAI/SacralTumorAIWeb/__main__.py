import sys

from sacral_tumor_ai.cli import main

sys.exit(main(["web", *sys.argv[1:]]))
