"""Import existing models into specs: from a printed module tree, or from a live nn.Module."""
