"""The IR: the one contract between the front end and every backend."""
