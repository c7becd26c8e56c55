"""The optimizers a weight-update op can model, with their state and arithmetic per parameter.

Kept apart from :mod:`accelsim.workload.training` so that the command line can list the
choices without importing the workload graph.
"""

#: Optimizers: (fp32 state tensors per parameter, vector ops per parameter).
#: sgd: w -= lr*g (2). momentum: v = mu*v + g; w -= lr*v (4). adam: m and v moments (5),
#: bias corrections (2), sqrt, add eps, divide, scale, subtract (5) = 12.
OPTIMIZERS = {"sgd": (0, 2.0), "momentum": (1, 4.0), "adam": (2, 12.0)}
