"""The ``signoff`` command line: a thin edge that parses input, calls ``Registry`` and prints."""
