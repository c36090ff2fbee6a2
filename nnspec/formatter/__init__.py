"""The in-house Python formatter that lays generated statements out as `ruff format` would."""
