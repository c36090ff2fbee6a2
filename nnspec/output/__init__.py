"""The one write path for every file nnspec writes."""
