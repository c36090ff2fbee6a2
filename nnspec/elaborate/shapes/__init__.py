"""The shape pass: every forward run over shapes, without torch, checking shapes and dtypes
and recording what omitted arguments the inputs imply (`walker`, `steps`, `symbolic`)."""
