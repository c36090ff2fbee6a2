"""The `nnspec` command line: `main` parses, and each verb is one module with `register`."""
