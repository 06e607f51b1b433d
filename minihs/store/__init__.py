"""Storage: all the SQL of minihs and nothing else. One module per table group, the schema and
its migrations, and the connection with its group commit. Imports nothing of the domain.
"""
