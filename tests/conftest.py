"""The bench's own tests and the acceptance suite share the mailbench plugin
(registered as a pytest11 entry point by ``pip install -e .``)."""
