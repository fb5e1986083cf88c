"""``thunderline`` — the command line: thin commands over the core library and Dagster.

Outside the core (``thunderline/`` never imports Dagster) and outside the assets: commands
may drive a Dagster instance, the assets never import a command.
"""
