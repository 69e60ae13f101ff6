"""The ``lanza`` command line: one module per command group."""
