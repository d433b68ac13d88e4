"""SynthCoder corpus construction: tree-sitter FIM spans, FIM layouts, BM25 and call-graph cross-file context,
anti-repetition and deduplication. Depends on ``types``/``errors``/``jsonl`` and the FIM formats of
``generate.prompts`` only — never on ``sandbox`` or ``domains``."""
