"""fakelib's declaration of one of its layers, with a shape rule. No torch here."""

from nnspec import Arg, declare_layer

declare_layer("fakelib.ops:StochasticDepth", [Arg("p", "float"), Arg("mode", "str")],
              shape=lambda a, inputs: inputs[0], params=lambda a: 0)
