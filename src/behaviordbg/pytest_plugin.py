"""pytest plugin: collects probe suites as tests (see issue 7)."""
