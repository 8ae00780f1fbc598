"""In-memory fakes of Seamline's ports, shipped in the package (unit tests, contract suites)."""
