from vlmeval.cli import entry

entry()
