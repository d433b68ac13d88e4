import sys

from codealign.cli import main

sys.exit(main())
