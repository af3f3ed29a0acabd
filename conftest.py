"""Repository-wide pytest set-up: the kit's fixtures are available to every test folder."""

# Import the real packages first: in importlib mode pytest names gateway/tests/x.py
# "gateway.tests.x" and would otherwise fabricate an empty "gateway" module that shadows ours.
import catalog
import gateway
import indicators
import learning_records

pytest_plugins = ["pilnveide_kit.pytest_plugin"]

__all__ = ["catalog", "gateway", "indicators", "learning_records"]
