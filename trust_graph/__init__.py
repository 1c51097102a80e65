"""A pure library over a vouching graph: vetting policy, explainable paths, flow metric."""
