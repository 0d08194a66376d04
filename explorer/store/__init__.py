"""The vector store (Chroma, in-process or a server) and the SQLite it needs on old systems."""
