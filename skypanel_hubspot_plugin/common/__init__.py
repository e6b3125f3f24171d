"""Small pieces every layer shares: invalid input, a secret value and its scrubber,
log-once, the JSON body parser, the database URL check.

Uses nothing else of the package.
"""
