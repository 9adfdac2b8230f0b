"""The `symloss` command line (installed as package `symloss_cli`)."""
