"""Runtime backend: real `nn.Module` classes, by executing the generated source."""
