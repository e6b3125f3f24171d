"""Small types every layer shares: invalid input, a secret value, log-once.

Uses nothing else of the package.
"""
