"""Our retrieval where other frameworks expect it (optional: nothing in rag/ imports these)."""
