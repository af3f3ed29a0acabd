"""The xAPI Learning Record Store served at /xapi, and its mapping to learning records."""
