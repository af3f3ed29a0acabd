"""A tiny service built with the kit, used only by the kit's own tests."""
