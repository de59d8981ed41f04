"""gr00t-sm subcommands, one module each."""
