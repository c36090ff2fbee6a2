"""Front end: YAML with source positions, `extends`, `--set`, and the pydantic validation."""
