"""The ``dangan`` command line: typer commands that load settings at the edge and call flows or the library.

``cli.app`` holds the top-level commands and ``run`` (the console-script entry point); each other module adds one
command group (``extract``, ``fixity``, ``keys``, ``replicate``, ``transfer``, ``web``); ``cli.support`` is what
they share (settings, consoles, failing with an operator message).
"""
