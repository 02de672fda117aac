import sys

from gridlab.cli import main

sys.exit(main())
