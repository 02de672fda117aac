from gridlab.cli import entry

entry()
