"""Test helpers for users of the provider: the pytest plugin (fixtures ``pictory_emulator`` and
``pictory_connection``, registered through the ``pytest11`` entry point)."""
