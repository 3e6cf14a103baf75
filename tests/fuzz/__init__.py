"""Coverage-guided fuzzing of the parsers that face the outside world (`make fuzz`).

Not part of `make test`: each target runs for a bounded time under atheris
(libFuzzer), and any exception but the ones the parser documents is a crash whose
input libFuzzer writes under var/fuzz/<target>/. The property tests in
tests/unit/test_properties.py check the same rules on every `make test`.
"""
