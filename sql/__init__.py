# The migrations, as the package `assistant.db.sql` (mapped in pyproject.toml), so that
# a wheel ships them and they are read with importlib.resources.
