"""The terminal adapter: `rag` (cli.main) and its chat (cli.chat), over the library in rag/
or, when a server holds the store, over that server's HTTP API (cli.remote)."""
