# Nothing to generate for the stand-in.
