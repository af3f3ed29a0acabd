"""Repository-wide pytest set-up: the kit's fixtures are available to every test folder."""

pytest_plugins = ["pilnveide_kit.pytest_plugin"]
