//! Black-box tests: the real service on port 0 with its own database.
