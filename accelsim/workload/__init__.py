"""Workloads: ops of training iterations in a dependency graph, from the zoo or from files."""
