"""scripthost: a WebAssembly-sandboxed polyglot script host."""

__version__ = "0.1.0"
